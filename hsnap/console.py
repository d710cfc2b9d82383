"""Terminal rendering for the CLI: a live per-server progress table and the final report."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from types import TracebackType

from rich.console import Console
from rich.live import Live

from hsnap.events import ProgressEvent, subscribe
from hsnap.models import RunReport
from hsnap.snapshot import report as reporting
from hsnap.tables import Column, FittedTable

#: the live table: every column stays; a long detail is clipped, it changes every second anyway
LIVE_COLUMNS = (
    Column("server", drop=0),
    Column("state", drop=0),
    Column("%", drop=0, right=True),
    Column("detail", drop=0),
)


def _nothing() -> None:
    """No subscription yet."""


class LiveProgress:
    """Shows one line per server, updated from hsnap's progress events, while a run goes on."""

    def __init__(self, console: Console, enabled: bool = True) -> None:
        self.console = console
        self.enabled = enabled
        self._rows: dict[str, ProgressEvent] = {}
        self._lock = threading.RLock()  # events arrive from the task threads
        self._live: Live | None = None
        self._unsubscribe: Callable[[], None] = _nothing

    def _on_event(self, event: ProgressEvent) -> None:
        with self._lock:
            self._rows[event.server] = event
            if self.enabled and self._live is None:  # the first event: nothing to show before
                self._live = Live(self._table(), console=self.console, refresh_per_second=4)
                self._live.start()
                return
        if self._live is not None:
            self._live.update(self._table())

    def _table(self) -> FittedTable:
        with self._lock:
            rows = sorted(self._rows.values(), key=lambda e: e.server)
        done = sum(1 for e in rows if e.phase in ("succeeded", "failed"))
        table = [
            {
                "server": e.server,
                "state": e.phase,
                "%": "" if e.progress is None else str(e.progress),
                "detail": e.detail,
            }
            for e in rows
        ]
        return FittedTable(
            table,
            LIVE_COLUMNS,
            title="hsnap: snapshots in progress",
            caption=f"{done} of {len(rows)} seen done",
            style_key="state",
        )

    def __enter__(self) -> LiveProgress:
        self._unsubscribe = subscribe(self._on_event)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._unsubscribe()
        with self._lock:
            live, self._live = self._live, None
        if live is not None:
            live.update(self._table())
            live.stop()


def rows_table(
    rows: list[dict[str, str]],
    title: str = "report",
    columns: Sequence[Column | str] = reporting.TABLE_COLUMNS,
    caption: str | None = None,
) -> FittedTable:
    """A table of text rows (a report read back from Prefect, a prune plan)."""
    return FittedTable(rows, columns, title=title, caption=caption)


def report_table(result: RunReport) -> FittedTable:
    """The final report; columns empty in every row (e.g. consistent mode unused) are left out."""
    return rows_table(reporting.rows(result), title=f"hsnap: {reporting.verdict(result)}")
