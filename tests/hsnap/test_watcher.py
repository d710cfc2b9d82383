"""The shared action watcher: one batched poller per project, however many tasks wait.

Against the simulator over real HTTP for what a run costs and what a waiter sees; when an action
is due again and how far apart polls are, directly (pure functions of age, progress and budget).
"""

from __future__ import annotations

import logging
import math
import threading
from types import SimpleNamespace
from typing import Any, cast

import pytest
import requests

from hcloud_sim import SimulatorServer
from hsnap.clock import Clock
from hsnap.cloud.client import Cloud
from hsnap.cloud.governor import RateGovernor
from hsnap.cloud.watcher import (
    AGE_FRACTION,
    MAX_POLL_S,
    MIN_POLL_S,
    MIN_SPACING_S,
    PAST_DUE_S,
    ActionWatcher,
    _Watched,
)
from hsnap.models import ActionRef, SnapshotOutcome
from hsnap.snapshot.take import SnapshotError, take_snapshot
from tests.conftest import SimFactory
from tests.hsnap.test_snapshot import plan_for
from tests.hsnap.world import SCALE, add_fault, connect, created, requests_to, world


def fleet(count: int, **project: Any) -> dict[str, Any]:
    """``count`` servers ``app-001``..; each snapshot takes one simulated minute."""
    return world({"name": "app-{i:03d}", "count": count}, **project)


def snapshot_all(
    sim: SimulatorServer, **plan: Any
) -> tuple[dict[str, SnapshotOutcome], dict[str, SnapshotError]]:
    """Snapshot every server at once, one thread (and one Cloud) per server, like a flow run's
    tasks: all share the process-wide watcher of the one project."""
    servers = [(s["id"], s["name"]) for s in sim.state.ground_truth()["servers"]]
    outcomes: dict[str, SnapshotOutcome] = {}
    errors: dict[str, SnapshotError] = {}

    def one(server_id: int, name: str) -> None:
        try:
            outcomes[name] = take_snapshot(connect(sim), plan_for(server_id, name, **plan))
        except SnapshotError as exc:
            errors[name] = exc

    threads = [threading.Thread(target=one, args=server) for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not [t for t in threads if t.is_alive()], "a waiter never returned"
    return outcomes, errors


def total_requests(sim: SimulatorServer) -> int:
    return sum(row["count"] for row in sim.state.request_counts())


# -- batched polls -------------------------------------------------------------------------------


def test_many_servers_are_waited_on_with_batched_polls(make_sim: SimFactory) -> None:
    servers = 120
    sim = make_sim(fleet(servers), time_scale=SCALE)
    outcomes, errors = snapshot_all(sim)

    assert not errors
    assert len(outcomes) == servers
    assert all(o.status == "succeeded" for o in outcomes.values())
    assert sorted(created(sim)) == sorted(o.image_id for o in outcomes.values())
    watcher = connect(sim).watcher
    polls = requests_to(sim, "GET", "/actions")
    # one request per 50 waiting actions per poll: not one request per server per poll
    assert watcher.polls >= 1
    assert polls == watcher.requests <= watcher.polls * math.ceil(servers / 50)
    # every action was polled at least once, yet there were far fewer requests than actions
    assert polls * 2 < servers
    # nothing polls an action or an image on its own
    assert requests_to(sim, "GET", "/actions/{id}") == 0
    assert requests_to(sim, "GET", "/servers/{id}/actions") == 0  # no server was locked
    assert requests_to(sim, "GET", "/images/{id}") == servers  # one look once its action ended
    # create + image + a share of the polls
    assert total_requests(sim) / servers <= 3


def test_a_permanent_poll_error_reaches_every_waiter(make_sim: SimFactory) -> None:
    servers = 6
    sim = make_sim(fleet(servers), time_scale=SCALE)
    add_fault(sim, method="GET", path="/actions", code="forbidden")
    outcomes, errors = snapshot_all(sim)

    assert not outcomes
    assert len(errors) == servers
    for error in errors.values():
        assert error.transient is False
        assert error.outcome.error_code == "forbidden"
        assert "the API token is not allowed to do this" in (error.outcome.error or "")
        assert error.outcome.snapshot_s < 600  # told at once, not at the snapshot deadline
    assert len(created(sim)) == servers  # the snapshots were started; only waiting failed
    # not retried as if transient: a few polls at most, not READ_ATTEMPTS per poll per server
    assert requests_to(sim, "GET", "/actions", 403) <= servers


def test_a_permanent_poll_error_does_not_outlive_its_waiters(make_sim: SimFactory) -> None:
    # the watcher lives as long as the process: once the cause is gone, later waits poll again
    sim = make_sim(fleet(1), time_scale=SCALE)
    add_fault(sim, method="GET", path="/actions", code="forbidden", count=1)
    server = sim.state.ground_truth()["servers"][0]
    plan = plan_for(server["id"], server["name"])
    with pytest.raises(SnapshotError) as info:
        take_snapshot(connect(sim), plan)
    assert info.value.outcome.error_code == "forbidden"

    outcome = take_snapshot(connect(sim), plan, attempt=2)
    assert outcome.status == "succeeded"
    assert outcome.image_id == created(sim)[0]
    assert requests_to(sim, "GET", "/actions", 200) >= 1


# -- locks ---------------------------------------------------------------------------------------


def test_lock_holders_are_waited_for_through_the_watcher(
    make_sim: SimFactory, caplog: pytest.LogCaptureFixture
) -> None:
    servers, locked = 40, 5
    sim = make_sim(fleet(servers), time_scale=SCALE)
    holders = {
        s["name"]: sim.state.lock_server(s["id"], command="change_server_type", duration=300)
        for s in sim.state.ground_truth()["servers"][:locked]
    }
    with caplog.at_level(logging.INFO, logger="hsnap"):
        outcomes, errors = snapshot_all(sim)

    assert not errors
    assert all(o.status == "succeeded" for o in outcomes.values())
    for name, holder in holders.items():
        assert outcomes[name].lock_holders == (f"change_server_type #{holder}",)
        assert outcomes[name].lock_wait_s >= 250
    actions = {a["id"]: a for a in sim.state.ground_truth()["actions"]}
    assert all(actions[h]["status"] == "success" for h in holders.values())
    # each locked server: one 423 and one listing of the holders after it; once they ended the
    # create is simply tried again (no second listing); the waiting itself went through the
    # shared batched polls, never a per-task poll
    assert requests_to(sim, "POST", "/servers/{id}/actions/create_image", 423) == locked
    assert requests_to(sim, "GET", "/servers/{id}/actions") == locked
    assert requests_to(sim, "GET", "/actions/{id}") == 0
    watcher = connect(sim).watcher
    assert requests_to(sim, "GET", "/actions") == watcher.requests
    assert watcher.requests <= watcher.polls  # fewer than 50 actions ran at any time
    # a wait reports what the polls saw, once per answer: not whenever another task's action
    # registers with the watcher (35 creates here), which would flood the run's logs
    for name in holders:
        prefix = f"{name} (id {outcomes[name].server_id}): still locked by change_server_type"
        reports = [r for r in caplog.records if r.getMessage().startswith(prefix)]
        assert 1 <= len(reports) <= watcher.polls


# -- when to poll --------------------------------------------------------------------------------


class FakeClock(Clock):
    """API time that moves only when told to."""

    def __init__(self) -> None:
        super().__init__(1.0)
        self.t = 1000.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)


def running(progress: int = 0) -> ActionRef:
    return ActionRef(1, "create_image", "running", progress)


def next_poll_after(age: float, progress: int = 0) -> float:
    """How long after a poll at ``age`` seconds an action is due again (no earlier answer)."""
    watched = _Watched(since=0.0, due=0.0)
    watched.observe(running(progress), age)
    return watched.due - age


def test_the_poll_interval_grows_with_the_actions_age() -> None:
    ages = [0.0, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 86400.0]
    steps = [next_poll_after(age) for age in ages]
    assert steps == sorted(steps)  # an older action is not polled more often than a younger one
    assert steps[0] == MIN_POLL_S  # a new action is looked at soon
    assert steps[-1] == MAX_POLL_S  # an old one at the ceiling, never less often
    assert all(MIN_POLL_S <= step <= MAX_POLL_S for step in steps)
    assert next_poll_after(120.0) == pytest.approx(AGE_FRACTION * 120.0)  # a fraction of its age


def test_a_wait_of_hours_costs_few_polls() -> None:
    watched = _Watched(since=0.0, due=0.0)
    now, polls = 0.0, 0
    while now < 4 * 3600:
        watched.observe(running(), now)
        now, polls = watched.due, polls + 1
    # a fixed poll every MIN_POLL_S would have cost 7200 here
    assert polls <= 4 * 3600 / MAX_POLL_S + 60


def test_progress_brings_the_next_poll_forward_to_the_predicted_end() -> None:
    watched = _Watched(since=0.0, due=0.0)
    watched.observe(running(10), 100.0)
    watched.observe(running(90), 180.0)  # 1 % a second: ends at about 190 s
    assert watched.due == pytest.approx(190.0)
    watched.observe(running(99), 189.0)  # nearly done: looked at again soon, not at its age
    assert watched.due - 189.0 <= PAST_DUE_S


@pytest.mark.parametrize(
    ("remaining", "pressure"),
    [(3600, 0.0), (1800, 0.0), (900, 0.5), (360, 0.8), (0, 1.0)],
)
def test_pressure_rises_as_the_bucket_empties(remaining: int, pressure: float) -> None:
    clock = FakeClock()
    governor = RateGovernor(clock)
    assert governor.pressure() == 0.0  # nothing known yet: no pressure
    rate_headers(governor, 3600, remaining)
    assert governor.pressure() == pytest.approx(pressure)


def test_pressure_eases_as_the_bucket_refills() -> None:
    clock = FakeClock()
    governor = RateGovernor(clock)
    rate_headers(governor, 3600, 0)
    assert governor.pressure() == pytest.approx(1.0)
    clock.sleep(900)  # 900 requests back at one a second
    assert governor.pressure() == pytest.approx(0.5)
    clock.sleep(900)
    assert governor.pressure() == 0.0


def rate_headers(governor: RateGovernor, limit: int, remaining: int) -> None:
    response = requests.Response()
    response.status_code = 200
    response.headers["RateLimit-Limit"] = str(limit)
    response.headers["RateLimit-Remaining"] = str(remaining)
    governor.observe(response)


def watcher_on(governor: RateGovernor) -> ActionWatcher:
    return ActionWatcher(cast(Cloud, SimpleNamespace(clock=governor.clock, governor=governor)))


def test_budget_pressure_spaces_the_polls_further_apart() -> None:
    governor = RateGovernor(FakeClock())
    watcher = watcher_on(governor)
    actions = 1000  # 20 requests a poll
    relaxed = watcher._spacing(actions)
    assert relaxed == MIN_SPACING_S  # a full bucket: polls as often as the floor allows

    rate_headers(governor, 3600, 900)
    pressed = watcher._spacing(actions)
    rate_headers(governor, 3600, 0)
    empty = watcher._spacing(actions)
    assert relaxed <= pressed < empty
    # an empty bucket: polls spend less than the bucket refills, so waiting alone cannot drain it
    assert empty > math.ceil(actions / 50) / governor.refill_per_s

    small = RateGovernor(FakeClock())  # 36 requests an hour refill 100 times slower
    rate_headers(small, 36, 0)
    assert watcher_on(small)._spacing(1) > 1 / small.refill_per_s
    assert watcher_on(small)._spacing(1) > MAX_POLL_S  # the budget outranks the age ceiling
