"""Does anything need a person? hsnap's health per project, from runs, events and alert firings.

Pure: the Prefect reads live in ``health_source.py``. An alert firing (Prefect's
``prefect.automation.triggered`` event of an hsnap automation) stays open until what it reported
is over: a later Completed run of the same job, a newer snapshot of the stale server, the server
running again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hsnap.deployment.windows import AlertWindows

NIGHTLY_DEPLOYMENTS = ("nightly", "fleet-member")
SNAPSHOT_FLOW = "snapshot-servers"
DRILL_FLOW = "verify-snapshots"
SUCCEEDED = "hsnap.snapshot.succeeded"
FAILED = "hsnap.snapshot.failed"
LEFT_OFF = "hsnap.server.left-off"
DRILL_FAILED = "hsnap.drill.failed"


@dataclass(frozen=True)
class RunRecord:
    """One hsnap flow run, as health needs it."""

    id: str
    name: str
    flow: str
    deployment: str | None
    project: str
    state: str
    when: datetime  # its end, else its start, else when it was expected
    message: str | None = None


@dataclass(frozen=True)
class ServerEvent:
    """One hsnap event about a server."""

    event: str
    server: str
    project: str
    occurred: datetime
    run_id: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Firing:
    """One firing of an hsnap alert automation."""

    alert: str  # failed-run, crashed-run, missed-run, stale-server, drill-failed, left-off
    occurred: datetime
    project: str | None = None  # known for server alerts; run alerts take their run's
    server: str | None = None
    run_id: str | None = None


@dataclass(frozen=True)
class OpenAlert:
    alert: str
    about: str
    since: datetime


@dataclass
class ProjectHealth:
    """What health says about one project."""

    project: str
    last_nightly: RunRecord | None = None
    last_completed: datetime | None = None
    overdue: bool = False
    stale: dict[str, datetime] = field(default_factory=dict)  # server -> last snapshot
    last_drill: RunRecord | None = None
    drill_failures: dict[str, str] = field(default_factory=dict)  # server -> error
    left_off: list[str] = field(default_factory=list)
    open_alerts: list[OpenAlert] = field(default_factory=list)

    @property
    def needs_person(self) -> bool:
        drill_failed = self.last_drill is not None and self.last_drill.state != "Completed"
        return bool(
            self.overdue
            or self.stale
            or drill_failed
            or self.drill_failures
            or self.left_off
            or self.open_alerts
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "needs_person": self.needs_person,
            "nightly": {
                "last_run": _run(self.last_nightly),
                "last_completed": _iso(self.last_completed),
                "overdue": self.overdue,
            },
            "stale_servers": [
                {"server": s, "last_snapshot": _iso(t)} for s, t in sorted(self.stale.items())
            ],
            "drill": {
                "last_run": _run(self.last_drill),
                "failed": [
                    {"server": s, "error": e} for s, e in sorted(self.drill_failures.items())
                ],
            },
            "left_off": sorted(self.left_off),
            "open_alerts": [
                {"alert": a.alert, "about": a.about, "since": _iso(a.since)}
                for a in self.open_alerts
            ],
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _run(run: RunRecord | None) -> dict[str, Any] | None:
    if run is None:
        return None
    data = asdict(run)
    data["when"] = _iso(run.when)
    return data


def assess(
    runs: Sequence[RunRecord],
    events: Sequence[ServerEvent],
    firings: Sequence[Firing],
    *,
    now: datetime,
    windows: AlertWindows,
    projects: Iterable[str] = (),
) -> list[ProjectHealth]:
    """Health of every project named in ``projects`` or seen in runs, events and firings."""
    names = {*projects, *(r.project for r in runs), *(e.project for e in events)}
    names |= {f.project for f in firings if f.project}
    report = {name: ProjectHealth(name) for name in sorted(names or {"default"})}
    by_time = sorted(runs, key=lambda r: r.when)
    for health in report.values():
        mine = [r for r in by_time if r.project == health.project]
        _nightly(health, mine, now, windows.missed_run)
        _drill(health, mine, events)
    last_success = _last(events, SUCCEEDED)
    for server, (project, at) in last_success.items():
        if now - at > windows.stale_server:
            report[project].stale[server] = at
    for project, server in _left_off(events):
        report[project].left_off.append(server)
    runs_by_id = {r.id: r for r in runs}
    for firing in firings:
        opened = _still_open(firing, runs_by_id, by_time, last_success, report)
        if opened is not None:
            project, about = opened
            report.setdefault(project, ProjectHealth(project)).open_alerts.append(
                OpenAlert(firing.alert, about, firing.occurred)
            )
    return list(report.values())


def _nightly(
    health: ProjectHealth, runs: list[RunRecord], now: datetime, window: timedelta
) -> None:
    nightly = [r for r in runs if r.flow == SNAPSHOT_FLOW and r.deployment in NIGHTLY_DEPLOYMENTS]
    if nightly:
        health.last_nightly = nightly[-1]
    completed = [r.when for r in nightly if r.state == "Completed"]
    health.last_completed = completed[-1] if completed else None
    health.overdue = health.last_completed is None or now - health.last_completed > window


def _drill(health: ProjectHealth, runs: list[RunRecord], events: Sequence[ServerEvent]) -> None:
    drills = [r for r in runs if r.flow == DRILL_FLOW and r.state != "Scheduled"]
    if not drills:
        return
    health.last_drill = drills[-1]
    for e in events:
        if e.event == DRILL_FAILED and e.run_id == health.last_drill.id:
            health.drill_failures[e.server] = e.error or "did not boot"


def _last(events: Sequence[ServerEvent], name: str) -> dict[str, tuple[str, datetime]]:
    """Per server: its project and when ``name`` last happened to it."""
    last: dict[str, tuple[str, datetime]] = {}
    for e in sorted(events, key=lambda e: e.occurred):
        if e.event == name:
            last[e.server] = (e.project, e.occurred)
    return last


def _left_off(events: Sequence[ServerEvent]) -> list[tuple[str, str]]:
    """(project, server) whose latest snapshot run left them powered off."""
    runs: dict[str, list[ServerEvent]] = defaultdict(list)
    for e in sorted(events, key=lambda e: e.occurred):
        if e.event in (SUCCEEDED, FAILED, LEFT_OFF):
            runs[e.server].append(e)
    found = []
    for server, seen in runs.items():
        latest_run = seen[-1].run_id
        if any(e.event == LEFT_OFF and e.run_id == latest_run for e in seen):
            found.append((seen[-1].project, server))
    return found


def _still_open(
    firing: Firing,
    runs_by_id: dict[str, RunRecord],
    runs: list[RunRecord],
    last_success: dict[str, tuple[str, datetime]],
    report: dict[str, ProjectHealth],
) -> tuple[str, str] | None:
    """(project, what it is about) while the firing's incident is not over, else None."""
    if firing.alert in ("failed-run", "crashed-run", "drill-failed"):
        run = runs_by_id.get(firing.run_id or "")
        if run is None:
            return None  # older than the look-back: its runs are out of sight too
        later = [
            r
            for r in runs
            if (r.flow, r.deployment, r.project) == (run.flow, run.deployment, run.project)
            and r.when > run.when
            and r.state == "Completed"
        ]
        label = f"{run.flow}/{run.deployment}" if run.deployment else run.flow
        return None if later else (run.project, f"{label} run {run.name} {run.state}")
    if firing.alert == "missed-run":
        health = report.get("default")
        last = health.last_completed if health else None
        return None if last and last > firing.occurred else ("default", "no Completed nightly run")
    server, project = firing.server or "?", firing.project or "default"
    if firing.alert == "stale-server":
        seen = last_success.get(server)
        return None if seen and seen[1] > firing.occurred else (project, f"server {server}")
    if firing.alert == "left-off":
        off = project in report and server in report[project].left_off
        return (project, f"server {server}") if off else None
    return (project, firing.alert)
