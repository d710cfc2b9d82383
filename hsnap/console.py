"""Terminal rendering for the CLI: a live per-server progress table and the final report."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType

from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.table import Table
from rich.text import Text

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
            ("server", "state", "%", "detail"),
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


#: columns of free text: when the table cannot fit with them, they move below it
TEXT_COLUMNS = frozenset({"error", "detail", "reason", "result"})


class FittedTable:
    """Rows as a table that reads at any width (80-column terminals, pipes, cron mail).

    No word is ever split: every column is at least as wide as its longest word and cells wrap
    only at spaces. When the table cannot fit so, the text columns move below it, one line per
    row; when even that cannot fit, each row is listed as ``column: value`` lines.
    """

    def __init__(
        self,
        rows: list[dict[str, str]],
        columns: tuple[str, ...],
        *,
        title: str | None = None,
        caption: str | None = None,
        style_key: str = "status",
    ) -> None:
        self.rows = rows
        self.columns = columns
        self.title = title
        self.caption = caption
        self.style_key = style_key

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        widths = self._widths(self.columns, width)
        if widths is not None:
            yield self._table(self.columns, widths)
            return
        narrow = tuple(c for c in self.columns if c not in TEXT_COLUMNS)
        widths = self._widths(narrow, width) if narrow != self.columns else None
        if widths is not None:
            yield self._table(narrow, widths)
            for row in self.rows:
                for column in self.columns:
                    if column in TEXT_COLUMNS and row.get(column):
                        yield Text(f"{row[self.columns[0]]}: {column}: {row[column]}")
            return
        yield from self._stacked()

    def _style(self, row: dict[str, str]) -> str:
        return _STYLE.get(row.get(self.style_key, ""), "")

    def _table(self, columns: tuple[str, ...], widths: list[int]) -> Table:
        table = Table(title=self.title, caption=self.caption, box=None, pad_edge=False)
        for column, width in zip(columns, widths, strict=True):
            table.add_column(column, width=width, overflow="fold")
        for row in self.rows:
            table.add_row(*(row.get(c, "") for c in columns), style=self._style(row))
        return table

    def _widths(self, columns: tuple[str, ...], width: int) -> list[int] | None:
        """Column widths that fit ``width`` with no word split; None when there are none.

        Each column starts at its longest line; the widest column that can still shrink (is
        wider than its longest word) gives up a character until the table fits.
        """
        cells = [[c, *(row.get(c, "") for row in self.rows)] for c in columns]
        least = [max(_longest_word(v) for v in c) for c in cells]
        widths = [max(len(v) for v in c) for c in cells]
        room = width - _GAP * (len(columns) - 1)
        if sum(least) > room:
            return None
        while sum(widths) > room:
            shrinkable = [i for i, w in enumerate(widths) if w > least[i]]
            widest = max(shrinkable, key=lambda i: widths[i])
            widths[widest] -= 1
        return widths

    def _stacked(self) -> RenderResult:
        if self.title:
            yield Text(self.title, style="bold")
        for row in self.rows:
            filled = [c for c in self.columns if row.get(c)]
            if not filled:
                continue
            first, *rest = filled
            yield Text(row[first], style=f"bold {self._style(row)}".strip())
            for column in rest:
                yield Text(f"  {column}: {row[column]}")
        if self.caption:
            yield Text(self.caption, style="dim")


#: characters between two columns (a table without box, padding 1 on each side between cells)
_GAP = 2


def _longest_word(text: str) -> int:
    return max((len(word) for word in text.split()), default=0)


def rows_table(
    rows: list[dict[str, str]],
    title: str = "report",
    columns: tuple[str, ...] = reporting.COLUMNS,
) -> FittedTable:
    """A table of text rows (a report read back from Prefect, a prune plan)."""
    return FittedTable(rows, reporting.shown_columns(rows, columns), title=title)


def report_table(result: RunReport) -> FittedTable:
    """The final report; columns empty in every row (e.g. consistent mode unused) are left out."""
    return rows_table(reporting.rows(result), title=f"hsnap: {reporting.verdict(result)}")
