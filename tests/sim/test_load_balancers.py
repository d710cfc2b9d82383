"""Load balancers: services, health checks and targets (server, label selector, IP), through the
SDK, raw HTTP and the official Go CLI; every response checked against the OpenAPI document. The
restore world runs at 1x and tests move its clock. Types, metrics and networks:
test_load_balancer_networks.py.
"""

from __future__ import annotations

import re
from typing import Any

import hcloud
import pytest
from hcloud import APIException
from hcloud.certificates import Certificate
from hcloud.images import Image
from hcloud.load_balancer_types import LoadBalancerType
from hcloud.load_balancers import (
    LoadBalancerAlgorithm,
    LoadBalancerService,
    LoadBalancerServiceHttp,
    LoadBalancerTarget,
    LoadBalancerTargetIP,
)
from hcloud.locations import Location
from hcloud.server_types import ServerType
from hcloud.servers import Server, ServerCreatePublicNetwork

from hcloud_sim import SimulatorServer
from hcloud_sim.resources.certificates.pem import self_signed
from tests.conftest import ClientFactory, SimFactory
from tests.sim._api import RawApi, error_of
from tests.sim._gocli import Run, failed_requests, server_named
from tests.sim._lb import ACTION_S, by_label, by_server, create, lb_named, server_lbs
from tests.sim._restore import APP_1, ARM_1, BIG_1, NIGHTLY, RESTORE


def test_create_with_a_service_and_targets_the_servers_know_it(
    cloud: hcloud.Client, world: SimulatorServer
) -> None:
    created = cloud.load_balancers.create(
        name="web",
        load_balancer_type=LoadBalancerType(name="lb11"),
        location=Location(name="nbg1"),
        algorithm=LoadBalancerAlgorithm(type="least_connections"),
        services=[LoadBalancerService(protocol="http", listen_port=80, destination_port=8080)],
        targets=[by_server(APP_1), by_label("tier=web")],
        labels={"app": "shop"},
    )
    assert created.action.command == "create_load_balancer"
    lb = created.load_balancer
    assert (lb.location.name, lb.algorithm.type, lb.labels) == (
        "nbg1",
        "least_connections",
        {"app": "shop"},
    )
    assert lb.public_net.enabled is True
    assert lb.private_net == []
    (service,) = lb.services
    # what the request left out is filled in as the API does
    assert (service.health_check.protocol, service.health_check.port) == ("http", 8080)
    assert service.health_check.http.path == "/"
    assert (service.http.cookie_name, service.http.sticky_sessions) == ("HCLBSTICKY", False)
    assert server_lbs(world, APP_1) == [lb.id]
    assert server_lbs(world, BIG_1) == []
    # the label selector follows servers relabelled and created later
    cloud.servers.update(Server(id=BIG_1), labels={"tier": "web"})
    new = cloud.servers.create(
        name="web-9", server_type=ServerType(name="cx22"), image=Image(id=NIGHTLY),
        labels={"tier": "web"},
    ).server  # fmt: skip
    assert server_lbs(world, BIG_1) == [lb.id]
    assert server_lbs(world, new.id) == [lb.id]
    targets = cloud.load_balancers.get_by_id(lb.id).targets
    assert targets[0].server.id == APP_1
    assert [t.server.id for t in targets[1].targets] == [BIG_1, new.id]
    assert [h.status for h in targets[0].health_status] == ["healthy"]


def test_services_add_update_delete(cloud: hcloud.Client, world: SimulatorServer) -> None:
    lb = create(cloud)
    lb.add_service(
        LoadBalancerService(protocol="tcp", listen_port=22, destination_port=2222)
    ).wait_until_finished()
    with pytest.raises(APIException) as taken:
        lb.add_service(LoadBalancerService(protocol="tcp", listen_port=22, destination_port=22))
    assert taken.value.code == "source_port_already_used"
    lb.update_service(
        LoadBalancerService(listen_port=22, destination_port=22, proxyprotocol=True)
    ).wait_until_finished()
    (service,) = lb_named(world, "lb")["services"]
    assert (service["destination_port"], service["proxyprotocol"]) == (22, True)
    assert service["health_check"]["protocol"] == "tcp"
    lb.delete_service(LoadBalancerService(listen_port=22)).wait_until_finished()
    assert lb_named(world, "lb")["services"] == []


def test_https_needs_a_certificate_and_uses_it(
    cloud: hcloud.Client, world: SimulatorServer
) -> None:
    lb = create(cloud)
    with pytest.raises(APIException) as refused:
        lb.add_service(LoadBalancerService(protocol="https", http=LoadBalancerServiceHttp()))
    assert refused.value.code == "invalid_input"
    pem, key = self_signed(["shop.example.com"], world.state.clock.now())
    cert = cloud.certificates.create(name="shop", certificate=pem, private_key=key)
    lb.add_service(
        LoadBalancerService(
            protocol="https", http=LoadBalancerServiceHttp(certificates=[Certificate(id=cert.id)])
        )
    ).wait_until_finished()
    (service,) = lb_named(world, "lb")["services"]
    assert (service["listen_port"], service["destination_port"]) == (443, 80)
    assert service["http"]["certificates"] == [cert.id]
    used = next(c for c in world.state.ground_truth()["certificates"] if c["id"] == cert.id)
    assert used["used_by"] == [{"id": lb.id, "type": "load_balancer"}]


def test_targets_add_remove_and_refusals(cloud: hcloud.Client, world: SimulatorServer) -> None:
    lb = create(cloud)
    lb.add_target(by_server(APP_1)).wait_until_finished()
    with pytest.raises(APIException) as twice:
        lb.add_target(by_server(APP_1))
    assert twice.value.code == "target_already_defined"
    with pytest.raises(APIException) as private:
        lb.add_target(
            LoadBalancerTarget(type="server", server=Server(id=ARM_1), use_private_ip=True)
        )
    assert private.value.code == "load_balancer_not_attached_to_network"
    lb.add_target(
        LoadBalancerTarget(type="ip", ip=LoadBalancerTargetIP(ip="8.8.8.8"))
    ).wait_until_finished()
    targets = lb_named(world, "lb")["targets"]
    assert [t["type"] for t in targets] == ["server", "ip"]
    lb.remove_target(by_server(APP_1)).wait_until_finished()
    assert server_lbs(world, APP_1) == []
    assert [t["type"] for t in lb_named(world, "lb")["targets"]] == ["ip"]


def test_a_server_without_ipv4_is_no_public_target(
    cloud: hcloud.Client, world: SimulatorServer
) -> None:
    lb = create(cloud)
    v6 = cloud.servers.create(
        name="v6", server_type=ServerType(name="cx22"), image=Image(id=NIGHTLY),
        public_net=ServerCreatePublicNetwork(enable_ipv4=False, enable_ipv6=True),
    ).server  # fmt: skip
    with pytest.raises(APIException) as refused:
        lb.add_target(by_server(v6.id))
    assert refused.value.code == "resolve_cloud_public_targets_error"
    assert lb_named(world, "lb")["targets"] == []


def test_a_deleted_server_stops_being_a_target(
    cloud: hcloud.Client, world: SimulatorServer
) -> None:
    lb = create(cloud, targets=[by_server(APP_1), by_server(ARM_1)])
    cloud.servers.delete(Server(id=APP_1))
    assert [t["server"]["id"] for t in lb_named(world, "lb")["targets"]] == [ARM_1]
    assert lb.id in server_lbs(world, ARM_1)


def test_algorithm_type_protection_and_locks(
    cloud: hcloud.Client, world: SimulatorServer, wire: RawApi
) -> None:
    lb = create(cloud, services=[LoadBalancerService(protocol="http")])
    action = lb.change_algorithm(LoadBalancerAlgorithm(type="least_connections"))
    assert action.command == "change_algorithm"
    # while an action runs the load balancer is locked
    refused = wire.post(
        f"/load_balancers/{lb.id}/actions/change_type", {"load_balancer_type": "lb21"}
    )
    assert error_of(refused) == (
        423,
        "locked",
        "cannot perform operation because load balancer is locked",
    )
    world.state.clock.advance(ACTION_S)
    lb.change_type(LoadBalancerType(name="lb21")).wait_until_finished()
    assert lb_named(world, "lb")["load_balancer_type"]["name"] == "lb21"
    assert lb_named(world, "lb")["algorithm"] == {"type": "least_connections"}
    commands = [a.command for a in cloud.load_balancers.get_actions_list(lb).actions]
    assert commands == ["create_load_balancer", "change_algorithm", "change_load_balancer_type"]
    refused = wire.post(f"/load_balancers/{lb.id}/actions/change_algorithm", {"type": "random"})
    assert error_of(refused)[:2] == (422, "invalid_input")
    assert refused.json()["error"]["details"]["fields"][0]["name"] == "type"
    lb.change_protection(delete=True)
    deleted = wire.session.delete(f"{wire.url}/load_balancers/{lb.id}")
    assert error_of(deleted) == (423, "protected", "load balancer deletion is protected")
    lb.change_protection(delete=False)
    # an action since 2026-10-05 (test_load_balancer_delete.py), as hcloud-python 2.27 expects
    assert cloud.load_balancers.delete(lb).action.command == "delete_load_balancer"
    assert world.state.ground_truth()["load_balancers"] == []


def test_a_type_too_small_is_refused(cloud: hcloud.Client) -> None:
    ports = range(1000, 1006)
    lb = create(
        cloud,
        load_balancer_type=LoadBalancerType(name="lb21"),
        services=[
            LoadBalancerService(protocol="tcp", listen_port=p, destination_port=p) for p in ports
        ],
    )
    with pytest.raises(APIException) as refused:
        lb.change_type(LoadBalancerType(name="lb11"))
    assert refused.value.code == "invalid_load_balancer_type"


def test_list_filters_and_update(cloud: hcloud.Client, wire: RawApi) -> None:
    for name, env in (("b", "prod"), ("a", "dev")):
        create(cloud, name=name, labels={"env": env})
    listed = wire.get("/load_balancers", {"sort": "name:asc"}).json()["load_balancers"]
    assert [b["name"] for b in listed] == ["a", "b"]
    assert [b.name for b in cloud.load_balancers.get_all(label_selector="env=prod")] == ["b"]
    found = cloud.load_balancers.get_by_name("a")
    assert found is not None
    assert cloud.load_balancers.update(found, name="a2").name == "a2"


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("add_target", {"type": "label_selector", "label_selector": {"selector": "x in (y"}},
         (422, "invalid_input")),
        ("add_target", {"type": "server", "server": {"id": 999_999}}, (404, "not_found")),
        ("add_target", {"type": "server", "server": {"id": NIGHTLY}}, (404, "not_found")),
        ("add_target", {"type": "ip", "ip": {"ip": "10.0.0.1"}},
         (422, "load_balancer_not_attached_to_network")),
        ("add_target", {"type": "ip", "ip": {"ip": "not-an-ip"}}, (422, "invalid_input")),
        ("add_target", {"type": "volume"}, (422, "invalid_input")),
        ("add_service", {"protocol": "udp", "listen_port": 53}, (422, "invalid_input")),
        ("add_service", {"protocol": "tcp", "listen_port": 70000, "destination_port": 1},
         (422, "invalid_input")),
        ("add_service", {"protocol": "http", "http": {"certificates": [APP_1]}},
         (422, "invalid_input")),
        ("add_service", {"protocol": "https", "http": {"certificates": [1_899_999]}},
         (404, "not_found")),
        ("add_service", {"protocol": "tcp", "listen_port": 1, "destination_port": 1,
                         "health_check": {"interval": 1}}, (422, "invalid_input")),
        ("update_service", {"listen_port": 81}, (404, "not_found")),
        ("change_type", {"load_balancer_type": "lb99"}, (422, "invalid_input")),
        ("change_algorithm", {"type": "random"}, (422, "invalid_input")),
        ("remove_target", {"type": "server", "server": {"id": BIG_1}}, (404, "not_found")),
    ],
)  # fmt: skip
def test_bad_action_bodies_change_nothing(
    wire: RawApi,
    world: SimulatorServer,
    path: str,
    body: dict[str, Any],
    expected: tuple[int, str],
) -> None:
    created = wire.post(
        "/load_balancers",
        {"name": "lb", "load_balancer_type": "lb11", "location": "fsn1",
         "services": [{"protocol": "http"}]},
    ).json()["load_balancer"]  # fmt: skip
    world.state.clock.advance(ACTION_S)
    before = lb_named(world, "lb")
    refused = wire.post(f"/load_balancers/{created['id']}/actions/{path}", body)
    assert error_of(refused)[:2] == expected
    assert lb_named(world, "lb") == before


def test_unknown_ids_and_ids_of_another_kind(wire: RawApi, world: SimulatorServer) -> None:
    for lb_id in (1_699_999, APP_1):
        assert error_of(wire.get(f"/load_balancers/{lb_id}")) == (
            404,
            "not_found",
            f"load balancer with ID '{lb_id}' not found",
        )
        assert error_of(wire.post(f"/load_balancers/{lb_id}/actions/add_target", {}))[:2] == (
            404,
            "not_found",
        )
    bad = wire.post("/load_balancers", {"name": "x", "load_balancer_type": "lb11"})
    assert error_of(bad)[:2] == (422, "invalid_input")  # neither location nor network_zone
    assert error_of(wire.get("/load_balancers", {"label_selector": "=="}))[:2] == (
        422,
        "invalid_input",
    )
    assert world.state.ground_truth()["load_balancers"] == []


def test_scenario_section(make_sim: SimFactory, make_client: ClientFactory) -> None:
    project = {
        **RESTORE["projects"][0],
        "certificates": [{"name": "shop", "domain_names": ["shop.example.com"]}],
        "load_balancers": [
            {
                "name": "front",
                "type": "lb21",
                "services": [{"protocol": "https", "http": {"certificates": ["shop"]}}],
                "servers": ["arm-1"],
                "label_selectors": ["env=prod"],
                "ips": ["8.8.4.4"],
                "protected": True,
                "network": "back",
                "ip": "10.9.0.9",
            }
        ],
        "networks": [
            {
                "name": "back",
                "ip_range": "10.9.0.0/16",
                "subnets": [{"ip_range": "10.9.0.0/24", "network_zone": "eu-central"}],
            }
        ],
    }
    client = make_client(make_sim({**RESTORE, "projects": [project]}, time_scale=1))
    front = client.load_balancers.get_by_name("front")
    assert front is not None
    assert front.load_balancer_type.name == "lb21"
    assert front.protection["delete"] is True
    assert [t.type for t in front.targets] == ["server", "label_selector", "ip"]
    cert = client.certificates.get_by_name("shop")
    assert cert is not None
    assert [c.id for c in front.services[0].http.certificates] == [cert.id]
    assert [(p.network.name, p.ip) for p in front.private_net] == [("back", "10.9.0.9")]
    raw = client._client.request("GET", f"/servers/{APP_1}")  # the SDK hides load_balancers
    assert raw["server"]["load_balancers"] == [front.id]


# -- the official Go CLI ----------------------------------------------------------------------


@pytest.mark.gocli
def test_go_cli_create_add_service_and_targets(hcloud: Run, fast_sim: SimulatorServer) -> None:
    out = hcloud("load-balancer", "create", "--name", "front", "--type", "lb11",
                 "--location", "fsn1").stdout  # fmt: skip
    assert re.search(r"LoadBalancer \d+ created", out)
    hcloud("load-balancer", "add-service", "front", "--protocol", "http")
    hcloud(
        "load-balancer", "add-service", "front", "--protocol", "tcp", "--listen-port", "22",
        "--destination-port", "2222",
    )  # fmt: skip
    hcloud("load-balancer", "add-target", "front", "--server", "web-1")
    hcloud("load-balancer", "add-target", "front", "--label-selector", "role=db")
    lb = lb_named(fast_sim, "front")
    assert [(s["protocol"], s["listen_port"]) for s in lb["services"]] == [
        ("http", 80),
        ("tcp", 22),
    ]
    assert [t["type"] for t in lb["targets"]] == ["server", "label_selector"]
    for name in ("web-1", "db-1", "db-2"):
        assert server_named(fast_sim, name)["load_balancers"] == [lb["id"]]
    hcloud("network", "create", "--name", "back", "--ip-range", "10.0.0.0/16")
    hcloud("network", "add-subnet", "back", "--type", "cloud", "--network-zone", "eu-central",
           "--ip-range", "10.0.0.0/24")  # fmt: skip
    hcloud("load-balancer", "attach-to-network", "front", "--network", "back", "--ip", "10.0.0.7")
    assert lb_named(fast_sim, "front")["private_net"][0]["ip"] == "10.0.0.7"
    described = hcloud("load-balancer", "describe", "front").stdout
    assert "Label Selector:\t\trole=db" in described
    assert re.search(r"IP:\s+10\.0\.0\.7", described)
    assert "Targets: (2)" in described
    assert not failed_requests(fast_sim)
