"""Retention as whole flow runs: the prune flow, and the snapshot flow with ``retention=``.

The fleet is ``tests/prune_world.py``'s. The prune task dates its plan with the machine's clock;
the simulator's clock runs 600 times faster, so a snapshot made during the run would look minutes
"in the future" to it. ``api_clock`` makes the task read the simulator's clock instead, as a
machine synchronised with NTP reads the same time as Hetzner's API.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any
from uuid import UUID

import pytest
from prefect.states import State

import hsnap.tasks.prune
from hcloud_sim import SimulatorServer
from hsnap.errors import ConfigError
from hsnap.events import ProgressEvent, subscribe
from hsnap.flows.prune_snapshots import prune_snapshots
from hsnap.flows.snapshot_servers import snapshot_servers
from hsnap.models import PruneRow, RunReport
from hsnap.retention.policy import RetentionPolicy
from tests.flows.conftest import HsnapEnv, artifacts_of
from tests.prune_world import (
    APP,
    DB,
    IMAGES,
    UNTOUCHABLE,
    WEB,
    deletes,
    images_by_description,
    managed,
    seeded_managed,
    survivors,
    world,
)

#: nothing but the safety rules: each server keeps only its newest available snapshot
BARE = RetentionPolicy(daily=0, weekly=0, monthly=0, max_deletions=None)

WEB_OLD = {
    f"web-1 hsnap {age}"
    for age in ("1d", "2d", "3d", "5d", "10d", "3w", "6w", "100d", "400d", "800d")
}
BARE_DELETES = (WEB_OLD - {"web-1 hsnap 1d"}) | {"db-1 hsnap 400d"}


@pytest.fixture
def api_clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[SimulatorServer], None]:
    """Make the prune task's ``now`` the simulator's."""

    def follow(sim: SimulatorServer) -> None:
        class SimDatetime(datetime):
            @classmethod
            def now(cls, tz: tzinfo | None = None) -> SimDatetime:
                now = sim.state.clock.now_dt()
                return cls.fromtimestamp(now.timestamp(), tz)

        monkeypatch.setattr(hsnap.tasks.prune, "datetime", SimDatetime)

    return follow


def flow_run_id(state: State[Any]) -> UUID:
    assert state.state_details.flow_run_id is not None
    return state.state_details.flow_run_id


def pruned_of(state: State[Any]) -> list[PruneRow]:
    data = state.result(raise_on_failure=False)
    assert isinstance(data, dict), f"the flow did not report: {data!r}"
    return [PruneRow.from_dict(r) for r in data["pruned"]]


def table_of(state: State[Any], key: str) -> list[dict[str, str]]:
    artifact = artifacts_of(flow_run_id(state))[key]
    assert artifact.type == "table"
    data = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    assert isinstance(data, list)
    return data


# -- the prune flow ---------------------------------------------------------------------------


def test_prune_flow_deletes_only_hsnaps_older_snapshots_and_publishes_the_plan(
    hsnap_env: HsnapEnv,
) -> None:
    sim = hsnap_env(world())
    everything = survivors(sim)
    managed_ids = seeded_managed(sim)

    state = prune_snapshots(retention=BARE, return_state=True)

    assert state.is_completed(), state.message
    rows = pruned_of(state)
    assert {r.image_id for r in rows} == set(managed_ids)
    assert {r.description for r in rows if r.result == "deleted"} == BARE_DELETES
    left = survivors(sim)
    assert left == everything - BARE_DELETES
    assert left >= UNTOUCHABLE.keys() | {"web-1 hsnap 1d", "db-1 hsnap 2w", "orphan hsnap 60d"}

    plan = table_of(state, "prune-plan")
    assert {int(r["image id"]) for r in plan} == set(managed_ids)
    assert all(r["decision"] in ("keep", "delete") and r["reason"] for r in plan)
    assert {r["result"] for r in plan} == {"kept", "deleted"}
    summary = artifacts_of(flow_run_id(state))["prune-summary"]
    assert summary.type == "markdown"
    assert f"{len(BARE_DELETES)} deleted" in str(summary.data)


def test_prune_flow_dry_run_with_a_read_only_token_deletes_nothing(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env(world(), token="sim-readonly")
    before = images_by_description(sim)

    state = prune_snapshots(retention=BARE, dry_run=True, return_state=True)

    assert state.is_completed(), state.message
    rows = pruned_of(state)
    assert {r.description for r in rows if r.result == "would delete"} == BARE_DELETES
    assert "would be deleted (dry run)" in (state.message or "")
    assert images_by_description(sim) == before
    assert deletes(sim) == 0
    assert {r["result"] for r in table_of(state, "prune-plan")} == {"kept", "would delete"}


def test_prune_flow_with_failing_deletes_ends_failed(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env(world())

    sim.state.add_fault(method="DELETE", path="/images/*", code="server_error", count=1000)
    before = survivors(sim)

    state = prune_snapshots(retention=BARE, return_state=True)

    assert state.is_failed()
    assert "failed to delete" in (state.message or "")
    rows = pruned_of(state)
    assert {r.description for r in rows if r.result == "failed"} == BARE_DELETES
    assert survivors(sim) == before
    plan = table_of(state, "prune-plan")
    assert sum(1 for r in plan if r["result"].startswith("failed")) == len(BARE_DELETES)


# -- the snapshot flow with retention ----------------------------------------------------------

#: web-1 snapshots fine; db-1's snapshot action fails; app-1 stays locked past any deadline
MIXED = world(
    {"name": "web-1"},
    {"name": "db-1", "snapshot_error": {"code": "action_failed", "message": "disk read error"}},
    {"name": "app-1", "running_actions": [{"command": "rebuild_server", "duration": None}]},
    images=[*IMAGES, managed("app-1", APP, "2w"), managed("app-1", APP, "400d")],
)


def test_snapshot_flow_prunes_only_the_servers_it_snapshotted(
    hsnap_env: HsnapEnv, api_clock: Callable[[SimulatorServer], None]
) -> None:
    sim = hsnap_env(MIXED)
    api_clock(sim)
    everything = survivors(sim)

    state = snapshot_servers(retention=BARE, lock_wait_minutes=1, return_state=True)

    assert state.is_failed()
    report = RunReport.from_dict(state.result(raise_on_failure=False))
    outcome = {o.server: o for o in report.outcomes}
    assert outcome["web-1"].status == "succeeded"
    assert (outcome["db-1"].status, outcome["app-1"].status) == ("failed", "failed")
    assert outcome["app-1"].error_code == "lock_timeout"
    new = outcome["web-1"].image_id
    assert new is not None

    # only web-1's snapshots were planned; the new one is its newest, so it stays
    assert {r.server_id for r in report.pruned} == {WEB}
    assert {r.description for r in report.pruned if r.result == "deleted"} == WEB_OLD
    [new_row] = [r for r in report.pruned if r.image_id == new]
    assert (new_row.action, new_row.reason) == ("keep", "kept: newest available")

    images = images_by_description(sim)
    assert new in {i["id"] for i in images.values()}
    left = set(images)
    assert not left & WEB_OLD
    # the failed servers keep every old snapshot, and nothing hsnap did not make was touched
    assert left >= {"db-1 hsnap 2w", "db-1 hsnap 400d", "app-1 hsnap 2w", "app-1 hsnap 400d"}
    assert left >= UNTOUCHABLE.keys() | {"orphan hsnap 30d", "orphan hsnap 60d"}
    assert everything - left == WEB_OLD
    created = set(sim.state.ground_truth()["created_images"])
    assert {d for d, i in images.items() if i["id"] in created} == left - everything

    plan = table_of(state, "prune-plan")
    assert {int(r["image id"]) for r in plan} == {r.image_id for r in report.pruned}
    assert "retention:" in (state.message or "")


def test_snapshot_flow_dry_run_with_retention_plans_and_changes_nothing(
    hsnap_env: HsnapEnv, api_clock: Callable[[SimulatorServer], None]
) -> None:
    sim = hsnap_env(world(), token="sim-readonly")
    api_clock(sim)
    before = images_by_description(sim)

    state = snapshot_servers(retention=BARE, dry_run=True, return_state=True)

    assert state.is_completed(), state.message
    report = RunReport.from_dict(state.result(raise_on_failure=False))
    assert {o.status for o in report.outcomes} == {"planned"}
    assert {r.server_id for r in report.pruned} == {WEB, DB}
    assert {r.description for r in report.pruned if r.result == "would delete"} == BARE_DELETES
    assert images_by_description(sim) == before
    assert sim.state.ground_truth()["created_images"] == []
    assert deletes(sim) == 0
    assert "prune-plan" in artifacts_of(flow_run_id(state))


# -- bad input fails before anything changes ---------------------------------------------------


def test_an_unknown_timezone_fails_the_snapshot_flow_before_any_snapshot(
    hsnap_env: HsnapEnv,
) -> None:
    sim = hsnap_env(world())

    state = snapshot_servers(retention=BARE, timezone="Mars/Olympus", return_state=True)

    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, ConfigError)
    assert "unknown timezone 'Mars/Olympus'" in str(error)
    assert sim.state.ground_truth()["created_images"] == []
    assert sim.state.request_counts() == []


def test_an_unknown_timezone_fails_the_prune_flow_before_any_request(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env(world())

    state = prune_snapshots(timezone="Mars/Olympus", return_state=True)

    assert state.is_failed()
    assert isinstance(state.result(raise_on_failure=False), ConfigError)
    assert sim.state.request_counts() == []


def test_a_failing_retention_step_still_publishes_the_snapshot_report(
    hsnap_env: HsnapEnv,
) -> None:
    sim = hsnap_env(world())

    before = survivors(sim)
    snapshotted: set[str] = set()

    def break_image_listing(event: ProgressEvent) -> None:
        # once every snapshot is available (its own batched image read done), listing the
        # images fails, after hsnap's read retries, for the rest of the run: retention's listing
        if event.phase == "succeeded" and event.server not in snapshotted:
            snapshotted.add(event.server)
            if snapshotted == {"web-1", "db-1"}:
                sim.state.add_fault(method="GET", path="/images", code="server_error", count=1000)

    unsubscribe = subscribe(break_image_listing)
    try:
        state = snapshot_servers(retention=BARE, return_state=True)
    finally:
        unsubscribe()

    assert state.is_failed()
    assert "retention failed" in (state.message or "")
    report = RunReport.from_dict(state.result(raise_on_failure=False))
    assert {o.status for o in report.outcomes} == {"succeeded"}
    assert report.pruned == ()
    assert "listing images" in (report.prune_error or "")
    assert "snapshot-report" in artifacts_of(flow_run_id(state))
    assert before <= survivors(sim)  # nothing was deleted
