"""Networks through the real SDK, raw HTTP for bad input, and the official Go CLI.

Subnets, routes, addresses handed out or chosen, alias IPs, and what a server's ``private_net`` and
a network's ``servers`` show. The simulator runs at 1x; waiting on an action moves its clock.
"""

from __future__ import annotations

from typing import Any

import hcloud
import pytest
from hcloud import APIException
from hcloud.networks import NetworkRoute, NetworkSubnet
from hcloud.server_types import ServerType
from hcloud.servers import BoundServer

from hcloud_sim import SimulatorServer
from hcloud_sim.scenarios import ScenarioError, load_scenario
from tests.conftest import ClientFactory, SimFactory
from tests.openapi_check import ExchangeValidator
from tests.sim._api import RawApi, clock_stepping, error_of
from tests.sim._gocli import Run, failed_requests, server_named

ATTACH_S = 4

WORLD: dict[str, Any] = {
    "name": "networks",
    "projects": [
        {
            "name": "net",
            "action_durations": {
                "attach_to_network": ATTACH_S,
                "detach_from_network": ATTACH_S,
                "change_alias_ips": 2,
                "create_server": 5,
                "start_server": 5,
            },
            "servers": [
                {"name": "web-1"},
                {"name": "web-2"},
                {"name": "db-1"},
                {"name": "us-1", "location": "ash"},
                {"name": "worker-1", "private_network": True},
            ],
            "networks": [
                {
                    "name": "backend",
                    "ip_range": "10.1.0.0/16",
                    "labels": {"env": "prod"},
                    "subnets": [{"ip_range": "10.1.0.0/24"}],
                    "routes": [{"destination": "10.100.0.0/24", "gateway": "10.1.0.10"}],
                    "servers": [{"name": "db-1", "ip": "10.1.0.5", "alias_ips": ["10.1.0.6"]}],
                },
                {
                    "name": "tiny",
                    "ip_range": "10.2.0.0/24",
                    # a /30 has two hosts; 10.2.0.1 is the network's gateway: one address left
                    "subnets": [{"ip_range": "10.2.0.0/30"}],
                },
            ],
        }
    ],
}


@pytest.fixture
def net_sim(make_sim: SimFactory) -> SimulatorServer:
    return make_sim(WORLD, time_scale=1)


@pytest.fixture
def net(net_sim: SimulatorServer, make_client: ClientFactory) -> hcloud.Client:
    return make_client(net_sim, poll_interval=clock_stepping(net_sim, 2.0))


@pytest.fixture
def raw(net_sim: SimulatorServer, schema_check: ExchangeValidator) -> RawApi:
    return RawApi(net_sim, schema_check)


def _server(client: hcloud.Client, name: str) -> BoundServer:
    server = client.servers.get_by_name(name)
    assert server is not None
    return server


def _network(client: hcloud.Client, name: str) -> Any:
    network = client.networks.get_by_name(name)
    assert network is not None
    return network


def _private(client: hcloud.Client, name: str) -> dict[int, tuple[str, list[str]]]:
    return {p.network.id: (p.ip, p.alias_ips) for p in _server(client, name).private_net}


def _refused(call: Any, code: str) -> APIException:
    with pytest.raises(APIException) as caught:
        call()
    assert caught.value.code == code, caught.value
    return caught.value


# -- what a scenario declares ----------------------------------------------------------------------


def test_seeded_networks_show_subnets_routes_and_their_servers(net: hcloud.Client) -> None:
    backend = _network(net, "backend")
    db = _server(net, "db-1")
    assert backend.ip_range == "10.1.0.0/16"
    assert [(s.type, s.ip_range, s.network_zone, s.gateway) for s in backend.subnets] == [
        ("cloud", "10.1.0.0/24", "eu-central", "10.1.0.1")
    ]
    assert [(r.destination, r.gateway) for r in backend.routes] == [("10.100.0.0/24", "10.1.0.10")]
    assert [s.id for s in backend.servers] == [db.id]
    assert _private(net, "db-1") == {backend.id: ("10.1.0.5", ["10.1.0.6"])}
    assert db.private_net[0].mac_address.startswith("86:00:00:")
    assert _private(net, "web-1") == {}

    assert [n.name for n in net.networks.get_all(label_selector="env=prod")] == ["backend"]
    assert [n.name for n in net.networks.get_all(name="tiny")] == ["tiny"]


def test_private_network_servers_sit_in_the_network_named_private(net: hcloud.Client) -> None:
    private = _network(net, "private")
    worker = _server(net, "worker-1")
    assert private.ip_range == "10.0.0.0/16"
    assert [s.id for s in private.servers] == [worker.id]
    ((ip, aliases),) = _private(net, "worker-1").values()
    assert ip.startswith("10.0.")
    assert aliases == []


# -- networks, subnets, routes ---------------------------------------------------------------------


def test_create_a_network_then_change_its_subnets_routes_and_range(net: hcloud.Client) -> None:
    network = net.networks.create(
        name="lab",
        ip_range="10.8.0.0/16",
        subnets=[NetworkSubnet(type="cloud", ip_range="10.8.1.0/24", network_zone="eu-central")],
        routes=[NetworkRoute(destination="10.200.0.0/24", gateway="10.8.1.2")],
        labels={"team": "a"},
    )
    # no ip_range: the first free /24 is taken
    net.networks.add_subnet(
        network, NetworkSubnet(ip_range=None, type="cloud", network_zone="us-east")
    ).wait_until_finished()
    net.networks.add_route(
        network, NetworkRoute(destination="10.201.0.0/24", gateway="10.8.1.3")
    ).wait_until_finished()
    net.networks.delete_route(
        network, NetworkRoute(destination="10.200.0.0/24", gateway="10.8.1.2")
    )
    net.networks.change_ip_range(network, "10.8.0.0/15").wait_until_finished()
    got = net.networks.get_by_id(network.id)
    assert got.ip_range == "10.8.0.0/15"
    assert [(s.ip_range, s.network_zone) for s in got.subnets] == [
        ("10.8.1.0/24", "eu-central"),
        ("10.8.0.0/24", "us-east"),
    ]
    assert [(r.destination, r.gateway) for r in got.routes] == [("10.201.0.0/24", "10.8.1.3")]
    commands = [a.command for a in net.networks.get_actions_list(network).actions]
    assert commands == ["add_subnet", "add_route", "delete_route", "change_ip_range"]

    _refused(lambda: net.networks.change_ip_range(network, "10.8.0.0/24"), "invalid_input")
    _refused(lambda: net.networks.create(name="lab", ip_range="10.9.0.0/16"), "uniqueness_error")
    overlapping = NetworkSubnet(type="cloud", ip_range="10.8.1.128/25", network_zone="eu-central")
    _refused(lambda: net.networks.add_subnet(network, overlapping), "invalid_input")

    net.networks.delete_subnet(network, NetworkSubnet(ip_range="10.8.0.0/24", type="cloud"))
    updated = net.networks.update(network, name="lab-2", labels={"team": "b"})
    assert (updated.name, updated.labels) == ("lab-2", {"team": "b"})
    assert [s.ip_range for s in updated.subnets] == ["10.8.1.0/24"]


def test_a_protected_network_is_not_deleted(net: hcloud.Client) -> None:
    tiny = _network(net, "tiny")
    net.networks.change_protection(tiny, delete=True)
    error = _refused(lambda: net.networks.delete(tiny), "protected")
    assert error.message == "network deletion is protected"
    net.networks.change_protection(tiny, delete=False)
    net.networks.delete(tiny)
    assert net.networks.get_by_name("tiny") is None


def test_a_subnet_with_servers_in_it_is_not_removed(net: hcloud.Client) -> None:
    backend = _network(net, "backend")
    error = _refused(
        lambda: net.networks.delete_subnet(backend, NetworkSubnet(ip_range="10.1.0.0/24")),
        "service_error",
    )
    assert error.message == "cannot remove subnet because servers are attached to it"


def test_deleting_a_network_detaches_its_servers(net: hcloud.Client) -> None:
    backend = _network(net, "backend")
    net.networks.delete(backend)
    assert _private(net, "db-1") == {}


# -- servers in networks ---------------------------------------------------------------------------


def test_attach_hands_out_an_address_once_the_action_is_done(
    net: hcloud.Client, net_sim: SimulatorServer
) -> None:
    backend, web = _network(net, "backend"), _server(net, "web-1")
    action = net.servers.attach_to_network(web, backend)
    assert action.command == "attach_to_network"
    assert {(r["id"], r["type"]) for r in action.resources} == {
        (web.id, "server"),
        (backend.id, "network"),
    }
    # the action holds the server's lock; the interface is not there yet
    _refused(lambda: net.servers.power_off(web), "locked")
    assert _private(net, "web-1") == {}
    net_sim.state.clock.advance(ATTACH_S)
    # 10.1.0.1 is the gateway: the first address handed out is .2
    assert _private(net, "web-1") == {backend.id: ("10.1.0.2", [])}
    assert sorted(s.id for s in _network(net, "backend").servers) == sorted(
        [web.id, _server(net, "db-1").id]
    )


def test_chosen_addresses_alias_ips_and_the_refusals(net: hcloud.Client) -> None:
    backend = _network(net, "backend")
    web1, web2 = _server(net, "web-1"), _server(net, "web-2")
    net.servers.attach_to_network(
        web1, backend, ip="10.1.0.20", alias_ips=["10.1.0.21", "10.1.0.22"]
    ).wait_until_finished()
    assert _private(net, "web-1") == {backend.id: ("10.1.0.20", ["10.1.0.21", "10.1.0.22"])}

    _refused(lambda: net.servers.attach_to_network(web1, backend), "server_already_attached")
    # taken: another server's address, an alias, the gateway
    for taken in ("10.1.0.5", "10.1.0.21", "10.1.0.1"):
        error = _refused(
            lambda ip=taken: net.servers.attach_to_network(web2, backend, ip=ip),
            "ip_not_available",
        )
        assert taken in error.message
    _refused(
        lambda: net.servers.attach_to_network(web2, backend, ip="10.1.7.7"), "no_subnet_available"
    )
    _refused(
        lambda: net.servers.attach_to_network(web2, backend, alias_ips=["10.1.0.6"]),
        "ip_not_available",
    )
    # a server in another network zone finds no subnet for it
    us = _server(net, "us-1")
    _refused(lambda: net.servers.attach_to_network(us, backend), "no_subnet_available")

    net.servers.change_alias_ips(web1, backend, ["10.1.0.30"]).wait_until_finished()
    assert _private(net, "web-1") == {backend.id: ("10.1.0.20", ["10.1.0.30"])}
    # the alias given up is free again
    net.servers.attach_to_network(web2, backend, ip="10.1.0.21").wait_until_finished()
    assert _private(net, "web-2") == {backend.id: ("10.1.0.21", [])}


def test_a_full_subnet_refuses_the_next_server(net: hcloud.Client) -> None:
    tiny = _network(net, "tiny")
    net.servers.attach_to_network(_server(net, "web-1"), tiny).wait_until_finished()
    assert _private(net, "web-1") == {tiny.id: ("10.2.0.2", [])}
    _refused(
        lambda: net.servers.attach_to_network(_server(net, "web-2"), tiny), "no_subnet_available"
    )


def test_overlapping_networks_are_refused_for_one_server(net: hcloud.Client) -> None:
    other = net.networks.create(
        name="shadow",
        ip_range="10.1.0.0/16",
        subnets=[NetworkSubnet(type="cloud", ip_range="10.1.0.0/24", network_zone="eu-central")],
    )
    _refused(lambda: net.servers.attach_to_network(_server(net, "db-1"), other), "networks_overlap")


def test_detach_and_server_deletion_free_the_addresses(net: hcloud.Client) -> None:
    backend = _network(net, "backend")
    db, web = _server(net, "db-1"), _server(net, "web-1")
    net.servers.detach_from_network(db, backend).wait_until_finished()
    assert _private(net, "db-1") == {}
    net.servers.attach_to_network(db, backend, ip="10.1.0.6").wait_until_finished()
    net.servers.attach_to_network(web, backend, ip="10.1.0.5").wait_until_finished()
    _refused(
        lambda: net.servers.detach_from_network(_server(net, "web-2"), backend), "invalid_input"
    )

    net.servers.delete(web)
    assert [s.id for s in _network(net, "backend").servers] == [db.id]
    net.servers.attach_to_network(_server(net, "web-2"), backend, ip="10.1.0.5")


def test_a_server_deleted_while_attaching_gives_its_address_back(net: hcloud.Client) -> None:
    backend = _network(net, "backend")
    web1, web2 = _server(net, "web-1"), _server(net, "web-2")
    attaching = net.servers.attach_to_network(web1, backend, ip="10.1.0.50")
    _refused(
        lambda: net.servers.attach_to_network(web2, backend, ip="10.1.0.50"), "ip_not_available"
    )
    net.servers.delete(web1)  # a lock does not stop a delete: the attach ends in error
    assert net.actions.get_by_id(attaching.id).status == "error"
    net.servers.attach_to_network(web2, backend, ip="10.1.0.50").wait_until_finished()
    assert _private(net, "web-2") == {backend.id: ("10.1.0.50", [])}


def test_a_server_created_in_networks_has_its_addresses(net: hcloud.Client) -> None:
    backend, tiny = _network(net, "backend"), _network(net, "tiny")
    created = net.servers.create(
        name="app-1",
        server_type=ServerType(name="cx22"),
        image=hcloud.images.Image(name="ubuntu-24.04"),
        networks=[backend, tiny],
    )
    assert _private(net, "app-1") == {backend.id: ("10.1.0.2", []), tiny.id: ("10.2.0.2", [])}
    assert created.server.id in [s.id for s in _network(net, "tiny").servers]
    # tiny is full now: the next server is refused, and not made
    _refused(
        lambda: net.servers.create(
            name="app-2",
            server_type=ServerType(name="cx22"),
            image=hcloud.images.Image(name="ubuntu-24.04"),
            networks=[tiny],
        ),
        "no_subnet_available",
    )
    assert net.servers.get_by_name("app-2") is None


# -- bad input -------------------------------------------------------------------------------------


def _count(net_sim: SimulatorServer) -> int:
    return len(net_sim.state.ground_truth()["networks"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x"}, "ip_range"),
        ({"ip_range": "10.3.0.0/16"}, "name"),
        ({"name": "x", "ip_range": "banana"}, "ip_range"),
        ({"name": "x", "ip_range": "8.8.8.0/24"}, "ip_range"),
        ({"name": "x", "ip_range": "10.3.0.0/28"}, "ip_range"),
        ({"name": "x", "ip_range": "10.3.0.0/16", "subnets": "all"}, "subnets"),
        ({"name": "x", "ip_range": "10.3.0.0/16", "subnets": [{"type": "cloud"}]}, None),
        (
            {
                "name": "x",
                "ip_range": "10.3.0.0/16",
                "subnets": [{"type": "cloud", "network_zone": "eu-central", "size": 3}],
            },
            "subnets.0.size",
        ),
        (
            {
                "name": "x",
                "ip_range": "10.3.0.0/16",
                "subnets": [
                    {"type": "cloud", "network_zone": "eu-central", "ip_range": "10.4.0.0/24"}
                ],
            },
            "subnets.0.ip_range",
        ),
        (
            {
                "name": "x",
                "ip_range": "10.3.0.0/16",
                "routes": [{"destination": "10.9.0.0/24", "gateway": "10.3.0.1"}],
            },
            "routes.0.gateway",
        ),
        ({"name": "x", "ip_range": "10.3.0.0/16", "labels": {"a": 1}}, "labels"),
    ],
)
def test_bad_network_bodies_are_refused_and_change_nothing(
    raw: RawApi, net_sim: SimulatorServer, body: dict[str, Any], field: str | None
) -> None:
    before = _count(net_sim)
    response = raw.post("/networks", body)
    status, code, message = error_of(response)
    assert (status, code) == (422, "invalid_input"), message
    if field is not None:
        assert response.json()["error"]["details"]["fields"][0]["name"] == field
    assert _count(net_sim) == before


def test_bad_references_and_queries(raw: RawApi, net: hcloud.Client) -> None:
    web, backend = _server(net, "web-1"), _network(net, "backend")
    assert error_of(raw.get("/networks/999999"))[:2] == (404, "not_found")
    assert error_of(raw.get("/networks/abc"))[:2] == (422, "invalid_input")
    assert error_of(raw.get("/networks", {"label_selector": "role in (web"}))[:2] == (
        422,
        "invalid_input",
    )
    assert error_of(raw.get("/networks", {"sort": "size"}))[:2] == (422, "invalid_input")
    names = [n["name"] for n in raw.get("/networks", {"sort": "name:desc"}).json()["networks"]]
    assert names == ["tiny", "private", "backend"]
    attach = f"/servers/{web.id}/actions/attach_to_network"
    assert error_of(raw.post(attach, {"network": 999999}))[:2] == (404, "not_found")
    assert error_of(raw.post(attach, {"network": "backend"}))[:2] == (422, "invalid_input")
    # the id of a server is not the id of a network
    assert error_of(raw.post(attach, {"network": web.id}))[:2] == (404, "not_found")
    bad_ip = {"network": backend.id, "ip": "10.1.0.300"}
    assert error_of(raw.post(attach, bad_ip))[:2] == (422, "invalid_input")
    bad_aliases = {"network": backend.id, "alias_ips": "10.1.0.9"}
    assert error_of(raw.post(attach, bad_aliases))[:2] == (422, "invalid_input")
    assert error_of(raw.post(attach, {}))[:2] == (422, "invalid_input")
    route = f"/networks/{backend.id}/actions/add_route"
    assert error_of(raw.post(route, {"destination": "10.100.0.0/25", "gateway": "10.1.0.9"}))[
        :2
    ] == (422, "invalid_input")
    assert _private(net, "web-1") == {}
    assert len(_network(net, "backend").routes) == 1


def test_network_actions_are_listed_by_network_and_altogether(
    raw: RawApi, net: hcloud.Client
) -> None:
    backend = _network(net, "backend")
    action = net.networks.add_route(
        backend, NetworkRoute(destination="10.101.0.0/24", gateway="10.1.0.11")
    )
    listed = raw.get(f"/networks/{backend.id}/actions").json()["actions"]
    assert [a["id"] for a in listed] == [action.id]
    assert raw.get(f"/networks/{backend.id}/actions/{action.id}").status_code == 200
    assert raw.get(f"/networks/actions/{action.id}").json()["action"]["command"] == "add_route"
    everything = raw.get("/networks/actions", {"status": "success"}).json()["actions"]
    assert action.id in [a["id"] for a in everything]
    assert error_of(raw.get("/networks/actions/1"))[:2] == (404, "not_found")


# -- the official Go CLI ---------------------------------------------------------------------------


@pytest.mark.gocli
def test_go_cli_creates_a_network_and_attaches_a_server(
    hcloud: Run, fast_sim: SimulatorServer
) -> None:
    hcloud("network", "create", "--name", "lab", "--ip-range", "10.5.0.0/16", "--label", "a=b")
    hcloud(
        "network", "add-subnet", "lab", "--type", "cloud", "--network-zone", "eu-central",
        "--ip-range", "10.5.1.0/24",
    )  # fmt: skip
    hcloud(
        "network", "add-route", "lab", "--destination", "10.100.1.0/24", "--gateway", "10.5.1.10"
    )
    out = hcloud("server", "attach-to-network", "web-1", "--network", "lab", "--ip", "10.5.1.7")
    network = next(n for n in fast_sim.state.ground_truth()["networks"] if n["name"] == "lab")
    assert f"attached to network {network['id']}" in out.stdout
    assert network["labels"] == {"a": "b"}
    assert network["routes"] == [{"destination": "10.100.1.0/24", "gateway": "10.5.1.10"}]
    web = server_named(fast_sim, "web-1")
    assert network["servers"] == [web["id"]]
    assert web["private_net"][0]["ip"] == "10.5.1.7"
    described = hcloud("network", "describe", "lab").stdout
    assert "10.5.1.0/24" in described
    assert "10.100.1.0/24" in described

    hcloud("server", "change-alias-ips", "web-1", "--network", "lab", "--alias-ips", "10.5.1.8")
    assert server_named(fast_sim, "web-1")["private_net"][0]["alias_ips"] == ["10.5.1.8"]
    hcloud("server", "detach-from-network", "web-1", "--network", "lab")
    assert server_named(fast_sim, "web-1")["private_net"] == []
    hcloud("server", "create", "--name", "in-lab", "--type", "cx22", "--image", "ubuntu-24.04",
           "--network", "lab")  # fmt: skip
    assert server_named(fast_sim, "in-lab")["private_net"][0]["ip"] == "10.5.1.1"
    assert not failed_requests(fast_sim)


# -- scenario files --------------------------------------------------------------------------------


def _with_networks(networks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "projects": [{"servers": [{"name": "a"}, {"name": "b"}], "networks": networks}],
    }


@pytest.mark.parametrize(
    ("networks", "problem"),
    [
        (
            [{"name": "n", "ip_range": "10.1.0.0/16", "subnets": [{}], "servers": [{"name": "c"}]}],
            "network 'n': no server 'c'",
        ),
        (
            [
                {
                    "name": "n",
                    "ip_range": "10.1.0.0/16",
                    "subnets": [{"ip_range": "10.1.0.0/24"}],
                    "servers": [{"name": "a", "ip": "10.1.0.9"}, {"name": "b", "ip": "10.1.0.9"}],
                }
            ],
            "network 'n', server 'b': provided IP 10.1.0.9 is not available",
        ),
        (
            [{"name": "n", "ip_range": "10.1.0.0/16", "servers": [{"name": "a"}]}],
            "network 'n', server 'a': the network has no subnet in network zone eu-central",
        ),
        (
            [{"name": "n", "ip_range": "8.8.0.0/16"}],
            "network 'n': invalid input in field 'ip_range': must be one of the private",
        ),
    ],
)
def test_a_scenario_with_impossible_networks_fails_at_load(
    networks: list[dict[str, Any]], problem: str
) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(_with_networks(networks))
    assert problem in str(caught.value)
