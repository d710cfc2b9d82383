"""Recovery after a crash, against the simulator: parallel, and as soon as the killed run lets go.

A killed run leaves its servers marked ``hsnap/restart=<run id>``: off, going down, or still being
snapshotted by its own ``create_image``. Times are read from the simulator's clock and its actions'
timestamps (simulated seconds), never from the wall clock.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import pytest

from hcloud_sim import SimulatorServer
from hsnap.cloud.waiting import ServerRun
from hsnap.policy import RESTART_LABEL, ownership_labels
from hsnap.snapshot.recovery import ABANDONED_AFTER_S, Recovery, recover
from hsnap.snapshot.take import take_snapshot
from tests.conftest import SimFactory
from tests.hsnap.test_consistent import (
    actions_of,
    assert_running_unmarked,
    consistent_plan,
    no_server_left_off,
    posts,
    server_truth,
)
from tests.hsnap.world import APP_1, RUN, connect, created, on_event, world

__all__ = ["no_server_left_off"]  # autouse: every server that was running ends running, unmarked

#: slower than the other tests: here simulated durations are compared with each other, and a
#: scheduling hiccup of the loaded test machine must not weigh 600 simulated seconds per second
SCALE = 120.0
KILLED = "killed-run"  # a run Prefect still shows as active: killed where nobody reported it


def recover_all(sim: SimulatorServer, active: frozenset[str] = frozenset()) -> list[Recovery]:
    cloud = connect(sim, scale=SCALE)
    marked = cloud.list_servers(RESTART_LABEL)
    log = logging.getLogger("test-recovery")
    return recover(lambda s: ServerRun(cloud, s, log), marked, active.__contains__, 3600.0)


def seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def off_times(count: int, make_sim: SimFactory) -> list[float]:
    """Simulated seconds each of ``count`` servers, left off by a killed run, stays off."""
    marked = {"status": "off", "labels": {RESTART_LABEL: KILLED}}
    sim = make_sim(
        world(*({"name": f"web-{i:02d}", **marked} for i in range(count))), time_scale=SCALE
    )
    since = sim.state.clock.now()
    results = recover_all(sim, active=frozenset({KILLED}))
    assert {r.result for r in results} == {"restarted"}, results
    assert all(s["status"] == "running" for s in sim.state.ground_truth()["servers"])
    return [seconds(a["finished"]) - since for a in actions_of(sim, "start_server")]


def test_recovery_time_does_not_grow_with_the_number_of_servers(make_sim: SimFactory) -> None:
    # the killed run still shows as active: each server must first stay off and idle for
    # ABANDONED_AFTER_S. One at a time, 30 servers would take 30 times as long as one.
    [alone] = off_times(1, make_sim)
    fleet = off_times(30, make_sim)

    assert len(fleet) == 30
    assert ABANDONED_AFTER_S <= alone < 2 * ABANDONED_AFTER_S
    # one at a time, the last would come back after about 30 * alone; together, all about as
    # soon as one alone (the slack: poll intervals, and thread scheduling on a loaded machine)
    assert max(fleet) < 2.5 * alone, (alone, sorted(fleet))


def test_server_locked_by_the_killed_runs_snapshot_is_powered_on_when_it_ends(
    make_sim: SimFactory,
) -> None:
    sim = make_sim(world({"name": "app-1", "snapshot_duration": 120}), time_scale=SCALE)
    killed_run_leaves_it_off_while_snapshotting(sim)

    [result] = recover_all(sim, active=frozenset({KILLED}))

    assert (result.server, result.result) == ("app-1", "restarted")
    [snapshot] = actions_of(sim, "create_image")
    [poweron] = actions_of(sim, "start_server")
    # powered on right after the snapshot ended, not after a further idle wait
    gap = seconds(poweron["started"]) - seconds(snapshot["finished"])
    assert 0 <= gap < ABANDONED_AFTER_S / 2, gap
    assert_running_unmarked(sim)


def killed_run_leaves_it_off_while_snapshotting(sim: SimulatorServer) -> None:
    """What a consistent run killed during the snapshot leaves: off, marked, its image creating."""
    cloud = connect(sim, scale=SCALE)
    server = cloud.get_server(APP_1)
    cloud.set_labels(APP_1, {**server.labels, RESTART_LABEL: KILLED})
    cloud.power(APP_1, "poweroff")
    sim.state.clock.advance(60)
    assert server_truth(sim)["status"] == "off"
    cloud.create_snapshot(APP_1, "app-1-killed", ownership_labels(APP_1, KILLED))


def test_foreign_action_on_a_marked_server_of_a_live_run_is_left_to_it(
    make_sim: SimFactory,
) -> None:
    # the run is alive and at work (an action that is not its own snapshot holds the server)
    sim = make_sim(
        world(
            {
                "name": "app-1",
                "status": "off",
                "labels": {RESTART_LABEL: KILLED},
                "running_actions": [{"command": "create_image", "duration": 120}],
            }
        ),
        time_scale=SCALE,
    )
    [result] = recover_all(sim, active=frozenset({KILLED}))
    assert result.result == "skipped"
    assert server_truth(sim)["status"] == "off"
    sim.state.clock.advance(300)
    [again] = recover_all(sim)  # once its run has ended
    assert again.result == "restarted"
    assert_running_unmarked(sim)


# -- consistent mode meets what a killed run left ------------------------------------------------


@pytest.mark.parametrize("state", ["stopping", "off"])
def test_consistent_snapshot_takes_over_a_server_an_earlier_run_shut_down(
    make_sim: SimFactory, state: str
) -> None:
    # killed mid-shutdown (the guest is still going down) or after it: the mark says the server
    # was running before hsnap touched it, so this run must power it on after its snapshot
    sim = make_sim(world({"name": "app-1", "shutdown_delay": 120}), time_scale=SCALE)
    cloud = connect(sim, scale=SCALE)
    cloud.set_labels(APP_1, {RESTART_LABEL: KILLED})
    cloud.power(APP_1, "shutdown")
    sim.state.clock.advance(300 if state == "off" else 10)  # the ACPI signal takes 2 s
    assert server_truth(sim)["status"] == state

    outcome = take_snapshot(cloud, consistent_plan())

    assert outcome.status == "succeeded", outcome
    assert (outcome.shut_down, outcome.running_again) == (True, True)
    assert created(sim) == [outcome.image_id]
    [snapshot] = actions_of(sim, "create_image")
    [shutdown] = actions_of(sim, "shutdown_server")
    assert posts(sim, "shutdown") == 1  # the killed run's; the server was never running again
    assert shutdown["finished"] <= snapshot["started"]
    assert_running_unmarked(sim)


def truth_of(sim: SimulatorServer) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in sim.state.ground_truth()["servers"]}


def test_the_mark_of_this_run_replaces_the_killed_runs(make_sim: SimFactory) -> None:
    sim = make_sim(world({"name": "app-1", "status": "off"}), time_scale=SCALE)
    connect(sim, scale=SCALE).set_labels(APP_1, {RESTART_LABEL: KILLED})
    seen: list[str] = []
    with on_event(
        lambda e: e.phase == "snapshotting" and e.progress == 0,
        lambda _: seen.append(truth_of(sim)["app-1"]["labels"][RESTART_LABEL]),
    ):
        outcome = take_snapshot(connect(sim, scale=SCALE), consistent_plan())
    assert outcome.running_again is True
    assert seen == [RUN]  # had this run died here, recovery would look at this run, not the old
    assert_running_unmarked(sim)
