"""The recipe a snapshot carries, and ``restore --replace`` from it, against the simulator.

The scenario ``tests/data/wired.yaml`` holds a wired server; the test snapshots it as a run does
(recipe read once, written into the snapshot's labels), deletes it through the API, replaces it,
and compares the server and what points at it, field by field, with what was there before.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from hcloud_sim import SimulatorServer
from hsnap.cloud.client import Cloud
from hsnap.errors import ConfigError, GoneError
from hsnap.flows.snapshot_servers import recipe_labels
from hsnap.observe.audit import audit
from hsnap.policy import ownership_labels
from hsnap.restore.replace import Steps, create_body, replace
from hsnap.restore.replace_plan import REPLACED_BY_LABEL, plan_replace
from hsnap.snapshot.recipe import from_labels
from hsnap.snapshot.recipe_read import read_recipes
from hsnap.snapshot.take import SnapshotPlan, take_snapshot
from tests.conftest import SimFactory
from tests.hsnap.world import RUN, SCALE, add_fault, connect

WIRED = Path(__file__).parent.parent / "data" / "wired.yaml"
#: what may differ between a server and its replacement
NEW_ON_REPLACE = ("id", "created", "image")


@pytest.fixture
def sim(make_sim: SimFactory) -> SimulatorServer:
    return make_sim(WIRED, time_scale=SCALE)


def get(cloud: Cloud, path: str) -> dict[str, Any]:
    return cloud.raw("GET", path, path)


def server_json(cloud: Cloud, name: str) -> dict[str, Any]:
    found = get(cloud, f"/servers?name={name}")["servers"]
    assert len(found) == 1, found
    return dict(found[0])


def snapshot(cloud: Cloud, name: str) -> int:
    """What a run does for one server: read the recipe, snapshot with it in the labels."""
    server = cloud.find_server(name)
    assert server is not None
    recipe = read_recipes(cloud, [server.id])[server.id]
    labels = {**recipe_labels(recipe), **ownership_labels(server.id, RUN)}
    plan = SnapshotPlan(server, f"{name}-snap", labels, RUN, 600.0, 3600.0)
    outcome = take_snapshot(cloud, plan)
    assert outcome.image_id is not None
    return outcome.image_id


def delete(cloud: Cloud, server_id: int) -> None:
    """Delete a server through the API, protection removed first, and wait until it is gone."""
    base = f"/servers/{server_id}"
    action = cloud.raw(
        "POST", f"{base}/actions/change_protection", "x", json={"delete": False, "rebuild": False}
    )
    cloud.clock.sleep(5)
    assert action["action"]["id"]
    gone = cloud.raw("DELETE", base, "delete")["action"]["id"]
    while cloud.get_action(gone).status == "running":
        cloud.clock.sleep(5)


#: every family that can point at a server (those the simulator does not serve yet are skipped)
FAMILIES = (
    "networks",
    "placement_groups",
    "firewalls",
    "load_balancers",
    "primary_ips",
    "floating_ips",
    "volumes",
)


def world_of(cloud: Cloud, server_id: int) -> dict[str, Any]:
    """Every resource of every family, the server's id replaced by a marker, lists sorted."""
    seen: dict[str, Any] = {}
    for family in FAMILIES:
        try:
            items = get(cloud, f"/{family}")[family]
        except GoneError:
            continue
        for item in items:
            seen[f"{family} {item['id']}"] = _marked(item, server_id)
    return seen


def state_of(sim: SimulatorServer) -> dict[str, Any]:
    """The simulator's ground truth without its clock and rate bucket (reads move those)."""
    truth = sim.state.ground_truth()
    return {k: v for k, v in truth.items() if k not in ("now", "rate_limit")}


def comparable(server: dict[str, Any]) -> dict[str, Any]:
    """A server's JSON without what a new server always has anew: its id, creation, image, and
    the MAC address of each network attachment (Hetzner hands out a new one per attachment),
    and the backup window (only whether backups are on)."""
    marked = _marked({k: v for k, v in server.items() if k not in NEW_ON_REPLACE}, server["id"])
    for seat in marked["private_net"]:
        seat.pop("mac_address")
    # backups on or off; the window is Hetzner's to pick (enable_backup takes none)
    marked["backup_window"] = marked["backup_window"] is not None
    return dict(marked)


def _marked(value: Any, server_id: int) -> Any:
    if isinstance(value, dict):
        return {k: _marked(v, server_id) for k, v in value.items()}
    if isinstance(value, list):
        items = [_marked(v, server_id) for v in value]
        return sorted(items, key=repr)
    return "SERVER" if value == server_id and not isinstance(value, bool) else value


def test_the_recipe_records_what_the_server_is_tied_to(sim: SimulatorServer) -> None:
    cloud = connect(sim)
    image = cloud.get_image(snapshot(cloud, "web-1"))
    recipe = from_labels(image.labels)

    assert recipe is not None
    assert (recipe.name, recipe.server_type, recipe.location) == ("web-1", "cx22", "fsn1")
    assert recipe.labels == {"env": "prod", "role": "web"}
    assert (recipe.delete_protected, recipe.rebuild_protected, recipe.backups) == (True,) * 3
    seats = {(n.name, n.ip, tuple(n.alias_ips)) for n in recipe.networks}
    assert seats == {
        ("backend", "10.1.0.5", ("10.1.0.6",)),
        ("frontend", "10.2.0.7", ("10.2.0.8", "10.2.0.9")),
    }
    assert recipe.placement_group_name == "web-spread"
    assert all(len(v) <= 63 for v in image.labels.values())


def test_replace_brings_a_deleted_server_back_as_it_was(sim: SimulatorServer) -> None:
    cloud = connect(sim)
    snapshot(cloud, "web-1")
    before = server_json(cloud, "web-1")
    around = world_of(cloud, before["id"])
    delete(cloud, before["id"])

    result = replace(cloud, plan_replace(cloud, "web-1"))

    after = server_json(cloud, "web-1")
    assert after["id"] == result.server_id != before["id"]
    old, new = comparable(before), comparable(after)
    assert [(k, old[k], new[k]) for k in old if old[k] != new[k]] == []
    assert world_of(cloud, after["id"]) == around


def test_a_rerun_finishes_and_never_makes_a_second_server(sim: SimulatorServer) -> None:
    cloud = connect(sim)
    image_id = snapshot(cloud, "web-1")
    old = server_json(cloud, "web-1")["id"]
    delete(cloud, old)
    plan = plan_replace(cloud, "web-1")
    # a crash right after the create: the server exists, none of the later steps ran
    body = create_body(Steps(cloud, logging.getLogger(__name__), 600.0), plan)
    assert body["image"] == str(image_id)
    made = cloud.raw("POST", "/servers", "create", json=body)["server"]["id"]

    resumed = plan_replace(cloud, "web-1")
    assert resumed.resume is not None
    assert resumed.resume["id"] == made
    result = replace(cloud, resumed)

    assert result.server_id == made
    assert [s.id for s in cloud.list_servers(None) if s.name == "web-1"] == [made]
    seats = {(s["ip"], tuple(s["alias_ips"])) for s in server_json(cloud, "web-1")["private_net"]}
    assert seats == {("10.1.0.5", ("10.1.0.6",)), ("10.2.0.7", ("10.2.0.8", "10.2.0.9"))}
    assert not result.failed, result.rows
    # done: the image says so, and from now on the server is simply one that exists
    assert cloud.get_image(plan.image.id).labels.get(REPLACED_BY_LABEL) == str(made)
    with pytest.raises(ConfigError, match=r"still exists .* --in-place"):
        plan_replace(cloud, "web-1")


def test_history_moves_to_the_new_server(sim: SimulatorServer) -> None:
    cloud = connect(sim)
    first = snapshot(cloud, "web-1")
    old = server_json(cloud, "web-1")["id"]
    delete(cloud, old)
    result = replace(cloud, plan_replace(cloud, "web-1"))

    labels = cloud.get_image(first).labels
    assert labels["hsnap/server-id"] == str(result.server_id)
    # the audit counts it as the new server's, not as an orphan of a deleted one
    report = audit(
        cloud.list_servers(None), cloud.find_images(), cloud.image_price(), now=datetime.now(UTC)
    )
    assert report.orphans == ()
    [mine] = [a for a in report.servers if a.server == "web-1"]
    assert mine.holdings.count == 1


@pytest.mark.parametrize(
    ("name", "image", "message"),
    [
        ("nope", None, "no server named 'nope' and no snapshot"),
        ("web-1", None, r"still exists .* --in-place"),
        ("gone", "web-2", "not a snapshot or backup of gone"),
    ],
)
def test_bad_input_changes_nothing(
    sim: SimulatorServer, name: str, image: str | None, message: str
) -> None:
    cloud = connect(sim)
    web2 = snapshot(cloud, "web-2")
    snapshot(cloud, "web-1")
    if name == "gone":  # web-1 is gone; web-2's snapshot is not one of its
        delete(cloud, server_json(cloud, "web-1")["id"])
        name, message = "web-1", "not a snapshot or backup of web-1"
    truth = state_of(sim)

    with pytest.raises(ConfigError, match=message):
        plan_replace(cloud, name, web2 if image else None)
    assert state_of(sim) == truth


def test_a_read_only_token_is_refused(make_sim: SimFactory) -> None:
    sim = make_sim(WIRED, time_scale=SCALE)
    cloud = connect(sim, token="sim-readonly")
    with pytest.raises(ConfigError, match="read-only") as caught:
        plan_replace(cloud, "web-1")
    assert caught.value.code == "token_readonly"


def test_a_step_that_cannot_be_done_is_named_and_the_rest_still_happens(
    sim: SimulatorServer,
) -> None:
    cloud = connect(sim)
    snapshot(cloud, "web-1")
    before = server_json(cloud, "web-1")
    delete(cloud, before["id"])
    # since then: its volume and its direct firewall were deleted, and another server took its
    # address in backend
    [volume] = before["volumes"]
    cloud.raw("DELETE", f"/volumes/{volume}", "delete volume")
    ssh = next(f["id"] for f in get(cloud, "/firewalls")["firewalls"] if f["name"] == "web-ssh")
    cloud.raw("DELETE", f"/firewalls/{ssh}", "delete firewall")
    backend = before["private_net"][0]["network"]
    web2 = server_json(cloud, "web-2")["id"]
    taken = cloud.raw(
        "POST",
        f"/servers/{web2}/actions/attach_to_network",
        "attach",
        json={"network": backend, "ip": "10.1.0.5"},
    )
    while cloud.get_action(taken["action"]["id"]).status == "running":
        cloud.clock.sleep(5)

    result = replace(cloud, plan_replace(cloud, "web-1"))

    failed = {(r.step, r.target): r.detail for r in result.failed}
    assert "restore it from your own backup" in failed[("volume", "web-data")]
    assert "10.1.0.5 is taken" in failed[("network", "backend at 10.1.0.5")]
    assert "create it again" in failed[("firewall", "web-ssh")]
    done = {(r.step, r.target) for r in result.rows if r.status in ("done", "kept")}
    assert {
        ("network", "frontend at 10.2.0.7"),
        ("floating IP", "192.0.2.2"),
        ("firewall", "web-http"),
        ("load balancer", "lb-direct"),
    } <= done
    assert server_json(cloud, "web-1")["protection"] == {"delete": True, "rebuild": True}


def test_recipes_cost_one_request_per_family_not_per_server(make_sim: SimFactory) -> None:
    spec = yaml.safe_load(WIRED.read_text())
    project = spec["projects"][0]
    project["servers"].append({"name": "app-{i}", "count": 60})
    project["networks"][1]["servers"] += [{"name": f"app-{i}"} for i in range(1, 61)]
    sim = make_sim(spec, time_scale=SCALE)
    cloud = connect(sim)
    ids = [s.id for s in cloud.list_servers(None)]
    before = {(r["method"], r["endpoint"]): r["count"] for r in sim.state.request_counts()}

    recipes = read_recipes(cloud, ids)

    after = {(r["method"], r["endpoint"]): r["count"] for r in sim.state.request_counts()}
    spent = {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}
    assert len(recipes) == 62
    # servers and networks: two pages of 50 each; one page for each other family
    assert spent == {
        ("GET", "/servers"): 2,
        ("GET", "/networks"): 1,
        ("GET", "/primary_ips"): 3,
        ("GET", "/floating_ips"): 1,
        ("GET", "/volumes"): 1,
        ("GET", "/firewalls"): 1,
        ("GET", "/load_balancers"): 1,
    }


def test_an_api_that_refuses_the_recipe_labels_still_gets_the_snapshot(
    sim: SimulatorServer,
) -> None:
    cloud = connect(sim)
    add_fault(
        sim, method="POST", path="/servers/*/actions/create_image", code="invalid_input", count=1
    )

    image = cloud.get_image(snapshot(cloud, "web-1"))

    assert from_labels(image.labels) is None
    assert image.labels["hsnap/server-id"] == str(server_json(cloud, "web-1")["id"])
