"""Floating IPs: the real SDK, raw HTTP for bad input, and the official Go CLI (``_attached``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import hcloud
import pytest
from hcloud import APIException
from hcloud.floating_ips import FloatingIP
from hcloud.locations import Location
from hcloud.servers import Server

from hcloud_sim import SimulatorServer
from tests.conftest import ClientFactory, SimFactory
from tests.openapi_check import ExchangeValidator
from tests.sim._api import RawApi, clock_stepping, error_of
from tests.sim._attached import ATTACHED, DATA_1, NBG_1, OFF_1, SPARE_V6, VIP, WEB_1
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


def _code(call: Any) -> str:
    with pytest.raises(APIException) as caught:
        call()
    return str(caught.value.code)


def test_the_server_lists_its_floating_ips(cloud: hcloud.Client) -> None:
    vip = cloud.floating_ips.get_by_name("vip")
    assert (vip.id, vip.type, vip.server.id, vip.description) == (VIP, "ipv4", WEB_1, "web VIP")
    assert vip.home_location.name == "fsn1"  # its server's
    assert vip.dns_ptr == [{"ip": vip.ip, "dns_ptr": f"static.{vip.ip}.clients.your-server.de"}]
    assert [f.id for f in cloud.servers.get_by_id(WEB_1).public_net.floating_ips] == [VIP]
    spare = cloud.floating_ips.get_by_id(SPARE_V6)
    assert (spare.server, spare.home_location.name) == (None, "hel1")
    assert spare.ip.endswith("::/64")


def test_create_assign_move_unassign(cloud: hcloud.Client) -> None:
    created = cloud.floating_ips.create(
        type="ipv4", home_location=Location(name="nbg1"), name="mine", labels={"a": "b"}
    )
    assert created.action is None
    ip = created.floating_ip
    assert (ip.server, ip.home_location.name, ip.labels) == (None, "nbg1", {"a": "b"})
    # any location: the home location only optimises routing
    cloud.floating_ips.assign(ip, Server(id=OFF_1)).wait_until_finished()
    assert [f.id for f in cloud.servers.get_by_id(OFF_1).public_net.floating_ips] == [ip.id]
    assert _code(lambda: cloud.floating_ips.assign(ip, Server(id=OFF_1))) == (
        "floating_ip_assigned"
    )
    cloud.floating_ips.assign(ip, Server(id=NBG_1)).wait_until_finished()  # moves it
    assert cloud.servers.get_by_id(OFF_1).public_net.floating_ips == []
    assert cloud.floating_ips.get_by_id(ip.id).server.id == NBG_1
    cloud.floating_ips.unassign(ip).wait_until_finished()
    assert cloud.floating_ips.get_by_id(ip.id).server is None


def test_created_for_a_server_it_is_assigned_at_once(cloud: hcloud.Client) -> None:
    created = cloud.floating_ips.create(type="ipv6", server=Server(id=NBG_1))
    assert created.action is not None
    assert created.floating_ip.home_location.name == "nbg1"
    assert created.floating_ip.server.id == NBG_1


def test_delete_protection_and_unassign_first(cloud: hcloud.Client) -> None:
    assert _code(lambda: cloud.floating_ips.delete(FloatingIP(id=VIP))) == "must_be_unassigned"
    cloud.floating_ips.change_protection(FloatingIP(id=SPARE_V6), delete=True)
    assert _code(lambda: cloud.floating_ips.delete(FloatingIP(id=SPARE_V6))) == "protected"
    cloud.floating_ips.change_protection(FloatingIP(id=SPARE_V6), delete=False)
    assert cloud.floating_ips.delete(FloatingIP(id=SPARE_V6))
    assert cloud.floating_ips.get_by_name("spare-v6") is None


def test_deleting_the_server_unassigns_it(cloud: hcloud.Client) -> None:
    cloud.servers.delete(Server(id=WEB_1))
    vip = cloud.floating_ips.get_by_id(VIP)
    assert vip.server is None


def test_reverse_dns_and_update(cloud: hcloud.Client) -> None:
    spare = cloud.floating_ips.get_by_id(SPARE_V6)
    host = spare.ip.split("/")[0] + "42"
    cloud.floating_ips.change_dns_ptr(spare, host, "v6.example.com").wait_until_finished()
    assert cloud.floating_ips.get_by_id(SPARE_V6).dns_ptr == [
        {"ip": host, "dns_ptr": "v6.example.com"}
    ]
    cloud.floating_ips.change_dns_ptr(spare, host, None)
    assert cloud.floating_ips.get_by_id(SPARE_V6).dns_ptr == []
    updated = cloud.floating_ips.update(spare, description="kept", labels={"k": "v"}, name="k6")
    assert (updated.description, updated.labels, updated.name) == ("kept", {"k": "v"}, "k6")
    assert [f.id for f in cloud.floating_ips.get_all(label_selector="k=v")] == [SPARE_V6]


F, ACT = "/floating_ips", f"/floating_ips/{SPARE_V6}/actions"
BAD = (422, "invalid_input")
BAD_INPUT: list[tuple[str, str, dict[str, Any] | None, tuple[int, str]]] = [
    ("POST", F, {"type": "ipv5", "home_location": "fsn1"}, BAD),
    ("POST", F, {"type": "ipv4"}, BAD),
    ("POST", F, {"type": "ipv4", "home_location": "mars"}, BAD),
    ("POST", F, {"type": "ipv4", "server": DATA_1}, (404, "not_found")),
    ("POST", F, {"type": "ipv4", "server": "web-1"}, BAD),
    ("POST", F, {"type": "ipv4", "home_location": 1, "name": "vip"}, (409, "uniqueness_error")),
    ("POST", F, {"type": "ipv4", "home_location": "fsn1", "datacenter": "x"}, BAD),
    ("POST", f"{ACT}/assign", {"server": DATA_1}, (404, "not_found")),
    ("POST", f"{ACT}/assign", {"server": [WEB_1]}, BAD),
    ("POST", f"{F}/{DATA_1}/actions/unassign", None, (404, "not_found")),
    ("POST", f"{ACT}/change_dns_ptr", {"ip": "2001:db9::1", "dns_ptr": "a.example.com"}, BAD),
    ("POST", f"{ACT}/change_dns_ptr", {"dns_ptr": "a.example.com"}, BAD),
    ("POST", f"{ACT}/change_protection", {}, BAD),
    ("PUT", f"{F}/{SPARE_V6}", {"labels": {"bad key!": "x"}}, BAD),
    ("GET", f"{F}/{WEB_1}", None, (404, "not_found")),
    ("GET", f"{F}?label_selector=a%20in%20(", None, BAD),
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
    assert (after["floating_ips"], after["actions"]) == (before["floating_ips"], before["actions"])


def test_a_running_assign_locks_the_ip(cloud: hcloud.Client, wire: RawApi) -> None:
    action = cloud.floating_ips.assign(FloatingIP(id=SPARE_V6), Server(id=OFF_1))
    answer = wire.post(f"/floating_ips/{SPARE_V6}/actions/unassign")
    assert error_of(answer) == (
        423,
        "locked",
        "cannot perform operation because floating ip is locked",
    )
    action.wait_until_finished()
    listed = wire.get(f"/floating_ips/{SPARE_V6}/actions").json()["actions"]
    assert [(a["command"], a["status"]) for a in listed] == [("assign_floating_ip", "success")]


@pytest.mark.gocli
def test_go_cli_floating_ip_create_and_assign(make_sim: SimFactory, tmp_path: Path) -> None:
    sim = make_sim(ATTACHED, time_scale=FAST)
    hcloud_cli: Run = runner(find_hcloud(), sim, tmp_path)
    out = hcloud_cli(
        "floating-ip", "create", "--type", "ipv4", "--home-location", "nbg1", "--name", "cli-ip",
        "--description", "from the CLI",
    ).stdout  # fmt: skip
    made = next(f for f in sim.state.ground_truth()["floating_ips"] if f["name"] == "cli-ip")
    assert re.search(rf"Floating IP {made['id']} created", out), out
    assert (made["home_location"]["name"], made["description"]) == ("nbg1", "from the CLI")
    hcloud_cli("floating-ip", "assign", "cli-ip", "nbg-1")
    server = next(s for s in sim.state.ground_truth()["servers"] if s["name"] == "nbg-1")
    assert server["public_net"]["floating_ips"] == [made["id"]]
    described = hcloud_cli("floating-ip", "describe", "cli-ip").stdout
    assert re.search(r"Server:\s+ID:\s+\d+\s+Name:\s+nbg-1", described), described
    assert not failed_requests(sim)
