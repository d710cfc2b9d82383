"""Terminal rendering for the CLI: a live per-server progress table and the final report."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.table import Table

from hsnap.events import ProgressEvent, subscribe
from hsnap.models import RunReport
from hsnap.snapshot import report as reporting

_STYLE = {
    "waiting": "yellow",
    "creating": "cyan",
    "snapshotting": "blue",
    "succeeded": "green",
    "failed": "red",
    "retrying": "magenta",
    "left-off": "bold red",
    "stopping": "yellow",
    "planned": "dim",
}


def _nothing() -> None:
    """No subscription yet."""


class LiveProgress:
    """Shows one line per server, updated from hsnap's progress events, while a run goes on."""

    def __init__(self, console: Console, enabled: bool = True) -> None:
        self.console = console
        self.enabled = enabled
        self._rows: dict[str, ProgressEvent] = {}
        self._lock = threading.Lock()
        self._live: Live | None = None
        self._unsubscribe: Callable[[], None] = _nothing

    def _on_event(self, event: ProgressEvent) -> None:
        with self._lock:
            self._rows[event.server] = event
        if self._live is not None:
            self._live.update(self._table())

    def _table(self) -> Table:
        table = Table(title="hsnap: snapshots in progress", expand=False)
        table.add_column("server")
        table.add_column("state")
        table.add_column("%", justify="right")
        table.add_column("detail", overflow="fold")
        with self._lock:
            rows = sorted(self._rows.values(), key=lambda e: e.server)
        done = sum(1 for e in rows if e.phase in ("succeeded", "failed"))
        table.caption = f"{done} of {len(rows)} seen done"
        for event in rows:
            style = _STYLE.get(event.phase, "")
            progress = "" if event.progress is None else str(event.progress)
            table.add_row(event.server, f"[{style}]{event.phase}[/]", progress, event.detail)
        return table

    def __enter__(self) -> LiveProgress:
        if self.enabled:
            self._live = Live(self._table(), console=self.console, refresh_per_second=4)
            self._live.__enter__()
        self._unsubscribe = subscribe(self._on_event)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._unsubscribe()
        if self._live is not None:
            self._live.__exit__(exc_type, exc, tb)
            self._live = None


def rows_table(
    rows: list[dict[str, str]],
    title: str = "report",
    columns: tuple[str, ...] = reporting.COLUMNS,
) -> Table:
    """A table of text rows (a report read back from Prefect, a prune plan)."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            *(row.get(c, "") for c in columns),
            style=_STYLE.get(row.get("status", ""), ""),
        )
    return table


def report_table(result: RunReport) -> Table:
    """The final report; columns empty in every row (e.g. consistent mode unused) are left out."""
    table = Table(title=f"hsnap: {reporting.verdict(result)}")
    rows = reporting.rows(result)
    columns = [c for c in reporting.COLUMNS if c in ("server", "status") or any(r[c] for r in rows)]
    for column in columns:
        table.add_column(column, overflow="fold")
    for outcome, row in zip(result.outcomes, rows, strict=True):
        table.add_row(*(row[c] for c in columns), style=_STYLE.get(outcome.status, ""))
    return table
