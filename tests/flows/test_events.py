"""Every snapshot outcome is a Prefect event, read back through Prefect's events API."""

from __future__ import annotations

from typing import Any

from hsnap.flows.prune_snapshots import prune_snapshots
from hsnap.flows.snapshot_servers import snapshot_servers
from hsnap.models import PruneRow, RunReport
from hsnap.retention.policy import RetentionPolicy
from tests.flows.conftest import HsnapEnv
from tests.flows.events_api import related_flow_run, related_image, wait_for_events
from tests.hsnap.test_consistent import POWERON, snapshot_started
from tests.hsnap.world import add_fault, on_event
from tests.hsnap.world import world as one_server
from tests.prune_world import world

DEMO_SERVERS = 12


def test_each_server_gets_a_succeeded_or_failed_event_about_it(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env("demo")
    sim.state.clock.advance(600)  # the demo's own locks end; only the one below stays
    stuck = sim.state.server_by_name("web-3")
    sim.state.lock_server(stuck.id, command="rebuild_server", duration=None)

    state = snapshot_servers(lock_wait_minutes=1, return_state=True)

    report = RunReport.from_dict(state.result(raise_on_failure=False))
    run_id = report.flow_run_id
    events = wait_for_events(DEMO_SERVERS, flow_run_id=run_id)
    by_server = {e.resource.id: e for e in events}
    assert len(events) == DEMO_SERVERS == len(by_server)  # one event per server, no more
    for outcome in report.outcomes:
        event = by_server[f"hcloud.server.{outcome.server_id}"]
        assert event.resource.name == outcome.server
        assert event.resource["hcloud.project"] == "default"
        assert related_flow_run(event) == run_id
        payload: dict[str, Any] = event.payload
        assert payload["image_id"] == outcome.image_id
        assert payload["lock_wait_s"] == outcome.lock_wait_s
        if outcome.server == "web-3":
            assert event.event == "hsnap.snapshot.failed"
            assert payload["error_code"] == "lock_timeout"
            assert related_image(event) is None
        else:
            assert event.event == "hsnap.snapshot.succeeded"
            assert payload["size_gb"] == outcome.image_size_gb > 0
            assert payload["error_code"] is None
            assert related_image(event) == f"hcloud.image.{outcome.image_id}"


def test_a_server_left_powered_off_is_an_event_beside_its_snapshot(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env(one_server())
    with on_event(
        snapshot_started, lambda _: add_fault(sim, method="POST", path=POWERON, code="unavailable")
    ):
        state = snapshot_servers(consistent=True, poweron_wait_minutes=2, return_state=True)

    [row] = RunReport.from_dict(state.result(raise_on_failure=False)).outcomes
    assert row.status == "left-off"
    assert row.image_size_gb is not None  # the snapshot itself became available
    events = wait_for_events(2, flow_run_id=str(state.state_details.flow_run_id))
    assert {e.event for e in events} == {"hsnap.server.left-off", "hsnap.snapshot.succeeded"}
    left_off = next(e for e in events if e.event == "hsnap.server.left-off")
    assert left_off.resource.name == "app-1"
    assert left_off.payload["error_code"] == "left_off"
    assert left_off.payload["image_id"] == row.image_id


def test_a_dry_run_emits_nothing(hsnap_env: HsnapEnv) -> None:
    hsnap_env("demo")

    state = snapshot_servers(dry_run=True, return_state=True)

    run_id = RunReport.from_dict(state.result()).flow_run_id
    assert wait_for_events(1, flow_run_id=run_id, timeout=3) == []


def test_each_image_retention_deletes_is_a_pruned_event(hsnap_env: HsnapEnv) -> None:
    hsnap_env(world())
    bare = RetentionPolicy(daily=0, weekly=0, monthly=0, max_deletions=None)

    state = prune_snapshots(retention=bare, return_state=True)

    assert state.state_details.flow_run_id is not None
    deleted = [
        PruneRow.from_dict(r)
        for r in state.result(raise_on_failure=False)["pruned"]
        if r["result"] == "deleted"
    ]
    assert deleted
    events = wait_for_events(
        len(deleted), "hsnap.snapshot.pruned", flow_run_id=str(state.state_details.flow_run_id)
    )
    assert sorted(related_image(e) or "" for e in events) == sorted(
        f"hcloud.image.{r.image_id}" for r in deleted
    )
    for event in events:
        row = next(r for r in deleted if related_image(event) == f"hcloud.image.{r.image_id}")
        assert event.resource.id == f"hcloud.server.{row.server_id}"
        assert event.payload["size_gb"] == row.size_gb
