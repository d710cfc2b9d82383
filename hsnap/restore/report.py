"""The drill report as table rows, a one-line verdict and a markdown summary (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from hsnap.restore.drill import DrillOutcome

COLUMNS = (
    "server",
    "image id",
    "image age",
    "server type",
    "time to running",
    "cost",
    "result",
    "error",
)


def _age(created: str | None, now: datetime) -> str:
    if not created:
        return ""
    hours = max(0.0, (now - datetime.fromisoformat(created)).total_seconds() / 3600)
    return f"{hours / 24:.1f}d" if hours >= 48 else f"{hours:.1f}h"


def _seconds(value: float | None) -> str:
    if value is None:
        return ""
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


def row(outcome: DrillOutcome, now: datetime) -> dict[str, str]:
    """One table row, every cell text (the Prefect table artifact and the CLI share it)."""
    cost = f"{outcome.cost} {outcome.currency}" if outcome.cost is not None else ""
    return {
        "server": outcome.server,
        "image id": "" if outcome.image_id is None else str(outcome.image_id),
        "image age": _age(outcome.image_created, now),
        "server type": outcome.server_type or "",
        "time to running": _seconds(outcome.time_to_running_s),
        "cost": cost,
        "result": outcome.result,
        "error": outcome.error or "",
    }


def rows(outcomes: Sequence[DrillOutcome], now: datetime) -> list[dict[str, str]]:
    return [row(o, now) for o in outcomes]


def failed(outcomes: Sequence[DrillOutcome]) -> list[DrillOutcome]:
    return [o for o in outcomes if o.result == "failed"]


def total_cost(outcomes: Sequence[DrillOutcome]) -> str:
    costs = [Decimal(o.cost) for o in outcomes if o.cost is not None]
    currency = next((o.currency for o in outcomes if o.currency), "")
    return f"{sum(costs, Decimal(0)):.4f} {currency}".rstrip()


def verdict(outcomes: Sequence[DrillOutcome]) -> str:
    proven = [o for o in outcomes if o.result == "proven"]
    bad = failed(outcomes)
    cost = total_cost(outcomes)
    if not proven and not bad:
        return "no snapshot was drilled"
    if not bad:
        return f"{len(proven)} snapshot(s) proven: each booted (cost {cost})"
    names = ", ".join(
        f"{o.server} (image {o.image_id})" if o.image_id is not None else o.server for o in bad
    )
    return f"{len(bad)} drill(s) failed, {len(proven)} proven (cost {cost}): {names}"


def markdown(outcomes: Sequence[DrillOutcome], now: datetime) -> str:
    """The summary artifact: the verdict, then every drilled server's line."""
    lines = [f"# Restore drill: {verdict(outcomes)}", ""]
    for r in rows(outcomes, now):
        detail = f" - {r['error']}" if r["error"] else ""
        timing = f", running after {r['time to running']}" if r["time to running"] else ""
        lines.append(
            f"- **{r['server']}** {r['result']}: image {r['image id'] or '-'} "
            f"({r['image age'] or '?'} old) on {r['server type'] or '-'}{timing}"
            f"{', cost ' + r['cost'] if r['cost'] else ''}{detail}"
        )
    return "\n".join(lines) + "\n"
