"""Primary IPs: the real SDK, raw HTTP for bad input, and the official Go CLI (``_attached``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import hcloud
import pytest
from hcloud import APIException
from hcloud.images import Image
from hcloud.locations import Location
from hcloud.primary_ips import PrimaryIP
from hcloud.server_types import ServerType
from hcloud.servers import Server, ServerCreatePublicNetwork

from hcloud_sim import SimulatorServer
from tests.conftest import ClientFactory, SimFactory
from tests.openapi_check import ExchangeValidator
from tests.sim._api import RawApi, clock_stepping, error_of
from tests.sim._attached import (
    ATTACHED,
    BARE_1,
    DATA_1,
    KEEP_V6,
    NBG_1,
    OFF_1,
    OFF_V4,
    SPARE_V4,
    WEB_1,
    WEB_V4,
    WEB_V6,
)
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


def _refused(call: Any) -> tuple[int, str]:
    with pytest.raises(APIException) as caught:
        call()
    return caught.value.code, caught.value.message  # type: ignore[return-value]


def _ip(cloud: hcloud.Client, ip_id: int) -> Any:
    return cloud.primary_ips.get_by_id(ip_id)


# -- every server holds real Primary IPs ----------------------------------------------------------


def test_a_servers_public_net_is_its_primary_ips(cloud: hcloud.Client) -> None:
    web = cloud.servers.get_by_id(WEB_1)
    assert (web.public_net.primary_ipv4.id, web.public_net.primary_ipv6.id) == (WEB_V4, WEB_V6)
    v4, v6 = _ip(cloud, WEB_V4), _ip(cloud, WEB_V6)
    assert (v4.ip, v4.assignee_id, v4.auto_delete, v4.type) == (
        web.public_net.ipv4.ip,
        WEB_1,
        True,
        "ipv4",
    )
    assert v6.ip == web.public_net.ipv6.ip
    assert v6.ip.endswith("::/64")
    assert v4.location.name == "fsn1"
    # the scenario gave off-1 an existing IPv6 that outlives it; bare-1 has none
    assert cloud.servers.get_by_id(OFF_1).public_net.primary_ipv6.id == KEEP_V6
    bare = cloud.servers.get_by_id(BARE_1).public_net
    assert (bare.ipv4, bare.ipv6) == (None, None)


def test_list_filters_sorts_and_pages(cloud: hcloud.Client, wire: RawApi) -> None:
    spare = cloud.primary_ips.get_by_name("spare-v4")
    assert (spare.id, spare.assignee_id) == (SPARE_V4, None)
    by_label = cloud.primary_ips.get_all(label_selector="role=spare")
    assert [ip.id for ip in by_label] == [SPARE_V4]
    by_address = wire.get("/primary_ips", {"ip": _ip(cloud, WEB_V4).ip}).json()["primary_ips"]
    assert [ip["id"] for ip in by_address] == [WEB_V4]
    newest = wire.get("/primary_ips", {"sort": "id:desc", "per_page": 5}).json()
    assert [ip["id"] for ip in newest["primary_ips"]] == list(range(700007, 700002, -1))
    assert newest["meta"]["pagination"]["total_entries"] == 7
    assert newest["meta"]["pagination"]["next_page"] == 2


# -- assign / unassign ----------------------------------------------------------------------------


def test_assign_while_off_within_the_location(cloud: hcloud.Client) -> None:
    created = cloud.primary_ips.create(type="ipv4", name="mine", location=Location(name="fsn1"))
    ip = created.primary_ip
    assert (created.action, ip.assignee_id, ip.auto_delete) == (None, None, False)
    cloud.primary_ips.assign(ip, BARE_1).wait_until_finished()
    bare = cloud.servers.get_by_id(BARE_1)
    assert (bare.public_net.primary_ipv4.id, bare.public_net.ipv4.ip) == (ip.id, ip.ip)
    assert _ip(cloud, ip.id).assignee_id == BARE_1

    cloud.primary_ips.unassign(ip).wait_until_finished()
    assert cloud.servers.get_by_id(BARE_1).public_net.ipv4 is None
    assert _ip(cloud, ip.id).assignee_id is None


@pytest.mark.parametrize(
    ("ip_id", "server_id", "code"),
    [
        (SPARE_V4, WEB_1, "server_not_stopped"),  # web-1 runs
        (SPARE_V4, NBG_1, "primary_ip_datacenter_mismatch"),  # nbg1, the IP is in fsn1
        (SPARE_V4, OFF_1, "server_has_ipv4"),  # off-1 holds one already
        (OFF_V4, BARE_1, "primary_ip_already_assigned"),  # held by off-1
    ],
)
def test_assign_refusals(
    cloud: hcloud.Client, world: SimulatorServer, ip_id: int, server_id: int, code: str
) -> None:
    before = world.state.ground_truth()
    got, _ = _refused(lambda: cloud.primary_ips.assign(PrimaryIP(id=ip_id), server_id))
    assert got == code
    after = world.state.ground_truth()
    assert (after["primary_ips"], after["actions"]) == (before["primary_ips"], before["actions"])


def test_unassign_only_while_off(cloud: hcloud.Client) -> None:
    code, _ = _refused(lambda: cloud.primary_ips.unassign(PrimaryIP(id=WEB_V4)))
    assert code == "server_not_stopped"
    cloud.servers.power_off(Server(id=WEB_1)).wait_until_finished()
    cloud.primary_ips.unassign(PrimaryIP(id=WEB_V4)).wait_until_finished()
    assert cloud.servers.get_by_id(WEB_1).public_net.ipv4 is None


def test_the_server_is_locked_while_an_assign_runs(
    cloud: hcloud.Client, wire: RawApi, world: SimulatorServer
) -> None:
    action = cloud.primary_ips.unassign(PrimaryIP(id=OFF_V4))
    assert action.status == "running"
    answer = wire.post(f"/servers/{OFF_1}/actions/poweron")
    assert error_of(answer)[:2] == (423, "locked")
    action.wait_until_finished()
    assert world.state.server_by_name("off-1").lock_holders == set()


def test_created_for_a_busy_server_is_refused(wire: RawApi, world: SimulatorServer) -> None:
    world.state.lock_server(BARE_1, command="attach_iso", duration=None)
    answer = wire.post("/primary_ips", {"name": "x", "type": "ipv4", "assignee_id": BARE_1})
    assert error_of(answer)[:2] == (423, "locked")
    assert wire.get("/primary_ips", {"name": "x"}).json()["primary_ips"] == []
    created = wire.post("/primary_ips", {"name": "x", "type": "ipv4", "assignee_id": NBG_1})
    assert error_of(created)[:2] == (422, "server_has_ipv4")


# -- delete, protection, auto_delete --------------------------------------------------------------


def test_deleting_an_assigned_or_protected_ip_is_refused(cloud: hcloud.Client) -> None:
    assert _refused(lambda: cloud.primary_ips.delete(PrimaryIP(id=KEEP_V6)))[0] == (
        "must_be_unassigned"
    )
    code, _ = _refused(lambda: cloud.primary_ips.change_protection(PrimaryIP(id=WEB_V4), True))
    assert code == "invalid_input"  # protection needs auto_delete off
    cloud.primary_ips.change_protection(PrimaryIP(id=SPARE_V4), delete=True)
    assert _refused(lambda: cloud.primary_ips.delete(PrimaryIP(id=SPARE_V4)))[0] == "protected"
    cloud.primary_ips.change_protection(PrimaryIP(id=SPARE_V4), delete=False)
    assert cloud.primary_ips.delete(PrimaryIP(id=SPARE_V4))
    assert cloud.primary_ips.get_by_name("spare-v4") is None


def test_deleting_a_server_deletes_only_its_auto_delete_ips(cloud: hcloud.Client) -> None:
    cloud.primary_ips.update(PrimaryIP(id=OFF_V4), auto_delete=False, labels={"keep": "yes"})
    cloud.servers.delete(Server(id=OFF_1))
    remaining = {ip.id: ip for ip in cloud.primary_ips.get_all()}
    assert (remaining[OFF_V4].assignee_id, remaining[OFF_V4].labels) == (None, {"keep": "yes"})
    assert remaining[KEEP_V6].assignee_id is None  # made outside the server: it stays
    cloud.servers.delete(Server(id=WEB_1))
    assert WEB_V4 not in {ip.id for ip in cloud.primary_ips.get_all()}


# -- reverse DNS ----------------------------------------------------------------------------------


def test_reverse_dns_of_the_ip_and_of_the_server(cloud: hcloud.Client) -> None:
    v4, v6 = _ip(cloud, WEB_V4), _ip(cloud, WEB_V6)
    assert v4.dns_ptr == [{"ip": v4.ip, "dns_ptr": f"static.{v4.ip}.clients.your-server.de"}]
    cloud.primary_ips.change_dns_ptr(v4, v4.ip, "web.example.com").wait_until_finished()
    host = v6.ip.split("/")[0] + "1"
    cloud.servers.change_dns_ptr(Server(id=WEB_1), host, "web6.example.com")
    public = cloud.servers.get_by_id(WEB_1).public_net
    assert public.ipv4.dns_ptr == "web.example.com"
    assert public.ipv6.dns_ptr == [{"ip": host, "dns_ptr": "web6.example.com"}]
    cloud.servers.change_dns_ptr(Server(id=WEB_1), v4.ip, None)  # back to the default
    assert _ip(cloud, WEB_V4).dns_ptr[0]["dns_ptr"].startswith("static.")
    code, message = _refused(
        lambda: cloud.servers.change_dns_ptr(Server(id=WEB_1), "192.0.2.9", "x.example.com")
    )
    assert code == "invalid_input"
    assert "192.0.2.9" in message


# -- POST /servers public_net ---------------------------------------------------------------------


def _create(cloud: hcloud.Client, **kwargs: Any) -> Any:
    return cloud.servers.create(
        name="made", server_type=ServerType(name="cx22"), image=Image(name="ubuntu-24.04"),
        location=Location(name="fsn1"), **kwargs,
    )  # fmt: skip


def test_a_created_server_takes_existing_primary_ips(cloud: hcloud.Client) -> None:
    public_net = ServerCreatePublicNetwork(ipv4=PrimaryIP(id=SPARE_V4), enable_ipv6=False)
    made = _create(cloud, public_net=public_net).server
    assert (made.public_net.primary_ipv4.id, made.public_net.ipv6) == (SPARE_V4, None)
    assert _ip(cloud, SPARE_V4).auto_delete is False  # it was not made with the server
    cloud.servers.delete(made)
    assert _ip(cloud, SPARE_V4).assignee_id is None


def test_a_server_made_off_without_ipv4_gets_one_by_assign(cloud: hcloud.Client) -> None:
    public_net = ServerCreatePublicNetwork(enable_ipv4=False, enable_ipv6=True)
    created = _create(cloud, public_net=public_net, start_after_create=False)
    created.action.wait_until_finished()
    server = cloud.servers.get_by_id(created.server.id)
    assert (server.status, server.public_net.ipv4) == ("off", None)
    assert _ip(cloud, server.public_net.primary_ipv6.id).auto_delete is True
    cloud.primary_ips.assign(PrimaryIP(id=SPARE_V4), server.id).wait_until_finished()
    assert cloud.servers.get_by_id(server.id).public_net.primary_ipv4.id == SPARE_V4


@pytest.mark.parametrize(
    ("public_net", "expected"),
    [
        ({"ipv4": WEB_V6}, (412, "primary_ip_version_mismatch")),
        ({"ipv4": WEB_V4}, (422, "primary_ip_assigned")),
        ({"ipv4": 999}, (422, "invalid_input")),
        ({"ipv4": DATA_1}, (422, "invalid_input")),  # a volume's id
        ({"ipv4": "one"}, (422, "invalid_input")),
        ({"ipv4": SPARE_V4, "enable_ipv4": False}, (422, "invalid_input")),
        ({"enable_ipv6": "no"}, (422, "invalid_input")),
        ({"ipv5": 1}, (422, "invalid_input")),
    ],
)
def test_a_refused_public_net_changes_nothing(
    wire: RawApi, world: SimulatorServer, public_net: dict[str, Any], expected: tuple[int, str]
) -> None:
    before = world.state.ground_truth()
    body = {"name": "made", "server_type": "cx22", "image": "ubuntu-24.04", "location": "fsn1"}
    answer = wire.post("/servers", {**body, "public_net": public_net})
    assert error_of(answer)[:2] == expected
    after = world.state.ground_truth()
    assert (after["servers"], after["primary_ips"]) == (before["servers"], before["primary_ips"])


def test_an_ip_of_another_location_is_refused(wire: RawApi) -> None:
    body = {"name": "made", "server_type": "cx22", "image": "ubuntu-24.04", "location": "nbg1"}
    answer = wire.post("/servers", {**body, "public_net": {"ipv4": SPARE_V4}})
    assert error_of(answer)[:2] == (422, "primary_ip_datacenter_mismatch")


# -- bad input on the wire ------------------------------------------------------------------------


P, ACT = "/primary_ips", f"/primary_ips/{SPARE_V4}/actions"
BAD = (422, "invalid_input")
TO_SERVER = {"assignee_type": "server"}
BAD_INPUT: list[tuple[str, str, dict[str, Any] | None, tuple[int, str]]] = [
    ("POST", P, {"type": "ipv4"}, (422, "invalid_input")),
    ("POST", P, {"name": "x", "type": "ipv5", "location": "fsn1"}, (422, "invalid_input")),
    ("POST", P, {"name": "x", "type": "ipv4"}, (422, "invalid_input")),
    ("POST", P, {"name": "x", "type": "ipv4", "location": "mars"}, (422, "invalid_input")),
    ("POST", P, {"name": "spare-v4", "type": "ipv4", "location": 1}, (409, "uniqueness_error")),
    ("POST", P, {"name": "x", "type": "ipv4", "assignee_id": DATA_1}, (404, "not_found")),
    ("POST", P, {"name": "x", "type": "ipv4", "assignee_id": WEB_1}, (422, "server_not_stopped")),
    ("POST", P, {"name": "x", "type": "ipv6", "assignee_id": OFF_1}, (422, "server_has_ipv6")),
    ("POST", P, {"name": "x", "type": "ipv4", "location": 1, "labels": {"a": 1}}, BAD),
    ("POST", f"{ACT}/assign", {**TO_SERVER, "assignee_id": DATA_1}, (404, "not_found")),
    ("POST", f"{ACT}/assign", {**TO_SERVER, "assignee_id": True}, BAD),
    ("POST", f"{P}/{DATA_1}/actions/unassign", None, (404, "not_found")),
    ("POST", f"{ACT}/unassign", None, (422, "invalid_input")),
    ("POST", f"{ACT}/change_dns_ptr", {"ip": "198.51.100.77", "dns_ptr": "a.example.com"}, BAD),
    ("POST", f"{ACT}/change_dns_ptr", {"ip": "198.51.100.2", "dns_ptr": "not a name"}, BAD),
    ("POST", f"{ACT}/change_protection", {"delete": "yes"}, (422, "invalid_input")),
    ("PUT", f"{P}/{SPARE_V4}", {"auto_delete": 1}, (422, "invalid_input")),
    ("PUT", f"{P}/{SPARE_V4}", {"name": "keep-v6"}, (409, "uniqueness_error")),
    ("GET", f"{P}/abc", None, (422, "invalid_input")),
    ("GET", f"{P}/actions/1", None, (404, "not_found")),
    ("GET", f"{P}?label_selector=role%3D%3D%3D", None, (422, "invalid_input")),
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
    assert (after["primary_ips"], after["actions"]) == (before["primary_ips"], before["actions"])


def test_a_primary_ips_actions_are_listed(cloud: hcloud.Client, wire: RawApi) -> None:
    action = cloud.primary_ips.assign(PrimaryIP(id=SPARE_V4), BARE_1)
    action.wait_until_finished()
    mine = wire.get(f"/primary_ips/{SPARE_V4}/actions").json()["actions"]
    assert [(a["id"], a["command"], a["status"]) for a in mine] == [
        (action.id, "assign_primary_ip", "success")
    ]
    assert wire.get(f"/primary_ips/actions/{action.id}").json()["action"]["id"] == action.id
    assert wire.get(f"/primary_ips/{SPARE_V4}/actions/{action.id}").status_code == 200
    listed = wire.get("/primary_ips/actions", {"status": "success"}).json()["actions"]
    assert action.id in [a["id"] for a in listed]


# -- the official Go CLI --------------------------------------------------------------------------


@pytest.fixture
def cli(make_sim: SimFactory, tmp_path: Path) -> tuple[Run, SimulatorServer]:
    sim = make_sim(ATTACHED, time_scale=FAST)
    return runner(find_hcloud(), sim, tmp_path), sim


def _truth(sim: SimulatorServer, key: str, name: str) -> dict[str, Any]:
    return next(r for r in sim.state.ground_truth()[key] if r["name"] == name)


@pytest.mark.gocli
def test_go_cli_primary_ip_create_assign_set_rdns_unassign(
    cli: tuple[Run, SimulatorServer],
) -> None:
    hcloud_cli, sim = cli
    out = hcloud_cli(
        "primary-ip", "create", "--name", "cli-v4", "--type", "ipv4", "--datacenter", "fsn1-dc14",
    ).stdout  # fmt: skip
    made = _truth(sim, "primary_ips", "cli-v4")
    assert str(made["id"]) in out
    assert (made["location"]["name"], made["assignee_id"]) == ("fsn1", None)

    hcloud_cli("primary-ip", "assign", "--server", "bare-1", "cli-v4")
    server = next(s for s in sim.state.ground_truth()["servers"] if s["name"] == "bare-1")
    assert server["public_net"]["ipv4"]["id"] == made["id"]

    hcloud_cli("primary-ip", "set-rdns", "--ip", made["ip"], "--hostname", "cli.example.com",
               "cli-v4")  # fmt: skip
    assert _truth(sim, "primary_ips", "cli-v4")["dns_ptr"][0]["dns_ptr"] == "cli.example.com"
    listed = hcloud_cli("primary-ip", "list").stdout
    assert re.search(rf"{made['id']}\s+ipv4\s+cli-v4", listed)

    hcloud_cli("primary-ip", "unassign", "cli-v4")
    assert _truth(sim, "primary_ips", "cli-v4")["assignee_id"] is None
    refused = hcloud_cli("primary-ip", "assign", "--server", "web-1", "cli-v4", ok=False)
    assert "server_not_stopped" in refused.stderr or "power it off" in refused.stderr
    assert [c["status"] for c in failed_requests(sim)] == [422]


@pytest.mark.gocli
def test_go_cli_server_create_with_primary_ips_and_a_volume(
    cli: tuple[Run, SimulatorServer],
) -> None:
    hcloud_cli, sim = cli
    hcloud_cli(
        "primary-ip", "create", "--name", "v6", "--type", "ipv6", "--datacenter", "fsn1-dc14"
    )
    v6 = _truth(sim, "primary_ips", "v6")
    hcloud_cli(
        "server", "create", "--name", "made", "--type", "cx22", "--image", "ubuntu-24.04",
        "--location", "fsn1", "--primary-ipv4", "spare-v4", "--primary-ipv6", str(v6["id"]),
        "--volume", "loose",
    )  # fmt: skip
    server = next(s for s in sim.state.ground_truth()["servers"] if s["name"] == "made")
    assert server["public_net"]["ipv4"]["id"] == _truth(sim, "primary_ips", "spare-v4")["id"]
    assert server["public_net"]["ipv6"]["id"] == v6["id"]
    assert server["volumes"] == [_truth(sim, "volumes", "loose")["id"]]
    assert not failed_requests(sim)
