"""hsnap health's judgement: what needs a person, per project, from runs, events and firings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hsnap.cli.health import age, render
from hsnap.deployment.windows import AlertWindows
from hsnap.observe.health import Firing, ProjectHealth, RunRecord, ServerEvent, assess

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
WINDOWS = AlertWindows(missed_run=timedelta(hours=26), stale_server=timedelta(hours=26))


def ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


def run(
    name: str,
    hours: float,
    state: str = "Completed",
    *,
    flow: str = "snapshot-servers",
    deployment: str | None = "nightly",
    project: str = "default",
) -> RunRecord:
    return RunRecord(name, name, flow, deployment, project, state, ago(hours))


def event(
    name: str, server: str, hours: float, run_id: str, project: str = "default"
) -> ServerEvent:
    return ServerEvent(f"hsnap.{name}", server, project, ago(hours), run_id, error="boom")


def health(
    runs: list[RunRecord],
    events: list[ServerEvent] | None = None,
    firings: list[Firing] | None = None,
    projects: tuple[str, ...] = (),
) -> dict[str, ProjectHealth]:
    found = assess(runs, events or [], firings or [], now=NOW, windows=WINDOWS, projects=projects)
    return {p.project: p for p in found}


def test_a_project_whose_night_completed_and_whose_servers_are_fresh_needs_nobody() -> None:
    report = health([run("n1", 5)], [event("snapshot.succeeded", "web-1", 5, "n1")])

    assert not report["default"].needs_person
    assert report["default"].last_nightly == run("n1", 5)


def test_no_completed_nightly_run_within_the_window_is_overdue() -> None:
    report = health([run("n1", 40), run("n2", 16, "Failed")])

    p = report["default"]
    assert p.overdue
    assert p.needs_person
    assert p.last_nightly is not None
    assert p.last_nightly.name == "n2"
    assert p.last_completed == ago(40)


def test_on_demand_runs_do_not_count_as_the_nightly_one() -> None:
    report = health([run("n1", 40), run("od", 1, deployment="on-demand")])

    assert report["default"].overdue


def test_a_project_never_run_at_all_is_overdue() -> None:
    assert health([], projects=("shop",))["shop"].overdue


def test_fleet_members_report_under_their_own_project() -> None:
    runs = [
        run("n1", 2),
        run("m1", 2, deployment="fleet-member", project="shop"),
        run("m2", 30, deployment="fleet-member", project="blog"),
    ]

    report = health(runs)

    assert not report["default"].overdue
    assert not report["shop"].overdue
    assert report["blog"].overdue


def test_a_server_whose_last_snapshot_is_older_than_the_rpo_is_stale() -> None:
    events = [
        event("snapshot.succeeded", "web-1", 30, "n0"),
        event("snapshot.succeeded", "web-2", 30, "n0"),
        event("snapshot.succeeded", "web-2", 3, "n1"),
    ]

    report = health([run("n1", 3)], events)

    assert report["default"].stale == {"web-1": ago(30)}


def test_the_last_drill_names_what_did_not_boot_and_a_later_good_drill_clears_it() -> None:
    bad = run("d1", 10, "Failed", flow="verify-snapshots", deployment="weekly-drill")
    good = run("d2", 2, flow="verify-snapshots", deployment="weekly-drill")
    events = [event("drill.failed", "web-1", 10, "d1"), event("drill.succeeded", "web-2", 10, "d1")]

    failing = health([run("n", 1), bad], events)["default"]
    fixed = health([run("n", 1), bad, good], events)["default"]

    assert failing.drill_failures == {"web-1": "boom"}
    assert failing.needs_person
    assert fixed.last_drill == good
    assert not fixed.drill_failures
    assert not fixed.needs_person


def test_a_server_is_left_off_until_a_later_run_snapshots_it_without_leaving_it_off() -> None:
    left = [
        event("snapshot.succeeded", "db-1", 5, "n1"),
        event("server.left-off", "db-1", 5, "n1"),
        event("snapshot.succeeded", "web-1", 5, "n1"),
    ]
    later = [*left, event("snapshot.succeeded", "db-1", 1, "n2")]

    assert health([run("n1", 5)], left)["default"].left_off == ["db-1"]
    assert health([run("n1", 5), run("n2", 1)], later)["default"].left_off == []


def test_a_failed_run_alert_stays_open_until_a_later_run_of_that_job_completes() -> None:
    failed = run("n1", 5, "Failed", deployment="on-demand")
    firing = Firing("failed-run", ago(5), run_id="n1")
    other_job = run("n2", 1, deployment="nightly")

    still = health([failed, other_job], firings=[firing])["default"]
    over = health([failed, other_job, run("n3", 1, deployment="on-demand")], firings=[firing])

    assert [a.about for a in still.open_alerts] == ["snapshot-servers/on-demand run n1 Failed"]
    assert still.needs_person
    assert over["default"].open_alerts == []


def test_a_stale_alert_closes_with_a_newer_snapshot_and_a_missed_night_with_a_completed_one() -> (
    None
):
    firings = [
        Firing("stale-server", ago(4), project="shop", server="web-1"),
        Firing("missed-run", ago(4)),
    ]
    fixed = [
        event("snapshot.succeeded", "web-1", 1, "m1", project="shop"),
    ]

    before = health([run("n0", 30)], firings=firings)
    after = health([run("n0", 30), run("n1", 1)], fixed, firings=firings)

    assert {a.alert for p in before.values() for a in p.open_alerts} == {
        "stale-server",
        "missed-run",
    }
    assert [a for p in after.values() for a in p.open_alerts] == []


def test_ages_read_as_minutes_hours_days() -> None:
    assert [age(ago(h), NOW) for h in (0.5, 3, 47, 50)] == ["30m", "3h", "47h", "2d"]


def test_two_hundred_stale_servers_fit_one_line_of_80_columns() -> None:
    events = [event("snapshot.succeeded", f"server-{i:03}", 30, "n0") for i in range(200)]
    events += [event("server.left-off", f"server-{i:03}", 30, "n0") for i in range(200)]
    firings = [Firing("left-off", ago(30), "default", f"server-{i:03}") for i in range(200)]

    p = health([run("n0", 30)], events, firings)["default"]
    lines = render(p, NOW)

    assert all(len(line) <= 80 for line in lines)
    assert len(lines) <= 12
    assert "and " in lines[2]
    assert "more" in lines[2]
