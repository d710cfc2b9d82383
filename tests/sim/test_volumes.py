"""Volumes: the real SDK, raw HTTP for bad input, and the official Go CLI (``_attached``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import hcloud
import pytest
from hcloud import APIException
from hcloud.images import Image
from hcloud.locations import Location
from hcloud.server_types import ServerType
from hcloud.servers import Server
from hcloud.volumes import Volume

from hcloud_sim import SimulatorServer
from hcloud_sim.spec import Scenario
from hcloud_sim.state import Simulator
from tests.conftest import ClientFactory, SimFactory
from tests.openapi_check import ExchangeValidator
from tests.sim._api import RawApi, clock_stepping, error_of
from tests.sim._attached import ATTACHED, DATA_1, FAR, LOOSE, NBG_1, OFF_1, VIP, WEB_1
from tests.sim._gocli import FAST, Run, failed_requests, find_hcloud, runner


@pytest.fixture
def world(make_sim: SimFactory) -> SimulatorServer:
    return make_sim(ATTACHED, time_scale=1)


@pytest.fixture
def cloud(world: SimulatorServer, make_client: ClientFactory) -> hcloud.Client:
    return make_client(world, poll_interval=clock_stepping(world, 5.0))


@pytest.fixture
def wire(world: SimulatorServer, schema_check: ExchangeValidator) -> RawApi:
    return RawApi(world, schema_check)


def _refused(call: Any) -> tuple[str, str]:
    with pytest.raises(APIException) as caught:
        call()
    return str(caught.value.code), str(caught.value.message)


def test_the_server_lists_its_volumes(cloud: hcloud.Client) -> None:
    data = cloud.volumes.get_by_id(DATA_1)
    assert (data.name, data.size, data.server.id, data.location.name) == (
        "data-1",
        50,
        WEB_1,
        "fsn1",
    )
    assert data.linux_device == f"/dev/disk/by-id/scsi-0HC_Volume_{DATA_1}"
    assert [v.id for v in cloud.servers.get_by_id(WEB_1).volumes] == [DATA_1]
    assert [v.id for v in cloud.volumes.get_all(label_selector="role=db")] == [DATA_1]


def test_create_for_a_server_creates_then_attaches(cloud: hcloud.Client) -> None:
    created = cloud.volumes.create(
        size=20, name="fresh", server=Server(id=OFF_1), automount=True, format="ext4"
    )
    volume = created.volume
    assert (volume.status, volume.location.name, volume.format) == ("creating", "fsn1", "ext4")
    assert volume.server is None  # attached once the attach_volume action is over
    assert [a.command for a in created.next_actions] == ["attach_volume"]
    for action in (created.action, *created.next_actions):
        action.wait_until_finished()
    done = cloud.volumes.get_by_id(volume.id)
    assert (done.status, done.server.id) == ("available", OFF_1)
    assert [v.id for v in cloud.servers.get_by_id(OFF_1).volumes] == [volume.id]


def test_attach_only_within_the_location(cloud: hcloud.Client) -> None:
    code, message = _refused(lambda: cloud.volumes.attach(Volume(id=FAR), Server(id=OFF_1)))
    assert code == "invalid_input"
    assert "nbg1" in message
    cloud.volumes.attach(Volume(id=FAR), Server(id=NBG_1), automount=True).wait_until_finished()
    assert cloud.volumes.get_by_id(FAR).server.id == NBG_1
    code, _ = _refused(lambda: cloud.volumes.attach(Volume(id=FAR), Server(id=NBG_1)))
    assert code == "invalid_input"  # already attached


def test_attach_locks_the_volume_and_the_server(
    cloud: hcloud.Client, wire: RawApi, world: SimulatorServer
) -> None:
    action = cloud.volumes.attach(Volume(id=LOOSE), Server(id=WEB_1))
    assert action.status == "running"
    assert error_of(wire.post(f"/servers/{WEB_1}/actions/create_image", {})) == (
        423,
        "locked",
        "cannot perform operation because server is locked",
    )
    assert error_of(wire.post(f"/volumes/{LOOSE}/actions/resize", {"size": 20}))[:2] == (
        423,
        "locked",
    )
    assert cloud.volumes.get_by_id(LOOSE).server is None
    action.wait_until_finished()
    assert cloud.volumes.get_by_id(LOOSE).server.id == WEB_1
    assert world.state.server_by_name("web-1").lock_holders == set()


def test_detach_and_resize_grow_only(cloud: hcloud.Client) -> None:
    cloud.volumes.detach(Volume(id=DATA_1)).wait_until_finished()
    assert cloud.servers.get_by_id(WEB_1).volumes == []
    code, _ = _refused(lambda: cloud.volumes.detach(Volume(id=DATA_1)))
    assert code == "invalid_input"  # not attached
    code, message = _refused(lambda: cloud.volumes.resize(Volume(id=DATA_1), 40))
    assert code == "invalid_input"
    assert "greater than the current size (50 GB)" in message
    cloud.volumes.resize(Volume(id=DATA_1), 100).wait_until_finished()
    assert cloud.volumes.get_by_id(DATA_1).size == 100


def test_deleting_a_server_detaches_its_volumes(cloud: hcloud.Client) -> None:
    cloud.servers.delete(Server(id=WEB_1))
    data = cloud.volumes.get_by_id(DATA_1)
    assert data.server is None  # never deleted with the server


def test_delete_needs_detached_and_unprotected(cloud: hcloud.Client) -> None:
    code, _ = _refused(lambda: cloud.volumes.delete(Volume(id=DATA_1)))
    assert code == "invalid_input"
    cloud.volumes.change_protection(Volume(id=LOOSE), delete=True).wait_until_finished()
    assert _refused(lambda: cloud.volumes.delete(Volume(id=LOOSE)))[0] == "protected"
    cloud.volumes.change_protection(Volume(id=LOOSE), delete=False)
    assert cloud.volumes.delete(Volume(id=LOOSE))
    assert cloud.volumes.get_by_name("loose") is None


def test_a_created_server_takes_volumes(cloud: hcloud.Client) -> None:
    created = cloud.servers.create(
        name="with-disk", server_type=ServerType(name="cx22"), image=Image(name="ubuntu-24.04"),
        location=Location(name="fsn1"), volumes=[Volume(id=LOOSE)], automount=True,
    )  # fmt: skip
    assert [v.id for v in created.server.volumes] == [LOOSE]
    assert cloud.volumes.get_by_id(LOOSE).server.id == created.server.id


@pytest.mark.parametrize(
    ("volumes", "message"),
    [
        ([FAR], "is in nbg1"),
        ([DATA_1], "already attached"),
        ([999], "volume 999 not found"),
        ([VIP], f"volume {VIP} not found"),  # a floating IP's id
        ([LOOSE, LOOSE], "twice"),
        (["loose"], "list of volume ids"),
    ],
)
def test_a_refused_server_volume_changes_nothing(
    wire: RawApi, world: SimulatorServer, volumes: list[Any], message: str
) -> None:
    before = world.state.ground_truth()
    body = {"name": "x", "server_type": "cx22", "image": "ubuntu-24.04", "location": "fsn1"}
    status, code, text = error_of(wire.post("/servers", {**body, "volumes": volumes}))
    assert (status, code) == (422, "invalid_input")
    assert message in text
    after = world.state.ground_truth()
    assert (after["servers"], after["volumes"]) == (before["servers"], before["volumes"])


V, ACT = "/volumes", f"/volumes/{LOOSE}/actions"
BAD = (422, "invalid_input")
BAD_INPUT: list[tuple[str, str, dict[str, Any] | None, tuple[int, str]]] = [
    ("POST", V, {"name": "x", "size": 9, "location": "fsn1"}, BAD),
    ("POST", V, {"name": "x", "size": 10241, "location": "fsn1"}, BAD),
    ("POST", V, {"name": "x", "size": "10", "location": "fsn1"}, BAD),
    ("POST", V, {"name": "x", "location": "fsn1"}, BAD),
    ("POST", V, {"name": "x", "size": 10}, BAD),
    ("POST", V, {"name": "-x", "size": 10, "location": "fsn1"}, BAD),
    ("POST", V, {"name": "loose", "size": 10, "location": "fsn1"}, (409, "uniqueness_error")),
    ("POST", V, {"name": "x", "size": 10, "location": "fsn1", "format": "ntfs"}, BAD),
    ("POST", V, {"name": "x", "size": 10, "location": "fsn1", "automount": True}, BAD),
    ("POST", V, {"name": "x", "size": 10, "server": WEB_1, "location": "nbg1"}, BAD),
    ("POST", V, {"name": "x", "size": 10, "server": VIP}, (404, "not_found")),
    ("POST", f"{ACT}/attach", {"server": VIP}, (404, "not_found")),
    ("POST", f"{ACT}/attach", {}, BAD),
    ("POST", f"{ACT}/resize", {"size": 10.5}, BAD),
    ("POST", f"{ACT}/resize", {}, BAD),
    ("POST", f"{V}/{VIP}/actions/detach", None, (404, "not_found")),
    ("PUT", f"{V}/{LOOSE}", {"name": "data-1"}, (409, "uniqueness_error")),
    ("DELETE", f"{V}/{DATA_1}", None, BAD),
    ("GET", f"{V}?status=gone", None, BAD),
    ("GET", f"{V}?sort=size", None, BAD),
]  # fmt: skip


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_is_refused_and_changes_nothing(
    wire: RawApi,
    world: SimulatorServer,
    case: tuple[str, str, dict[str, Any] | None, tuple[int, str]],
) -> None:
    method, path, body, expected = case
    before = world.state.ground_truth()
    answer = wire.session.request(method, wire.url + path, json=body, timeout=10)
    assert error_of(answer)[:2] == expected
    after = world.state.ground_truth()
    assert (after["volumes"], after["actions"]) == (before["volumes"], before["actions"])


@pytest.mark.gocli
def test_go_cli_volume_create_attach_resize_detach(make_sim: SimFactory, tmp_path: Path) -> None:
    sim = make_sim(ATTACHED, time_scale=FAST)
    hcloud_cli: Run = runner(find_hcloud(), sim, tmp_path)

    def volume(name: str) -> dict[str, Any]:
        return next(v for v in sim.state.ground_truth()["volumes"] if v["name"] == name)

    out = hcloud_cli("volume", "create", "--name", "cli-vol", "--size", "15", "--location", "fsn1")
    made = volume("cli-vol")
    assert re.search(rf"Volume {made['id']} created", out.stdout), out.stdout
    assert (made["size"], made["status"]) == (15, "available")  # the CLI waited for create
    hcloud_cli("volume", "attach", "--server", "off-1", "--automount", "cli-vol")
    assert volume("cli-vol")["server"] == OFF_1
    hcloud_cli("volume", "resize", "--size", "30", "cli-vol")
    assert volume("cli-vol")["size"] == 30
    hcloud_cli("volume", "detach", "cli-vol")
    assert volume("cli-vol")["server"] is None
    made_for = hcloud_cli("volume", "create", "--name", "for-web", "--size", "10",
                          "--server", "web-1")  # fmt: skip
    assert "for-web" in made_for.stdout or "created" in made_for.stdout
    assert volume("for-web")["server"] == WEB_1
    assert not failed_requests(sim)


# -- scenario sections of the three families (primary_ips, floating_ips, volumes) ---------------


@pytest.mark.parametrize(
    ("section", "entry", "message"),
    [
        ("primary_ips", {"name": "x", "server": "ghost"}, "no server 'ghost'"),
        ("primary_ips", {"name": "x", "location": "mars"}, "unknown location 'mars'"),
        ("floating_ips", {"name": "x", "server": "ghost"}, "no server 'ghost'"),
        ("volumes", {"name": "x", "server": "web-1", "location": "nbg1"}, "its server elsewhere"),
        ("volumes", {"name": "x", "size": 5}, "greater than or equal to 10"),
        ("volumes", {"name": "x", "colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_a_scenario_section_that_cannot_be_built_fails_at_load(
    section: str, entry: dict[str, Any], message: str
) -> None:
    project = {"name": "p", "servers": [{"name": "web-1"}], section: [entry]}
    with pytest.raises(ValueError, match=re.escape(message)):
        Simulator(Scenario.model_validate({"projects": [project]}))
