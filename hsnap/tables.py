"""Tables that read at 80 columns: terminals, pipes and cron mail alike.

Every listing command (run, demo, plan, prune, audit, snapshots, drill, recover, project list,
health, ...) prints its rows through :class:`FittedTable`, so they all follow the same rules:

- one line per row; a cell never wraps and a word is never split;
- when the table is too wide, in this order: free-text columns (``below=True``, e.g. ``error``)
  move below the table, one ``<first cell>: <text>`` line per row that has one (wrapped at
  spaces, indented, if longer than the screen); headers shorten to their ``short`` form;
  columns are dropped, the highest ``drop`` number first (``drop=0``: never dropped);
- if even the columns never dropped do not fit, cells are cut short with an ellipsis (the
  columns with the highest ``clip`` first);
- columns empty in every row are left out (unless ``drop=0``).

The full data stays available with ``--json``: a dropped column is a matter of screen room.

To add a table for a new command (``hsnap health``, say), describe its columns and hand over rows
of text cells::

    from hsnap.tables import Column, FittedTable

    COLUMNS = (
        Column("project", drop=0),
        Column("last nightly run", short="last run", drop=1),
        Column("overdue", drop=0),
        Column("stale servers", short="stale", drop=2),
        Column("problem", below=True),
    )
    out.print(FittedTable(rows, COLUMNS, title="hsnap health: 2 problems"))

Plain strings work as columns too: the first is never dropped, later ones go first, and
``error`` and ``detail`` move below. :func:`render_text` gives the lines without rich, for tests.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from io import StringIO

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

#: spaces between two columns
GAP = 2
#: what ends a cell clipped because even the columns that are never dropped do not fit
ELLIPSIS = "…"
#: column names that hold free text (moved below the table when they do not fit)
TEXT_COLUMNS = frozenset({"error", "detail"})

ROW_STYLES = {
    "waiting": "yellow",
    "creating": "cyan",
    "snapshotting": "blue",
    "succeeded": "green",
    "proven": "green",
    "ok": "green",
    "failed": "red",
    "BREACH": "red",
    "NEVER": "red",
    "retrying": "magenta",
    "left-off": "bold red",
    "stopping": "yellow",
    "planned": "dim",
    "skipped": "dim",
}


@dataclass(frozen=True)
class Column:
    """A column: which row key it shows, its header, and what gives way first when room is short.

    Args:
        key: the row dict's key.
        header: what the header says (default: ``key``).
        short: a shorter header, used when the table does not fit with the full ones.
        drop: 0 never dropped; otherwise the higher, the sooner it is dropped.
        below: free text that moves below the table when the table does not fit with it.
        right: right-aligned (numbers).
        clip: when even the columns never dropped do not fit, the highest ``clip`` is cut
            short first (with an ellipsis), down to its header's width; then the widest.
    """

    key: str
    header: str = ""
    short: str = ""
    drop: int = 1
    below: bool = False
    right: bool = False
    clip: int = 0

    @property
    def title(self) -> str:
        return self.header or self.key


def as_columns(columns: Sequence[Column | str]) -> tuple[Column, ...]:
    """Columns from names or :class:`Column` s; a name's place sets when it is dropped."""
    return tuple(
        c if isinstance(c, Column) else Column(c, drop=i, below=c in TEXT_COLUMNS and i > 0)
        for i, c in enumerate(columns)
    )


@dataclass(frozen=True)
class Layout:
    """What fits: the columns in the table, their headers and widths, and the text moved below."""

    shown: tuple[Column, ...]
    headers: tuple[str, ...]
    widths: tuple[int, ...]
    below: tuple[Column, ...]


def _width(column: Column, header: str, rows: Sequence[dict[str, str]]) -> int:
    return max([len(header), *(len(r.get(column.key, "")) for r in rows)])


def _total(widths: Sequence[int]) -> int:
    return sum(widths) + GAP * max(0, len(widths) - 1)


def plan_layout(rows: Sequence[dict[str, str]], columns: Sequence[Column], width: int) -> Layout:
    """The widest table of ``columns`` that fits ``width``, giving way as the module says."""
    shown = [c for c in columns if c.drop == 0 or any(r.get(c.key) for r in rows)]
    below: list[Column] = []
    short = False

    def headers() -> list[str]:
        return [(c.short or c.title) if short else c.title for c in shown]

    def fits() -> bool:
        return _total([_width(c, h, rows) for c, h in zip(shown, headers(), strict=True)]) <= width

    if not fits():
        below = [c for c in shown if c.below]
        shown = [c for c in shown if not c.below] or shown[:1]
    if not fits():
        short = True
    while not fits():
        droppable = [c for c in shown if c.drop > 0]
        if not droppable:
            break
        # the highest drop number goes first; among equals, the rightmost
        worst = max(reversed(droppable), key=lambda c: c.drop)
        shown.remove(worst)
    names = headers()
    widths = [_width(c, h, rows) for c, h in zip(shown, names, strict=True)]
    while _total(widths) > width and max(widths) > 1:  # never-dropped columns too wide: clip
        clippable = [i for i, h in enumerate(names) if shown[i].clip and widths[i] > len(h)]
        if clippable:
            at = max(clippable, key=lambda i: (shown[i].clip, widths[i]))
        else:
            at = widths.index(max(widths))
        widths[at] -= 1
    return Layout(tuple(shown), tuple(names), tuple(widths), tuple(below))


def _cell(text: str, width: int, right: bool) -> str:
    if len(text) > width:
        return text[: max(0, width - 1)] + ELLIPSIS
    return text.rjust(width) if right else text.ljust(width)


def _line(cells: Sequence[str], layout: Layout) -> str:
    columns = zip(cells, layout.widths, layout.shown, strict=True)
    parts = [_cell(text, width, column.right) for text, width, column in columns]
    return (" " * GAP).join(parts).rstrip()


def wrap(text: str, width: int, indent: str = "  ") -> list[str]:
    """``text`` in lines of at most ``width``, broken only at spaces (continuations indented)."""
    return textwrap.wrap(
        text,
        width=max(width, 1),
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [""]


class FittedTable:
    """Rows of text cells as a table that fits the console's width (see the module docstring).

    Args:
        rows: one dict of text cells per row, keyed by :attr:`Column.key`.
        columns: :class:`Column` s or plain names, in display order.
        title: a line above the table (wrapped at spaces if long).
        caption: a line below the table, e.g. totals.
        style_key: the column whose value picks the row's colour (see ``ROW_STYLES``).
    """

    def __init__(
        self,
        rows: Sequence[dict[str, str]],
        columns: Sequence[Column | str],
        *,
        title: str | None = None,
        caption: str | None = None,
        style_key: str = "status",
    ) -> None:
        self.rows = list(rows)
        self.columns = as_columns(columns)
        self.title = title
        self.caption = caption
        self.style_key = style_key

    def lines(self, width: int) -> Iterator[tuple[str, str]]:
        """``(text, style)`` of every line at ``width`` columns."""
        if self.title:
            for line in wrap(self.title, width):
                yield line, "bold"
        layout = plan_layout(self.rows, self.columns, width)
        yield _line(layout.headers, layout), "bold"
        for row in self.rows:
            style = ROW_STYLES.get(row.get(self.style_key, ""), "")
            yield _line([row.get(c.key, "") for c in layout.shown], layout), style
        if self.caption:
            for line in wrap(self.caption, width):
                yield line, "dim"
        first = self.columns[0].key
        for row in self.rows:
            for column in layout.below:
                if not row.get(column.key):
                    continue
                label = "" if len(layout.below) == 1 else f"{column.title}: "
                style = ROW_STYLES.get(row.get(self.style_key, ""), "")
                for line in wrap(f"{row.get(first, '')}: {label}{row[column.key]}", width):
                    yield line, style

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for text, style in self.lines(options.max_width):
            yield Text(text, style=style, no_wrap=True, overflow="ignore")


def render_text(table: FittedTable, width: int = 80) -> str:
    """The table as plain text at ``width`` columns (what a pipe or cron mail shows)."""
    buffer = StringIO()
    Console(width=width, file=buffer, color_system=None).print(table)
    return buffer.getvalue()
