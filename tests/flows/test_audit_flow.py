"""The audit flow against the simulator: freshness per server, costs at the API's price, artifacts.

The fleet is ``tests/prune_world.py``'s (web-1 with hsnap's snapshots up to 1 day old and others'
snapshots, db-1 whose newest is 2 weeks old, snapshots of a deleted server) plus app-1, never
snapshotted. The simulator's price is not Hetzner's, so a hard-coded price would show.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from hcloud_sim import SimulatorServer
from hsnap.flows.audit_snapshots import audit_snapshots
from hsnap.flows.snapshot_servers import snapshot_servers
from tests.flows.conftest import HsnapEnv, artifacts_of
from tests.prune_world import GONE, IMAGES, world

PRICE = Decimal("0.0200")  # EUR per GB-month, net; Hetzner's list price differs


def audit_world() -> dict[str, Any]:
    spec = world({"name": "web-1"}, {"name": "db-1"}, {"name": "app-1"})
    spec["catalog"] = {"image_price_per_gb_month": str(PRICE)}
    project = spec["projects"][0]
    verified = {**IMAGES[0], "labels": {**IMAGES[0]["labels"], "hsnap/verified": "2026-11-20"}}
    project["images"] = [verified, *IMAGES[1:]]
    return spec


def snapshot_sizes(sim: SimulatorServer) -> dict[int | None, list[float]]:
    """Sizes of every snapshot by the id of the server it belongs to (ground truth)."""
    sizes: dict[int | None, list[float]] = {}
    for image in sim.state.ground_truth()["images"]:
        if image["type"] != "snapshot":
            continue
        owner = (image.get("created_from") or {}).get("id")
        owner = owner or int(image["labels"].get("hsnap/server-id", 0)) or None
        sizes.setdefault(owner, []).append(image["image_size"] or 0.0)
    return sizes


def test_audit_names_stale_and_never_snapshotted_servers_and_prices_every_snapshot(
    hsnap_env: HsnapEnv,
) -> None:
    sim = hsnap_env(audit_world(), token="sim-readonly")  # a read-only token is enough

    state = audit_snapshots(return_state=True)

    assert state.is_failed()
    assert (state.message or "").endswith(
        "2 of 3 server(s) have no snapshot younger than 26 h: app-1, db-1"
    )
    report = state.result(raise_on_failure=False)["report"]
    servers = {s["server"]: s for s in report["servers"]}
    web, db, app = servers["web-1"], servers["db-1"], servers["app-1"]
    assert (web["meets_rpo"], web["newest_by_hsnap"]) == (True, True)
    assert 24 <= web["age_hours"] < 25  # "web-1 hsnap 1d": the 1-hour one is still creating
    assert web["last_drill"] == "2026-11-20"
    assert (db["meets_rpo"], db["newest_by_hsnap"], db["last_drill"]) == (False, True, None)
    assert 14 * 24 <= db["age_hours"] < 14 * 24 + 1
    assert (app["newest_image_id"], app["count"]) == (None, 0)
    assert report["never_snapshotted"] == ["app-1"]
    sizes = snapshot_sizes(sim)
    ids = {s["server"]: s["server_id"] for s in report["servers"]}
    assert web["count"] == len(sizes[ids["web-1"]])  # hsnap's and everybody else's
    assert Decimal(web["monthly_cost"]) == (Decimal(str(sum(sizes[ids["web-1"]]))) * PRICE)
    assert [(o["server_id"], o["count"]) for o in report["orphans"]] == [(GONE, 2)]
    every = [s for group in sizes.values() for s in group]
    assert report["totals"]["count"] == len(every)
    assert Decimal(report["totals"]["monthly_cost"]) == Decimal(str(sum(every))) * PRICE

    assert state.state_details.flow_run_id is not None
    artifacts = artifacts_of(state.state_details.flow_run_id)
    table = artifacts["audit-snapshots-report"]
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert {r["server"]: r["RPO"] for r in rows if r["RPO"]} == {
        "web-1": "ok",
        "db-1": "BREACH",
        "app-1": "NEVER",
    }
    summary = str(artifacts["audit-snapshots-summary"].data)
    assert "**db-1**" in summary
    assert "Never snapshotted: app-1." in summary
    assert "Snapshots of deleted servers" in summary


def test_after_a_snapshot_run_every_server_meets_the_rpo(hsnap_env: HsnapEnv) -> None:
    hsnap_env(audit_world())
    assert snapshot_servers(return_state=True).is_completed()

    state = audit_snapshots(rpo_hours=1, return_state=True)

    assert state.is_completed(), state.message
    assert state.message == "all 3 server(s) have a snapshot younger than 1 h"


def hsnaps_snapshots(sim: SimulatorServer) -> list[dict[str, Any]]:
    images = sim.state.ground_truth()["images"]
    return [
        i for i in images if i["labels"].get("managed-by") == "hsnap" and i["type"] == "snapshot"
    ]


def test_the_snapshot_runs_summary_says_what_it_created_and_what_snapshots_cost(
    hsnap_env: HsnapEnv,
) -> None:
    sim = hsnap_env(audit_world())
    before = len(hsnaps_snapshots(sim))

    state = snapshot_servers(servers=["app-1"], return_state=True)

    assert state.is_completed(), state.message
    made = state.result()["servers"][0]["image_size_gb"]
    run_id = state.state_details.flow_run_id
    assert run_id is not None
    summary = str(artifacts_of(run_id)["snapshot-summary"].data)
    assert f"This run created 1 snapshot(s), {made:.2f} GB in all." in summary
    own = hsnaps_snapshots(sim)
    assert len(own) == before + 1
    cost = Decimal(str(sum(i["image_size"] or 0 for i in own))) * PRICE
    assert f"hsnap's {len(own)} snapshot(s) of this project" in summary
    assert f"cost {cost.quantize(Decimal('0.01'))} EUR a month (net)." in summary
