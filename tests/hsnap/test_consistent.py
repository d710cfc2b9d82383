"""Consistent snapshots against the simulator: shut down, snapshot, and always power back on.

Both sides run at a high time scale; nothing sleeps to synchronise. Where the world must change at
an exact step of a run, it changes from an hsnap progress event (which fires in hsnap's own thread)
or from the simulator's own schedule. Every assertion about power and marks reads the simulator's
ground truth, and ``no_server_left_off`` (autouse, also used by the flow tests) checks at teardown
that no server that was running when its simulator started is left off or marked.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from hcloud_sim import SimulatorServer
from hsnap.cloud.client import READ_ATTEMPTS
from hsnap.cloud.waiting import ServerRun
from hsnap.events import ProgressEvent
from hsnap.models import RunReport, ServerRef, SnapshotOutcome
from hsnap.policy import RESTART_LABEL, ownership_labels
from hsnap.snapshot import report as reporting
from hsnap.snapshot.recovery import recover
from hsnap.snapshot.take import SnapshotError, SnapshotPlan, take_snapshot
from tests.conftest import SimFactory
from tests.hsnap.test_snapshot import image_of
from tests.hsnap.world import APP_1, RUN, add_fault, connect, created, on_event, world

SCALE = 600.0  # simulated seconds per real second, on both sides
SHUTDOWN = "/servers/*/actions/shutdown"
POWERON = "/servers/*/actions/poweron"

# -- the invariant every test here must keep ------------------------------------------------------


@pytest.fixture(autouse=True)
def no_server_left_off(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """At teardown, every server that was running when its simulator started runs, unmarked.

    Records each simulator the test starts (``make_sim``, ``hsnap_env`` or by hand) with the ids of
    its running servers. A server still ``starting`` gets a few simulated minutes to get there.
    """
    started: list[tuple[SimulatorServer, set[int]]] = []
    original = SimulatorServer.start

    def start(self: SimulatorServer) -> SimulatorServer:
        if all(sim is not self for sim, _ in started):
            running = {s["id"] for s in self.state.ground_truth()["servers"] if is_running(s)}
            started.append((self, running))
        return original(self)

    monkeypatch.setattr(SimulatorServer, "start", start)
    yield
    problems: list[str] = []
    for sim, running in started:
        servers = {s["id"]: s for s in sim.state.ground_truth()["servers"]}
        if any(servers[i]["status"] != "running" for i in running if i in servers):
            sim.state.clock.advance(300)  # a power-on still under way
            servers = {s["id"]: s for s in sim.state.ground_truth()["servers"]}
        problems += [
            f"{s['name']} (id {i}) is {s['status']}, labels {s['labels']}"
            for i in sorted(running)
            if (s := servers.get(i)) is not None
            and (s["status"] != "running" or RESTART_LABEL in s["labels"])
        ]
    assert not problems, "servers that were running are left off or marked:\n" + "\n".join(problems)


def is_running(server: dict[str, Any]) -> bool:
    return bool(server["status"] == "running")


# -- helpers -------------------------------------------------------------------------------------


def consistent_plan(
    *,
    server_id: int = APP_1,
    name: str = "app-1",
    status: str = "running",
    **options: Any,
) -> SnapshotPlan:
    """A consistent-mode plan; ``options`` override SnapshotPlan's fields."""
    fields: dict[str, Any] = {
        "lock_timeout_s": 1800.0,
        "snapshot_timeout_s": 7200.0,
        "consistent": True,
        **options,
    }
    return SnapshotPlan(
        server=ServerRef(id=server_id, name=name, status=status),
        description=f"{name}-consistent",
        labels=ownership_labels(server_id, RUN),
        run_id=RUN,
        **fields,
    )


def server_truth(sim: SimulatorServer, server_id: int = APP_1) -> dict[str, Any]:
    [server] = [s for s in sim.state.ground_truth()["servers"] if s["id"] == server_id]
    return dict(server)


def assert_running_unmarked(sim: SimulatorServer, server_id: int = APP_1) -> dict[str, Any]:
    server = server_truth(sim, server_id)
    assert server["status"] == "running", server
    assert RESTART_LABEL not in server["labels"], server["labels"]
    return server


def assert_off_and_marked(sim: SimulatorServer, server_id: int = APP_1) -> None:
    server = server_truth(sim, server_id)
    assert server["status"] == "off", server
    assert server["labels"].get(RESTART_LABEL) == RUN, server["labels"]


def posts(sim: SimulatorServer, verb: str, status: int | None = 201) -> int:
    """POST /servers/{id}/actions/<verb> requests answered with ``status`` (201: carried out)."""
    return sum(
        row["count"]
        for row in sim.state.request_counts()
        if row["method"] == "POST"
        and row["endpoint"].endswith(f"/actions/{verb}")
        and (status is None or row["status"] == status)
    )


def label_writes(sim: SimulatorServer) -> int:
    return sum(
        row["count"]
        for row in sim.state.request_counts()
        if row["method"] == "PUT" and row["endpoint"].startswith("/servers/")
    )


def running_action(sim: SimulatorServer, command: str) -> int:
    [action] = [
        a
        for a in sim.state.ground_truth()["actions"]
        if a["command"] == command and a["status"] == "running"
    ]
    return int(action["id"])


def actions_of(sim: SimulatorServer, command: str) -> list[dict[str, Any]]:
    return [a for a in sim.state.ground_truth()["actions"] if a["command"] == command]


def is_off(event: ProgressEvent) -> bool:
    return event.phase == "stopping" and event.detail == "server is off"


def snapshot_started(event: ProgressEvent) -> bool:
    return event.phase == "snapshotting" and event.progress == 0


def fails(sim: SimulatorServer, plan: SnapshotPlan, **kwargs: Any) -> SnapshotError:
    with pytest.raises(SnapshotError) as info:
        take_snapshot(connect(sim), plan, **kwargs)
    return info.value


def one(**server: Any) -> dict[str, Any]:
    """A world of one server ``app-1`` (snapshot: one simulated minute)."""
    return world({"name": "app-1", **server})


# -- 1. the happy path ---------------------------------------------------------------------------


def test_running_server_is_marked_shut_down_snapshotted_and_powered_on(
    make_sim: SimFactory,
) -> None:
    sim = make_sim(one(labels={"env": "prod"}), time_scale=SCALE)
    seen_off: list[dict[str, Any]] = []
    seen_creating: list[dict[str, Any]] = []

    def at_off(_: ProgressEvent) -> None:
        seen_off.append(server_truth(sim))

    def at_create(_: ProgressEvent) -> None:
        seen_creating.append(server_truth(sim))

    with (
        on_event(is_off, at_off),
        on_event(snapshot_started, at_create),
    ):
        outcome = take_snapshot(connect(sim), consistent_plan())

    # when hsnap saw it off, the simulator had it off and marked with this run
    [off] = seen_off
    assert off["status"] == "off"
    assert off["labels"] == {"env": "prod", RESTART_LABEL: RUN}
    # the snapshot was taken while the server was off
    [creating] = seen_creating
    assert creating["status"] == "off"

    assert outcome.status == "succeeded", outcome
    assert (outcome.shut_down, outcome.running_again) == (True, True)
    assert outcome.off_s > 50  # off for at least the one-minute snapshot
    [image_id] = created(sim)
    assert outcome.image_id == image_id
    assert image_of(sim, image_id)["status"] == "available"
    server = assert_running_unmarked(sim)
    assert server["labels"] == {"env": "prod"}  # the mark is gone, nothing else changed
    assert (posts(sim, "shutdown"), posts(sim, "poweroff"), posts(sim, "poweron")) == (1, 0, 1)
    # the image was made between the shutdown and the power on
    [shutdown] = actions_of(sim, "shutdown_server")
    [snapshot] = actions_of(sim, "create_image")
    [poweron] = actions_of(sim, "start_server")
    assert shutdown["finished"] <= snapshot["started"]
    assert snapshot["finished"] <= poweron["started"]


# -- 2. a guest that ignores ACPI ----------------------------------------------------------------


def test_guest_ignoring_acpi_without_force_fails_and_keeps_running(make_sim: SimFactory) -> None:
    sim = make_sim(one(acpi="ignore"), time_scale=SCALE)
    error = fails(sim, consistent_plan(shutdown_timeout_s=120.0))

    outcome = error.outcome
    assert (outcome.status, outcome.error_code) == ("failed", "shutdown_timeout")
    assert not error.transient
    assert "force_poweroff" in (outcome.error or "")
    assert "no snapshot was made" in (outcome.error or "")
    assert outcome.image_id is None
    assert created(sim) == []
    truth = server_truth(sim)
    assert truth["status"] == "running"
    # the guest got an ACPI shutdown it may still act on: the mark stays for the next run
    assert truth["labels"][RESTART_LABEL] == RUN
    assert posts(sim, "poweroff") == 0
    assert posts(sim, "poweron") == 0  # it never went off: nothing to power on
    assert outcome.running_again is True
    [recovered] = recover_marked(sim)  # what the next run does first
    assert (recovered.server, recovered.result) == ("app-1", "unmarked")
    assert_running_unmarked(sim)


def test_guest_ignoring_acpi_with_force_is_powered_off_and_back_on(make_sim: SimFactory) -> None:
    sim = make_sim(one(acpi="ignore"), time_scale=SCALE)
    seen_off: list[dict[str, Any]] = []
    with on_event(is_off, lambda _: seen_off.append(server_truth(sim))):
        outcome = take_snapshot(
            connect(sim), consistent_plan(force_poweroff=True, shutdown_timeout_s=120.0)
        )

    assert outcome.status == "succeeded", outcome
    assert (outcome.shut_down, outcome.running_again) == (True, True)
    assert [s["status"] for s in seen_off] == ["off"]
    assert created(sim) == [outcome.image_id]
    assert (posts(sim, "shutdown"), posts(sim, "poweroff"), posts(sim, "poweron")) == (1, 1, 1)
    assert_running_unmarked(sim)


# -- 3. a snapshot action that fails -------------------------------------------------------------


def test_failed_snapshot_action_still_powers_the_server_on(make_sim: SimFactory) -> None:
    sim = make_sim(
        one(snapshot_error={"code": "action_failed", "message": "disk read error"}),
        time_scale=SCALE,
    )
    error = fails(sim, consistent_plan())

    outcome = error.outcome
    assert (outcome.status, outcome.error_code) == ("failed", "action_failed")
    assert "disk read error" in (outcome.error or "")
    assert (outcome.shut_down, outcome.running_again) == (True, True)
    [image_id] = created(sim)
    assert image_of(sim, image_id)["status"] == "unavailable"
    assert_running_unmarked(sim)


# -- 4. a lock that appears before the power on --------------------------------------------------


def test_lock_between_snapshot_and_power_on_is_waited_out(make_sim: SimFactory) -> None:
    sim = make_sim(one(), time_scale=SCALE)
    foreign: list[int] = []

    def snapshot_ends_then_someone_locks(_: ProgressEvent) -> None:
        # the snapshot finishes now, and a foreign action takes the lock before hsnap looks again
        sim.state.finish_action(running_action(sim, "create_image"))
        foreign.append(sim.state.lock_server(APP_1, command="change_server_type", duration=300))

    # the lock outlasts lock_timeout_s: power on waits with its own, longer deadline
    plan = consistent_plan(lock_timeout_s=60.0, poweron_timeout_s=3600.0)
    with on_event(snapshot_started, snapshot_ends_then_someone_locks):
        outcome = take_snapshot(connect(sim), plan)

    assert outcome.status == "succeeded", outcome
    assert outcome.running_again is True
    [holder] = foreign
    assert f"change_server_type #{holder}" in outcome.lock_holders
    [lock] = [a for a in sim.state.ground_truth()["actions"] if a["id"] == holder]
    [poweron] = actions_of(sim, "start_server")
    assert lock["finished"] <= poweron["started"]
    assert posts(sim, "poweron") == 1
    assert_running_unmarked(sim)


# -- 5. transient errors while powering on -------------------------------------------------------


@pytest.mark.parametrize("when", ["before", "after"])
def test_transient_errors_during_power_on_are_retried(make_sim: SimFactory, when: str) -> None:
    sim = make_sim(one(), time_scale=SCALE)

    def faults_from_now(_: ProgressEvent) -> None:
        # every read of the server fails for a while, then three power-on POSTs answer 503
        # (before: not carried out; after: carried out, answer lost)
        add_fault(sim, method="GET", path="/servers/*", code="unavailable", count=READ_ATTEMPTS)
        add_fault(sim, method="POST", path=POWERON, code="unavailable", when=when, count=3)

    with on_event(snapshot_started, faults_from_now):
        outcome = take_snapshot(connect(sim), consistent_plan())

    assert outcome.status == "succeeded", outcome
    assert outcome.running_again is True
    assert all(rule["fired"] > 0 for rule in sim.state.ground_truth()["faults"])
    assert posts(sim, "poweron", 503) >= 1
    assert len(actions_of(sim, "start_server")) == 1
    assert_running_unmarked(sim)


# -- 6. a server that was off stays off ----------------------------------------------------------


def test_server_that_was_off_is_snapshotted_as_it_is_and_stays_off(make_sim: SimFactory) -> None:
    sim = make_sim(one(status="off"), time_scale=SCALE)
    outcome = take_snapshot(connect(sim), consistent_plan(status="off"))

    assert outcome.status == "succeeded", outcome
    assert (outcome.shut_down, outcome.running_again, outcome.off_s) == (False, None, 0.0)
    server = server_truth(sim)
    assert server["status"] == "off"
    assert RESTART_LABEL not in server["labels"]
    assert label_writes(sim) == 0  # never marked
    assert posts(sim, "shutdown") + posts(sim, "poweroff") + posts(sim, "poweron") == 0
    row = reporting.row(outcome)
    assert (row["shut down"], row["off for"], row["running again"]) == ("", "", "")


# -- 7. deadlines after the shutdown -------------------------------------------------------------


def test_lock_wait_timeout_after_shutdown_powers_on_again(make_sim: SimFactory) -> None:
    sim = make_sim(one(), time_scale=SCALE)
    with on_event(is_off, lambda _: sim.state.lock_server(APP_1, duration=300)):
        error = fails(sim, consistent_plan(lock_timeout_s=60.0, poweron_timeout_s=3600.0))

    outcome = error.outcome
    assert (outcome.status, outcome.error_code) == ("failed", "lock_timeout")
    assert (outcome.shut_down, outcome.running_again) == (True, True)
    assert created(sim) == []
    assert_running_unmarked(sim)


def test_snapshot_wait_timeout_after_shutdown_powers_on_again(make_sim: SimFactory) -> None:
    sim = make_sim(one(snapshot_duration=300), time_scale=SCALE)
    error = fails(sim, consistent_plan(snapshot_timeout_s=60.0, poweron_timeout_s=3600.0))

    outcome = error.outcome
    assert (outcome.status, outcome.error_code) == ("failed", "snapshot_timeout")
    assert (outcome.shut_down, outcome.running_again) == (True, True)
    # power on waited for the snapshot (it holds the lock), which therefore finished
    [image_id] = created(sim)
    assert image_of(sim, image_id)["status"] == "available"
    assert_running_unmarked(sim)


# -- 8. power on impossible: LEFT OFF, loudly ----------------------------------------------------


def test_power_on_impossible_is_left_off_loudly_and_recoverable(
    make_sim: SimFactory, caplog: pytest.LogCaptureFixture
) -> None:
    sim = make_sim(one(), time_scale=SCALE)
    with on_event(
        snapshot_started,
        lambda _: add_fault(sim, method="POST", path=POWERON, code="unavailable"),  # no end
    ):
        error = fails(sim, consistent_plan(poweron_timeout_s=120.0))

    outcome = error.outcome
    assert (outcome.status, outcome.error_code) == ("left-off", "left_off")
    assert not error.transient
    assert "LEFT OFF" in (outcome.error or "")
    assert "hsnap recover" in (outcome.error or "")
    assert outcome.image_id is not None  # the snapshot itself succeeded
    assert (outcome.shut_down, outcome.running_again) == (True, False)
    alerts = [r for r in caplog.records if r.levelno >= logging.ERROR and "LEFT OFF" in r.message]
    assert alerts, [r.message for r in caplog.records]
    assert RunReport(RUN, False, (outcome,)).failed == (outcome,)
    row = reporting.row(outcome)
    assert (row["status"], row["shut down"], row["running again"]) == ("left-off", "yes", "NO")
    assert "LEFT POWERED OFF" in reporting.markdown(RunReport(RUN, False, (outcome,)))
    # the mark stays, so recovery finds the server and brings it back
    assert_off_and_marked(sim)

    with sim.state.lock:
        sim.state.project().faults.clear()
    results = recover_marked(sim)
    assert [(r.server, r.result, r.run_id) for r in results] == [("app-1", "restarted", RUN)]
    assert_running_unmarked(sim)


def recover_marked(sim: SimulatorServer, active: frozenset[str] = frozenset()) -> list[Any]:
    cloud = connect(sim)
    marked = cloud.list_servers(RESTART_LABEL)
    log = logging.getLogger("test-recover")
    return recover(lambda s: ServerRun(cloud, s, log), marked, active.__contains__, 3600.0)


def test_recover_restores_servers_of_runs_that_ended_or_abandoned_them(
    make_sim: SimFactory,
) -> None:
    live = {RESTART_LABEL: "live-run"}
    sim = make_sim(
        world(
            {"name": "off-1", "status": "off", "labels": {RESTART_LABEL: "dead-run"}},
            {"name": "up-1", "labels": {RESTART_LABEL: "dead-run", "env": "prod"}},
            # a live run: snapshotting its server (locked), or shutting it down (still running)
            {
                "name": "busy-1",
                "status": "off",
                "labels": live,
                "running_actions": [{"command": "create_image", "duration": None}],
            },
            {"name": "stopping-1", "labels": live},
            # a run Prefect still shows as running, but its server stays off and idle: killed
            {"name": "zombie-1", "status": "off", "labels": live},
            {"name": "plain-1", "status": "off"},
        ),
        time_scale=SCALE,
    )
    results = recover_marked(sim, active=frozenset({"live-run"}))

    assert sorted((r.server, r.result) for r in results) == [
        ("busy-1", "skipped"),
        ("off-1", "restarted"),
        ("stopping-1", "skipped"),
        ("up-1", "unmarked"),
        ("zombie-1", "restarted"),
    ]
    truth = {s["name"]: s for s in sim.state.ground_truth()["servers"]}
    assert (truth["off-1"]["status"], truth["off-1"]["labels"]) == ("running", {})
    assert (truth["up-1"]["status"], truth["up-1"]["labels"]) == ("running", {"env": "prod"})
    assert (truth["zombie-1"]["status"], truth["zombie-1"]["labels"]) == ("running", {})
    assert (truth["busy-1"]["status"], truth["busy-1"]["labels"]) == ("off", live)
    assert truth["stopping-1"]["labels"] == live  # its run will bring it back itself
    assert truth["plain-1"]["status"] == "off"  # never marked: not hsnap's to start

    # once that run has ended, the next recovery takes the rest
    sim.state.finish_action(running_action(sim, "create_image"))
    again = recover_marked(sim)
    assert sorted((r.server, r.result) for r in again) == [
        ("busy-1", "restarted"),
        ("stopping-1", "unmarked"),
    ]


# -- 9. a transient failure after the shutdown, then a retry -------------------------------------


def test_transient_failure_after_shutdown_powers_on_before_the_retry(make_sim: SimFactory) -> None:
    sim = make_sim(one(), time_scale=SCALE)
    plan = consistent_plan()
    # the snapshot's last read (its image) fails more often than hsnap's read retries
    with on_event(
        snapshot_started,
        lambda _: add_fault(
            sim, method="GET", path="/images/*", code="unavailable", count=READ_ATTEMPTS
        ),
    ):
        error = fails(sim, plan)

    assert error.transient
    assert error.outcome.running_again is True
    # what Prefect's retry finds: the server running, unmarked
    assert_running_unmarked(sim)

    outcome = take_snapshot(connect(sim), plan, attempt=2)
    assert outcome.status == "succeeded", outcome
    assert outcome.resumed
    assert created(sim) == [outcome.image_id]  # no duplicate
    assert posts(sim, "shutdown") == 1  # the retry did not shut it down again
    assert_running_unmarked(sim)


# -- a shutdown whose answer is lost -------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        {"code": "timeout", "when": "after"},
        {"drop": True, "when": "after"},
    ],
    ids=["504-after", "dropped-after"],
)
def test_shutdown_with_an_unclear_answer_still_ends_running(
    make_sim: SimFactory, fault: dict[str, Any]
) -> None:
    # the ACPI signal reached the guest, but hsnap did not learn it: the guest goes down
    # afterwards, so restoring power must not take "still running" for the end of the story
    sim = make_sim(one(shutdown_delay=30), time_scale=SCALE)
    add_fault(sim, method="POST", path=SHUTDOWN, count=1, **fault)
    plan = consistent_plan()
    error = fails(sim, plan)

    assert error.transient  # Prefect will try again
    assert (error.outcome.shut_down, error.outcome.running_again) == (True, True)
    sim.state.clock.advance(120)  # the guest had every chance to go down late
    assert_running_unmarked(sim)
    # and the retry finds a running server to shut down and snapshot, as the first try would
    outcome = take_snapshot(connect(sim), plan, attempt=2)
    assert (outcome.status, outcome.shut_down, outcome.running_again) == ("succeeded", True, True)
    assert_running_unmarked(sim)


def test_lock_before_the_shutdown_fails_fast_and_leaves_it_running(make_sim: SimFactory) -> None:
    # the shutdown is refused (423) until the lock wait ends: nothing was sent, nothing to wait for
    sim = make_sim(
        one(running_actions=[{"command": "change_server_type", "duration": None}]),
        time_scale=SCALE,
    )
    error = fails(sim, consistent_plan(lock_timeout_s=60.0, shutdown_timeout_s=3600.0))

    outcome = error.outcome
    assert (outcome.status, outcome.error_code) == ("failed", "lock_timeout")
    assert (outcome.shut_down, outcome.running_again) == (False, True)
    assert posts(sim, "shutdown") == 0
    assert created(sim) == []
    # a handful of reads, not an hour of waiting for a shutdown that was never sent
    reads = sum(
        row["count"]
        for row in sim.state.request_counts()
        if (row["method"], row["endpoint"]) == ("GET", "/servers/{id}")
    )
    assert reads < 10
    assert_running_unmarked(sim)


# -- 12. the report ------------------------------------------------------------------------------


def test_report_columns_for_a_consistent_run() -> None:
    done = SnapshotOutcome(
        server="app-1",
        server_id=APP_1,
        status="succeeded",
        image_id=1,
        shut_down=True,
        off_s=95.0,
        running_again=True,
    )
    left = SnapshotOutcome(
        server="db-1",
        server_id=2,
        status="left-off",
        shut_down=True,
        off_s=4000.0,
        running_again=False,
        error="LEFT OFF: could not power the server on again",
    )
    plain = SnapshotOutcome(server="web-1", server_id=3, status="succeeded")
    report = RunReport(RUN, False, (done, left, plain))
    table = {r["server"]: r for r in reporting.rows(report)}

    assert {"shut down", "off for", "running again"} <= set(reporting.COLUMNS)
    assert set(reporting.COLUMNS) == set(table["app-1"])
    cells = {n: (r["shut down"], r["off for"], r["running again"]) for n, r in table.items()}
    assert cells == {
        "app-1": ("yes", "1m35s", "yes"),
        "db-1": ("yes", "66m40s", "NO"),
        "web-1": ("", "", ""),
    }
    assert reporting.exit_code(report) == 1
    assert "db-1" in reporting.verdict(report)
