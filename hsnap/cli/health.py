"""``hsnap health``: does anything need a person? A monitoring probe over the Prefect server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from hsnap.cli.common import AsJson, app, fail, out
from hsnap.errors import ConfigError, HsnapError
from hsnap.formats import age_since, clip
from hsnap.observe.health import ProjectHealth, RunRecord

WIDTH = 80
LABEL = 11  # "  left off " and the like


@app.command(rich_help_panel="Prefect deployments")
def health(
    project: Annotated[
        str | None, typer.Option(help="Only this project (a HetznerProject block, or default).")
    ] = None,
    days: Annotated[float, typer.Option(help="How far back to look, in days.")] = 8.0,
    as_json: AsJson = False,
) -> None:
    """Say, per project, whether anything needs a person; exit 1 if so, 0 if not.

    Per project: the last nightly run and whether it is overdue, stale servers, the last
    restore drill and what failed, servers left powered off, and open alerts. It reads the
    Prefect server only (runs, hsnap's events, alert firings), so it works without any
    notification block. Exit 2 on bad input or when the Prefect server cannot be reached.
    Windows: HSNAP_MISSED_RUN_HOURS and HSNAP_RPO_HOURS (26 hours each).
    """
    from hsnap.deployment.setup import prefect_api_url  # noqa: PLC0415 -- imports Prefect
    from hsnap.deployment.windows import windows_from_env  # noqa: PLC0415
    from hsnap.observe.health import assess  # noqa: PLC0415
    from hsnap.observe.health_source import read_all  # noqa: PLC0415

    try:
        if not 0 < days <= 90:
            raise ConfigError(f"--days {days:g}: use a number of days between 0 and 90")
        windows = windows_from_env()
        prefect_api_url()
        now = datetime.now(UTC)
        runs, events, firings = read_all(now - timedelta(days=days), now)
        report = assess(runs, events, firings, now=now, windows=windows, projects=_known())
    except HsnapError as exc:
        fail(exc)
    if project is not None:
        report = [p for p in report if p.project == project]
        if not report:
            fail(ConfigError(f"--project {project!r}: nothing known about it in {days:g} days"))
    needs = any(p.needs_person for p in report)
    if as_json:
        data = {"needs_person": needs, "projects": [p.to_dict() for p in report]}
        typer.echo(json.dumps(data, indent=2))
    else:
        for p in report:
            for line in render(p, now):
                out.print(line, highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(1 if needs else 0)


def _known() -> list[str]:
    from hsnap.projects.registry import project_names  # noqa: PLC0415

    return project_names()


def age(then: datetime, now: datetime) -> str:
    """``45m``, ``3h``, ``2d``: the ages every command writes (:mod:`hsnap.formats`)."""
    return age_since(then, now)


def _names(items: list[str], room: int) -> str:
    """As many of ``items`` as fit in ``room`` columns, then ``and N more``."""
    shown: list[str] = []
    for i, item in enumerate(items):
        rest = len(items) - i - 1
        tail = f", and {rest} more" if rest else ""
        if len(", ".join([*shown, item]) + tail) > room and shown:
            return ", ".join(shown) + f", and {len(items) - i} more"
        shown.append(item)
    return ", ".join(shown)


def _run(run: RunRecord, now: datetime) -> str:
    return f"{run.name} {run.state} {age(run.when, now)} ago"


def render(p: ProjectHealth, now: datetime) -> list[str]:
    """A few lines per project, each within 80 columns."""
    room = WIDTH - LABEL
    lines = [f"project {p.project}: {'NEEDS A PERSON' if p.needs_person else 'fine'}"]

    def add(label: str, text: str) -> None:
        lines.append(f"  {label:<{LABEL - 2}}{clip(text, room)}")

    if p.last_nightly is None:
        add("nightly", "no nightly run yet" + (": overdue" if p.overdue else ""))
    else:
        done = p.last_completed
        tail = f"; last Completed {age(done, now)} ago" if done else "; none Completed"
        add("nightly", f"{_run(p.last_nightly, now)}{tail}{': overdue' if p.overdue else ''}")
    if p.stale:
        stale = [f"{s} ({age(t, now)})" for s, t in sorted(p.stale.items())]
        add("stale", _names(stale, room))
    if p.last_drill is not None:
        add("drill", _run(p.last_drill, now))
        if p.drill_failures:
            add("", "did not boot: " + _names(sorted(p.drill_failures), room - 14))
    if p.left_off:
        add("left off", _names(sorted(p.left_off), room))
    for alert in p.open_alerts[:5]:
        add("alert", f"{alert.alert}: {alert.about} ({age(alert.since, now)} ago)")
    if len(p.open_alerts) > 5:
        add("alert", f"and {len(p.open_alerts) - 5} more open alerts")
    return lines
