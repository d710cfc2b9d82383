"""hsnap restore against the simulator: a new server, in place, and every kind of bad input."""

from __future__ import annotations

from typing import Any

import pytest

from hcloud_sim import SimulatorServer
from hsnap.errors import ConfigError, HsnapError, PermanentError
from hsnap.restore.restore import (
    SAFETY_LABEL,
    RestoreRequest,
    plan_restore,
    restore_in_place,
    restore_new,
)
from tests.conftest import SimFactory
from tests.hsnap.world import APP_1, RUN, SCALE, connect, world

OURS = {"managed-by": "hsnap", "hsnap/server-id": str(APP_1)}
LABELS = {"env": "prod", "hsnap/consistent": "true", "managed-by": "hsnap"}


def _world(**project: Any) -> dict[str, Any]:
    """app-1 (cx22 in fsn1, labelled) with an older and a newer hsnap snapshot, and a big image."""
    images = [
        {"description": "older", "server": "app-1", "age": "2d", "labels": OURS},
        {"description": "newer", "server": "app-1", "age": "1d", "labels": OURS},
        {"description": "an arm image", "age": "1d", "architecture": "arm"},
        {"description": "big disk", "server": "app-1", "age": "3d", "disk": 80},
        {"description": "does not boot", "server": "app-1", "age": "3d", "boot": "stuck"},
    ]
    servers = project.pop("servers", [{"name": "app-1", "labels": LABELS}])
    return world(*servers, images=images, **project)


def _image(sim: SimulatorServer, description: str) -> int:
    found = [i["id"] for i in sim.state.ground_truth()["images"] if i["description"] == description]
    assert len(found) == 1
    return int(found[0])


def _servers(sim: SimulatorServer) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in sim.state.ground_truth()["servers"]}


@pytest.fixture
def sim(make_sim: SimFactory) -> SimulatorServer:
    return make_sim(_world(), time_scale=SCALE)


def test_restore_open_as_a_new_server_from_the_newest_snapshot(sim: SimulatorServer) -> None:
    cloud = connect(sim)
    request = RestoreRequest(server="app-1", new_name="app-1-restored", quarantine=False)
    plan = plan_restore(cloud, request)
    result = restore_new(cloud, plan)
    made = _servers(sim)["app-1-restored"]
    assert made["status"] == "running"
    assert made["image"]["id"] == _image(sim, "newer") == result.image_id
    assert (made["server_type"]["name"], made["location"]["name"]) == ("cx22", "fsn1")
    assert made["labels"] == {"env": "prod"}  # hsnap's own labels stay behind
    assert result.ipv4 == made["public_net"]["ipv4"]["ip"]  # the original has a public IPv4
    assert result.server_id == made["id"]
    assert result.seconds > 0
    assert _servers(sim)["app-1"]["status"] == "running"  # the original is untouched


def test_restore_a_given_image_on_another_type_and_location(sim: SimulatorServer) -> None:
    cloud = connect(sim)
    big = _image(sim, "big disk")
    request = RestoreRequest(
        server="app-1", new_name="copy", image_id=big, server_type="cx32", location="nbg1"
    )
    result = restore_new(cloud, plan_restore(cloud, request))
    made = _servers(sim)["copy"]
    assert (made["server_type"]["name"], made["location"]["name"]) == ("cx32", "nbg1")
    assert made["image"]["id"] == big == result.image_id


ARM = "an arm image"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"server": "nope"}, "no server named 'nope'"),
        ({"image_id": 999999}, "no image with id 999999"),
        ({"image": ARM}, "is an arm image; server type cx22 is x86"),
        ({"image": "big disk"}, "needs a 80 GB disk; server type cx22 has 40 GB"),
        ({"new_name": "app-1"}, "a server named 'app-1' already exists"),
        ({"new_name": "not a name!"}, "not a valid server name"),
        ({"server_type": "cx99"}, "unknown server type 'cx99'"),
        ({"location": "sin"}, "not offered in location 'sin'"),
        ({"new_name": None}, "--as NEW_NAME"),
        ({"new_name": None, "in_place": True, "server_type": "cx32"}, "keeps the server's type"),
        ({"new_name": None, "in_place": True, "image": ARM}, "arm image; server app-1 is x86"),
    ],
)
def test_bad_input_changes_nothing(
    sim: SimulatorServer, fields: dict[str, Any], message: str
) -> None:
    fields = dict(fields)
    if "image" in fields:
        fields["image_id"] = _image(sim, fields.pop("image"))
    request = RestoreRequest(**{"server": "app-1", "new_name": "copy", **fields})
    before = sim.state.ground_truth()
    with pytest.raises(ConfigError, match=message):
        plan_restore(connect(sim), request)
    after = sim.state.ground_truth()
    assert _servers_of(after) == _servers_of(before)
    assert after["actions"] == before["actions"]
    assert after["images"] == before["images"]


def _servers_of(truth: dict[str, Any]) -> list[tuple[int, str, int | None]]:
    return [(s["id"], s["status"], (s["image"] or {}).get("id")) for s in truth["servers"]]


def test_in_place_without_confirmation_says_what_it_would_destroy(sim: SimulatorServer) -> None:
    cloud = connect(sim)
    plan = plan_restore(cloud, RestoreRequest(server="app-1", in_place=True))
    actions = sim.state.ground_truth()["actions"]
    with pytest.raises(ConfigError) as caught:
        restore_in_place(cloud, plan, RUN)
    text = str(caught.value)
    assert text.startswith("nothing changed: rebuilding app-1")
    assert f"from image {_image(sim, 'newer')}" in text
    assert "destroys everything on its 40 GB disk" in text
    assert "a safety snapshot of the current disk is taken first" in text
    assert sim.state.ground_truth()["actions"] == actions


def test_in_place_takes_a_safety_snapshot_then_rebuilds(sim: SimulatorServer) -> None:
    cloud = connect(sim)
    request = RestoreRequest(server="app-1", in_place=True, confirmed=True)
    result = restore_in_place(cloud, plan_restore(cloud, request), RUN)
    truth = sim.state.ground_truth()
    server = _servers(sim)["app-1"]
    assert server["status"] == "running"
    assert server["image"]["id"] == _image(sim, "newer")
    safety = [i for i in truth["images"] if i["labels"].get(SAFETY_LABEL) == "restore"]
    assert [i["id"] for i in safety] == [result.safety_image_id]
    assert safety[0]["status"] == "available"
    commands = [a["command"] for a in sorted(truth["actions"], key=lambda a: a["id"])]
    assert commands.index("create_image") < commands.index("rebuild_server")


def test_in_place_without_safety_snapshot_makes_no_image(sim: SimulatorServer) -> None:
    cloud = connect(sim)
    request = RestoreRequest(server="app-1", in_place=True, confirmed=True, safety_snapshot=False)
    result = restore_in_place(cloud, plan_restore(cloud, request), RUN)
    assert result.safety_image_id is None
    assert sim.state.ground_truth()["created_images"] == []


def test_in_place_refuses_a_rebuild_protected_server(make_sim: SimFactory) -> None:
    servers = [{"name": "app-1", "protection": {"rebuild": True}}]
    sim = make_sim(_world(servers=servers), time_scale=SCALE)
    with pytest.raises(ConfigError, match="rebuild protection"):
        plan_restore(connect(sim), RestoreRequest(server="app-1", in_place=True, confirmed=True))


def test_a_read_only_token_changes_nothing(sim: SimulatorServer) -> None:
    cloud = connect(sim, token="sim-readonly")
    before = [s["id"] for s in sim.state.ground_truth()["servers"]]
    plan = plan_restore(cloud, RestoreRequest(server="app-1", new_name="copy"))
    with pytest.raises(PermanentError) as caught:
        restore_new(cloud, plan)
    assert caught.value.code == "token_readonly"
    request = RestoreRequest(server="app-1", in_place=True, confirmed=True)
    with pytest.raises(PermanentError) as caught:
        restore_in_place(cloud, plan_restore(cloud, request), RUN)
    assert caught.value.code == "token_readonly"
    assert "Read & Write" in str(caught.value)
    truth = sim.state.ground_truth()
    assert [s["id"] for s in truth["servers"]] == before
    assert truth["created_images"] == []


def test_the_server_quota_is_a_clear_error(make_sim: SimFactory) -> None:
    sim = make_sim(_world(server_quota=1), time_scale=SCALE)
    cloud = connect(sim)
    plan = plan_restore(cloud, RestoreRequest(server="app-1", new_name="copy"))
    with pytest.raises(HsnapError, match="server quota is reached"):
        restore_new(cloud, plan)
    assert list(_servers(sim)) == ["app-1"]


def test_a_deleted_server_comes_back_from_its_snapshots(sim: SimulatorServer) -> None:
    sim.state.delete_server(APP_1)
    cloud = connect(sim)
    with pytest.raises(ConfigError, match="pass --server-type and --location"):
        plan_restore(cloud, RestoreRequest(server="app-1", new_name="app-1"))
    request = RestoreRequest(
        server="app-1", new_name="app-1", server_type="cx22", location="hel1", quarantine=False
    )
    result = restore_new(cloud, plan_restore(cloud, request))
    made = _servers(sim)["app-1"]
    assert made["image"]["id"] == _image(sim, "newer") == result.image_id
    assert made["location"]["name"] == "hel1"
    assert made["public_net"]["ipv4"] is not None
    with pytest.raises(ConfigError, match="no server named 'app-9'"):
        plan_restore(
            cloud, RestoreRequest(server="app-9", new_name="x", server_type="cx22", location="fsn1")
        )


def test_in_place_waits_out_a_lock_first(make_sim: SimFactory) -> None:
    busy = {"command": "change_server_type", "duration": 300, "elapsed": 0}
    sim = make_sim(_world(servers=[{"name": "app-1", "running_actions": [busy]}]), time_scale=SCALE)
    cloud = connect(sim)
    request = RestoreRequest(server="app-1", in_place=True, confirmed=True)
    restore_in_place(cloud, plan_restore(cloud, request), RUN)
    actions = {a["command"]: a for a in sim.state.ground_truth()["actions"]}
    assert actions["change_server_type"]["status"] == "success"
    # neither the safety snapshot nor the rebuild started while the lock was held
    assert actions["create_image"]["started"] >= actions["change_server_type"]["finished"]
    assert actions["rebuild_server"]["started"] >= actions["create_image"]["finished"]
    assert _servers(sim)["app-1"]["status"] == "running"
