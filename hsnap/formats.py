"""How hsnap writes ages, money and lists of names, the same in every table, line and artifact.

Pure text: no rich, no Prefect. Tables put the currency once, in the header
(:func:`money_header`), and plain fixed-format amounts in the cells (:func:`amount`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

#: places after the point for monthly costs (cents) and for drills (which cost fractions of one)
CENTS = 2
FRACTIONS = 4


def age(seconds: float | None) -> str:
    """A duration in the past as people say it: ``45m``, ``3h``, ``2d`` (``""`` when unknown).

    Minutes under an hour, hours under two days, days beyond.
    """
    if seconds is None:
        return ""
    seconds = max(0.0, seconds)
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    if seconds < 48 * 3600:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds // 86400)}d"


def age_hours(hours: float | None) -> str:
    """:func:`age` of a number of hours."""
    return "" if hours is None else age(hours * 3600)


def age_since(moment: datetime | str | None, now: datetime) -> str:
    """How long ago ``moment`` (a datetime or an ISO 8601 text) was, as :func:`age` says it."""
    if moment is None or moment == "":
        return ""
    when = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return age((now - when).total_seconds())


def amount(value: Decimal | str | float, places: int = CENTS) -> str:
    """Money for a table cell, without currency, always with ``places`` decimals: ``12.30``."""
    quantum = Decimal(1).scaleb(-places)
    return str(Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_UP))


def money_header(label: str, currency: str | None) -> str:
    """A money column's header, naming the currency once: ``EUR/month``, ``cost EUR``.

    ``label`` holds ``{currency}`` where it goes (``"{currency}/month"``), or it is appended.
    Without a currency (nothing was priced) the header says ``cost``.
    """
    if "{currency}" in label:
        return label.replace("{currency}", currency or "cost")
    return f"{label} {currency}" if currency else label


def duration(seconds: float) -> str:
    """How long something took: ``45s``, ``3m05s``."""
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{rest}s"


def names(items: Sequence[str], limit: int = 5) -> str:
    """``a, b, c`` or, beyond ``limit``, ``a, b, c, d, e and 195 more``: fits a title line."""
    if len(items) <= limit:
        return ", ".join(items)
    return f"{', '.join(items[:limit])} and {len(items) - limit} more"


def clip(text: str, width: int) -> str:
    """``text`` within ``width`` columns, cut at a space with ``…`` if longer: never mid-word
    (unless its first word alone is too long)."""
    if len(text) <= width:
        return text
    cut = text[: max(0, width - 1)]
    space = cut.rfind(" ")
    if space > 0:
        cut = cut[:space].rstrip(" ,;:")
    return cut + "…"
