"""``plan_prune`` and ``execute`` against the simulator: what retention deletes, what it never does.

The fleet (``tests/prune_world.py``) mixes hsnap's snapshots of days to years ago with manual
snapshots, another tool's, a protected one, one still creating, a backup carrying hsnap's labels
and two orphans. Every assertion reads the simulator's ground truth: which images a user would
still find in the project after the run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import hcloud
import pytest
from hcloud.images import Image

from hcloud_sim import SimulatorServer
from hsnap.cloud.client import Cloud
from hsnap.errors import PermanentError
from hsnap.models import PruneRow
from hsnap.retention.policy import RetentionPolicy
from hsnap.retention.prune import execute, plan_prune
from tests.conftest import SimFactory
from tests.hsnap.world import add_fault
from tests.hsnap.world import connect as world_connect
from tests.prune_world import (
    DB,
    GONE,
    UNTOUCHABLE,
    WEB,
    deletes,
    images_by_description,
    seeded_managed,
    survivors,
    world,
)

#: nothing but the safety rules: each server keeps only its newest available snapshot
BARE = RetentionPolicy(daily=0, weekly=0, monthly=0, max_deletions=None)

#: what BARE deletes: every older hsnap snapshot of web-1 (and the unavailable one), db-1's older
BARE_DELETES = {
    *(
        f"web-1 hsnap {age}"
        for age in ("2d", "3d", "5d", "10d", "3w", "6w", "100d", "400d", "800d")
    ),
    "db-1 hsnap 400d",
}


@pytest.fixture
def sim(make_sim: SimFactory) -> SimulatorServer:
    return make_sim(world(), time_scale=1)


def connect(sim: SimulatorServer, token: str = "sim-token") -> Cloud:
    return world_connect(sim, token, scale=1.0)


def now_of(sim: SimulatorServer) -> datetime:
    return sim.state.clock.now_dt()


def plan(sim: SimulatorServer, policy: RetentionPolicy, **kwargs: Any) -> list[PruneRow]:
    return plan_prune(connect(sim), policy, now=now_of(sim), timezone="UTC", **kwargs)


def prune(sim: SimulatorServer, policy: RetentionPolicy) -> list[PruneRow]:
    return execute(connect(sim), plan(sim, policy), dry_run=False)


def described(rows: list[PruneRow], result: str) -> set[str]:
    """Descriptions of the rows with ``result``."""
    return {r.description for r in rows if r.result == result}


# -- the plan ---------------------------------------------------------------------------------


def test_plan_lists_every_managed_snapshot_with_a_decision_and_changes_nothing(
    sim: SimulatorServer,
) -> None:
    before = images_by_description(sim)
    rows = plan(sim, BARE)

    assert {r.image_id: r.description for r in rows} == seeded_managed(sim)
    assert all(r.action in ("keep", "delete") for r in rows)
    assert all(r.reason.startswith("kept: " if r.action == "keep" else "deleted: ") for r in rows)
    assert {r.description for r in rows if r.action == "delete"} == BARE_DELETES
    by_description = {r.description: r for r in rows}
    assert by_description["web-1 hsnap 1d"].reason == "kept: newest available"
    assert by_description["web-1 hsnap protected"].reason == "kept: protected"
    assert by_description["web-1 hsnap creating"].reason == "kept: still creating"
    assert by_description["web-1 hsnap 5d"].reason == "deleted: unavailable"
    assert by_description["orphan hsnap 60d"].reason == "kept: orphan (server deleted)"
    assert {r.server for r in rows if r.server_id == WEB} == {"web-1"}
    assert {r.server for r in rows if r.server_id == DB} == {"db-1"}
    for untouchable in UNTOUCHABLE.keys() - {"web-1 hsnap protected", "web-1 hsnap creating"}:
        assert untouchable not in by_description, f"{untouchable} was planned at all"
    assert images_by_description(sim) == before
    assert deletes(sim) == 0


def test_plan_of_some_servers_only_and_of_a_failed_server(sim: SimulatorServer) -> None:
    rows = plan(sim, BARE, only_servers=[DB])
    assert {r.description for r in rows} == {"db-1 hsnap 2w", "db-1 hsnap 400d"}

    rows = plan(sim, BARE, failed_servers=[WEB])
    web = [r for r in rows if r.server_id == WEB]
    assert web
    assert all(r.action == "keep" for r in web)
    assert {r.reason for r in web} >= {"kept: this run's snapshot of the server failed"}
    assert {r.description for r in rows if r.action == "delete"} == {"db-1 hsnap 400d"}


# -- what a run deletes -----------------------------------------------------------------------


def test_only_hsnaps_older_snapshots_are_deleted(sim: SimulatorServer) -> None:
    everything = survivors(sim)
    rows = prune(sim, BARE)

    assert described(rows, "deleted") == BARE_DELETES
    assert {r.result for r in rows} == {"kept", "deleted"}
    left = survivors(sim)
    assert left == everything - BARE_DELETES
    assert left >= UNTOUCHABLE.keys()
    # the newest available snapshot of each server, and every orphan, is still there
    assert left >= {"web-1 hsnap 1d", "db-1 hsnap 2w", "orphan hsnap 30d", "orphan hsnap 60d"}
    assert deletes(sim) == len(BARE_DELETES)

    # a second run finds nothing more to delete
    again = prune(sim, BARE)
    assert {r.result for r in again} == {"kept"}
    assert survivors(sim) == left


def test_a_calendar_policy_keeps_its_periods_and_the_safety_set(sim: SimulatorServer) -> None:
    policy = RetentionPolicy(daily=3, weekly=0, monthly=0, yearly=2, max_deletions=None)
    rows = prune(sim, policy)

    left = survivors(sim)
    # daily: the three newest days; yearly: the newest of this year and of the previous one
    kept_web = {f"web-1 hsnap {age}" for age in ("1d", "2d", "3d")}
    assert left >= kept_web | UNTOUCHABLE.keys()
    assert "web-1 hsnap 800d" not in left
    reasons = {r.description: r.reason for r in rows}
    assert reasons["web-1 hsnap 1d"] == "kept: daily #1"
    assert reasons["web-1 hsnap 3d"] == "kept: daily #3"
    assert any(reason.startswith("kept: yearly") for reason in reasons.values())
    assert {r.result for r in rows if r.action == "delete"} == {"deleted"}


def test_min_keep_holds_for_every_server(sim: SimulatorServer) -> None:
    policy = RetentionPolicy(daily=0, weekly=0, monthly=0, min_keep=3, max_deletions=None)
    rows = prune(sim, policy)

    left = survivors(sim)
    assert left >= {"web-1 hsnap 1d", "web-1 hsnap 2d", "web-1 hsnap 3d"}
    assert left >= {"db-1 hsnap 2w", "db-1 hsnap 400d"}  # it has only two: both stay
    assert "web-1 hsnap 10d" not in left
    assert {r.description for r in rows if r.reason == "kept: min_keep"} >= {
        "web-1 hsnap 2d",
        "web-1 hsnap 3d",
        "db-1 hsnap 400d",
    }


def test_max_deletions_caps_a_run_and_the_next_run_deletes_the_rest(
    sim: SimulatorServer,
) -> None:
    capped = RetentionPolicy(daily=0, weekly=0, monthly=0, max_deletions=3)

    first = prune(sim, capped)

    # the oldest go first: web-1's 800d, then the two of 400 days
    oldest = {"web-1 hsnap 800d", "web-1 hsnap 400d", "db-1 hsnap 400d"}
    assert described(first, "deleted") == oldest
    assert sum(1 for r in first if r.reason == "kept: max_deletions reached") == (
        len(BARE_DELETES) - 3
    )
    assert not survivors(sim) & oldest

    second = prune(sim, capped)
    assert described(second, "deleted") == {
        "web-1 hsnap 100d",
        "web-1 hsnap 6w",
        "web-1 hsnap 3w",
    }

    while any(r.result == "deleted" for r in prune(sim, capped)):
        pass
    left = survivors(sim)
    assert not left & BARE_DELETES
    assert left >= UNTOUCHABLE.keys() | {"web-1 hsnap 1d", "db-1 hsnap 2w"}
    assert deletes(sim) == len(BARE_DELETES)


def test_orphans_are_kept_by_default_and_pruned_when_asked(sim: SimulatorServer) -> None:
    prune(sim, BARE)
    assert survivors(sim) >= {"orphan hsnap 30d", "orphan hsnap 60d"}

    rows = prune(sim, RetentionPolicy(daily=0, weekly=0, monthly=0, keep_orphans=False))

    orphans = {r.description: r for r in rows if r.server_id == GONE}
    assert orphans["orphan hsnap 60d"].result == "deleted"
    # still the newest of its (deleted) server: min_keep and "newest" hold for orphans too
    assert orphans["orphan hsnap 30d"].result == "kept"
    left = survivors(sim)
    assert "orphan hsnap 60d" not in left
    assert left >= UNTOUCHABLE.keys() | {"orphan hsnap 30d"}


# -- dry runs and tokens ----------------------------------------------------------------------


def test_dry_run_with_a_read_only_token_deletes_nothing(sim: SimulatorServer) -> None:
    before = images_by_description(sim)
    readonly = connect(sim, "sim-readonly")

    rows = execute(
        readonly, plan_prune(readonly, BARE, now=now_of(sim), timezone="UTC"), dry_run=True
    )

    assert {r.description for r in rows if r.result == "would delete"} == BARE_DELETES
    assert {r.result for r in rows if r.action == "keep"} == {"kept"}
    assert images_by_description(sim) == before
    assert deletes(sim) == 0


def test_a_real_run_with_a_read_only_token_stops_at_the_first_refused_delete(
    sim: SimulatorServer,
) -> None:
    readonly = connect(sim, "sim-readonly")
    before = survivors(sim)
    plan = plan_prune(readonly, BARE, now=now_of(sim), timezone="UTC")

    with pytest.raises(PermanentError, match="Read & Write") as info:
        execute(readonly, plan, dry_run=False)

    assert info.value.code == "token_readonly"
    assert deletes(sim) == 1, "every other delete would be refused alike"
    assert survivors(sim) == before


# -- the guard between plan and delete ---------------------------------------------------------


def test_an_image_changed_between_plan_and_execute_is_left_alone(sim: SimulatorServer) -> None:
    cloud = connect(sim)
    rows = plan_prune(cloud, BARE, now=now_of(sim), timezone="UTC")
    ids = {r.description: r.image_id for r in rows}
    client = hcloud.Client(token="sim-token", api_endpoint=sim.url, timeout=10)
    # after the plan: another tool adopts one, someone protects one, removes hsnap's label from
    # one, deletes one
    client.images.update(
        Image(id=ids["web-1 hsnap 800d"]),
        labels={"managed-by": "other", "hsnap/server-id": str(WEB)},
    )
    client.images.change_protection(Image(id=ids["web-1 hsnap 400d"]), delete=True)
    client.images.update(Image(id=ids["db-1 hsnap 400d"]), labels={})
    client.images.delete(Image(id=ids["web-1 hsnap 100d"]))

    done = {r.description: r for r in execute(cloud, rows, dry_run=False)}

    for changed in ("web-1 hsnap 800d", "web-1 hsnap 400d", "db-1 hsnap 400d"):
        assert done[changed].result == "skipped", done[changed]
        assert "left alone" in (done[changed].error or "")
    assert (done["web-1 hsnap 100d"].result, done["web-1 hsnap 100d"].error) == (
        "skipped",
        "already gone",
    )
    left = survivors(sim)
    assert left >= {"web-1 hsnap 800d", "web-1 hsnap 400d", "db-1 hsnap 400d"}
    unchanged = BARE_DELETES - {
        "web-1 hsnap 800d",
        "web-1 hsnap 400d",
        "db-1 hsnap 400d",
        "web-1 hsnap 100d",
    }
    assert {d for d, r in done.items() if r.result == "deleted"} == unchanged
    assert not left & unchanged


# -- failures ---------------------------------------------------------------------------------


def test_a_failing_delete_is_a_failed_row_and_the_image_stays(sim: SimulatorServer) -> None:
    add_fault(sim, method="DELETE", path="/images/*", code="server_error", count=1000)
    before = survivors(sim)

    rows = prune(sim, BARE)

    failed = [r for r in rows if r.result == "failed"]
    assert {r.description for r in failed} == BARE_DELETES
    assert all("server_error" in (r.error or "") for r in failed), failed[0].error
    assert survivors(sim) == before
    # one attempt per image: a delete is not retried blindly
    assert deletes(sim) == len(BARE_DELETES)

    with sim.state.lock:
        sim.state.project().faults.clear()
    assert described(prune(sim, BARE), "deleted") == BARE_DELETES
