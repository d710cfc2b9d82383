"""The drill report as table rows, a one-line verdict and a markdown summary (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from hsnap.formats import FRACTIONS, age_since, amount, duration, money_header, names
from hsnap.restore.drill import DrillOutcome
from hsnap.tables import Column

COLUMNS = (
    "server",
    "image id",
    "image age",
    "server type",
    "time to running",
    "cost",
    "result",
    "why",
    "error",
)

#: why a server was not drilled, in words (by the outcome's error code)
SKIPPED = {
    "no_snapshot": "no hsnap snapshot yet",
    "deferred": "left for a later run",
}


def table_columns(currency: str | None) -> tuple[Column, ...]:
    """The drill report as the CLI shows it: the currency once, in the cost column's header."""
    return (
        Column("server", drop=0),
        Column("image id", short="image", drop=3, right=True),
        Column("image age", short="age", drop=3, right=True),
        Column("server type", short="type", drop=4),
        Column("time to running", short="boot", drop=1, right=True),
        Column("cost", header=money_header("cost", currency), drop=2, right=True),
        Column("result", drop=0),
        Column("why", drop=0),
        Column("error", below=True),
    )


def currency_of(outcomes: Sequence[DrillOutcome]) -> str:
    return next((o.currency for o in outcomes if o.currency), "")


def why(outcome: DrillOutcome) -> str:
    """Why a server was skipped, in a few words (empty for a drill that ran)."""
    if outcome.result != "skipped":
        return ""
    return SKIPPED.get(outcome.error_code or "", outcome.error or "not drilled this run")


def row(outcome: DrillOutcome, now: datetime) -> dict[str, str]:
    """One table row, every cell text (the Prefect table artifact and the CLI share it).

    The cost is a plain amount: the currency is in the header (:func:`table_columns`).
    """
    return {
        "server": outcome.server,
        "image id": "" if outcome.image_id is None else str(outcome.image_id),
        "image age": age_since(outcome.image_created, now),
        "server type": outcome.server_type or "",
        "time to running": (
            "" if outcome.time_to_running_s is None else duration(outcome.time_to_running_s)
        ),
        "cost": "" if outcome.cost is None else amount(outcome.cost, FRACTIONS),
        "result": outcome.result,
        "why": why(outcome),
        "error": "" if outcome.result == "skipped" else outcome.error or "",
    }


def artifact_rows(outcomes: Sequence[DrillOutcome], now: datetime) -> list[dict[str, str]]:
    """The rows for the Prefect table artifact: the cost column's header names the currency."""
    header = money_header("cost", currency_of(outcomes))
    return [{(header if k == "cost" else k): v for k, v in r.items()} for r in rows(outcomes, now)]


def rows(outcomes: Sequence[DrillOutcome], now: datetime) -> list[dict[str, str]]:
    return [row(o, now) for o in outcomes]


def failed(outcomes: Sequence[DrillOutcome]) -> list[DrillOutcome]:
    return [o for o in outcomes if o.result == "failed"]


def total_cost(outcomes: Sequence[DrillOutcome]) -> str:
    costs = [Decimal(o.cost) for o in outcomes if o.cost is not None]
    return f"{amount(sum(costs, Decimal(0)), FRACTIONS)} {currency_of(outcomes)}".rstrip()


def verdict(outcomes: Sequence[DrillOutcome]) -> str:
    proven = [o for o in outcomes if o.result == "proven"]
    bad = failed(outcomes)
    cost = total_cost(outcomes)
    if not proven and not bad:
        return "no snapshot was drilled"
    if not bad:
        return f"{len(proven)} snapshot(s) proven: each booted (cost {cost})"
    named = names(
        [f"{o.server} (image {o.image_id})" if o.image_id is not None else o.server for o in bad]
    )
    return f"{len(bad)} drill(s) failed, {len(proven)} proven (cost {cost}): {named}"


def _line(o: DrillOutcome, now: datetime) -> str:
    """One server's line of the summary, in words: nothing stands in for what is unknown."""
    head = f"- **{o.server}** {o.result}"
    if o.result == "skipped":
        detail = o.error or why(o)
        return f"{head}: {detail}"
    parts = []
    if o.image_id is not None:
        old = age_since(o.image_created, now)
        parts.append(f"image {o.image_id}" + (f" ({old} old)" if old else ""))
    if o.server_type:
        parts.append(f"on {o.server_type}")
    if o.time_to_running_s is not None:
        parts.append(f"running after {duration(o.time_to_running_s)}")
    if o.cost is not None:
        parts.append(f"cost {amount(o.cost, FRACTIONS)} {o.currency or ''}".rstrip())
    text = f"{head}: {', '.join(parts)}" if parts else head
    return f"{text} - {o.error}" if o.error else text


def markdown(outcomes: Sequence[DrillOutcome], now: datetime) -> str:
    """The summary artifact: the verdict, then every server's line (skipped ones say why)."""
    lines = [f"# Restore drill: {verdict(outcomes)}", ""]
    lines += [_line(o, now) for o in outcomes]
    return "\n".join(lines) + "\n"
