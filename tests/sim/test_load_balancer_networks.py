"""Load balancers' catalog (types, prices), metrics, network zones, private networks and the
scenario section's references, through the SDK and raw HTTP, every response checked against the
OpenAPI document. The restore world runs at 1x and tests move its clock.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import hcloud
import pytest
from hcloud import APIException
from hcloud.load_balancer_types import LoadBalancerType
from hcloud.load_balancers import LoadBalancerTarget
from hcloud.networks import NetworkSubnet
from hcloud.servers import Server

from hcloud_sim import SimulatorServer
from hcloud_sim.scenarios import ScenarioError, load_scenario
from tests.sim._api import RawApi, error_of
from tests.sim._lb import by_server, create, lb_named, network_lbs
from tests.sim._restore import APP_1, ARM_1, BIG_1, RESTORE


def test_types_are_a_priced_catalog(
    cloud: hcloud.Client, world: SimulatorServer, wire: RawApi
) -> None:
    found = cloud.load_balancer_types.get_all()
    assert [(t.name, t.max_services, t.max_targets) for t in found] == [
        ("lb11", 5, 25),
        ("lb21", 15, 75),
        ("lb31", 30, 150),
    ]
    lb11 = cloud.load_balancer_types.get_by_name("lb11")
    assert lb11 is not None
    locations = [p["location"] for p in lb11.prices]
    assert locations == list(world.state.scenario.catalog.locations)
    assert lb11.prices[0]["price_monthly"]["net"] == "5.3900"
    assert cloud.load_balancer_types.get_by_id(3).name == "lb31"
    priced = wire.get("/pricing").json()["pricing"]["load_balancer_types"]
    assert [(t["name"], t["prices"][0]["price_monthly"]["net"]) for t in priced] == [
        ("lb11", "5.3900"),
        ("lb21", "16.4000"),
        ("lb31", "32.9000"),
    ]
    with pytest.raises(APIException) as missing:
        cloud.load_balancer_types.get_by_id(9)
    assert missing.value.code == "not_found"


def test_in_a_network_private_targets_and_no_public_interface(
    cloud: hcloud.Client, world: SimulatorServer
) -> None:
    net = cloud.networks.create(
        name="back",
        ip_range="10.0.0.0/16",
        subnets=[NetworkSubnet(type="cloud", ip_range="10.0.1.0/24", network_zone="eu-central")],
    )
    cloud.servers.attach_to_network(Server(id=APP_1), net).wait_until_finished()
    lb = create(cloud, targets=[by_server(BIG_1)])
    with pytest.raises(APIException) as no_network:
        lb.disable_public_interface()
    assert no_network.value.code == "load_balancer_not_attached_to_network"
    lb.attach_to_network(net, ip="10.0.1.10").wait_until_finished()
    assert lb_named(world, "lb")["private_net"] == [{"network": net.id, "ip": "10.0.1.10"}]
    assert network_lbs(world) == [lb.id]  # hcloud-python 2.27's Network has no load_balancers
    # the address is the load balancer's: no server gets it
    with pytest.raises(APIException) as taken:
        cloud.servers.attach_to_network(Server(id=ARM_1), net, ip="10.0.1.10")
    assert taken.value.code == "ip_not_available"
    private = LoadBalancerTarget(type="server", server=Server(id=APP_1), use_private_ip=True)
    lb.add_target(private).wait_until_finished()
    with pytest.raises(APIException) as outside:
        lb.add_target(
            LoadBalancerTarget(type="server", server=Server(id=ARM_1), use_private_ip=True)
        )
    assert outside.value.code == "resolve_cloud_private_targets_error"
    app = next(t for t in lb_named(world, "lb")["targets"] if t["server"]["id"] == APP_1)
    (app_net,) = cloud.servers.get_by_id(APP_1).private_net
    assert (app["use_private_ip"], app["server"]["ip"]) == (True, app_net.ip)
    with pytest.raises(APIException) as public_left:
        lb.disable_public_interface()
    assert public_left.value.code == "targets_without_use_private_ip"
    lb.remove_target(by_server(BIG_1)).wait_until_finished()
    lb.disable_public_interface().wait_until_finished()
    assert lb_named(world, "lb")["public_net"]["enabled"] is False
    with pytest.raises(APIException) as disabled:
        lb.add_target(by_server(BIG_1))
    assert disabled.value.code == "load_balancer_public_interface_disabled"
    with pytest.raises(APIException) as needed:
        lb.detach_from_network(net)
    assert needed.value.code == "unsupported_error"
    lb.enable_public_interface().wait_until_finished()
    lb.remove_target(private).wait_until_finished()
    lb.detach_from_network(net).wait_until_finished()
    assert lb_named(world, "lb")["private_net"] == []
    assert network_lbs(world) == []


def test_metrics_have_the_documented_shape_and_no_traffic(
    cloud: hcloud.Client, wire: RawApi
) -> None:
    lb = create(cloud)
    got = lb.get_metrics(
        type=["requests_per_second", "bandwidth"],
        start=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        end=dt.datetime(2026, 1, 1, 1, tzinfo=dt.UTC),
        step=600,
    ).metrics
    assert set(got.time_series) == {"requests_per_second", "bandwidth.in", "bandwidth.out"}
    values = got.time_series["bandwidth.in"]["values"]
    assert [v[1] for v in values] == ["0"] * 7
    assert values[1][0] - values[0][0] == 600
    query = {"type": "open_connections", "start": "2026-01-01T00:00:00Z"}
    for bad in ({"end": "yesterday"}, {"end": "2025-01-01T00:00:00Z"}, {"type": "cpu"}):
        refused = wire.get(
            f"/load_balancers/{lb.id}/metrics", {**query, "end": "2026-01-02T00:00:00Z", **bad}
        )
        assert error_of(refused)[:2] == (422, "invalid_input")


def test_network_zone_places_it(cloud: hcloud.Client) -> None:
    created = cloud.load_balancers.create(
        name="z", load_balancer_type=LoadBalancerType(name="lb11"), network_zone="us-east"
    )
    assert created.load_balancer.location.name == "ash"


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({"servers": ["nope"]}, "load balancer 'y': no server 'nope'"),
        ({"servers": ["edge"]}, "server 'edge' has no public IPv4 address"),
        ({"services": [{"protocol": "https", "http": {"certificates": ["nope"]}}]},
         "no certificate 'nope'"),
        ({"label_selectors": ["a in ("]}, "label_selectors"),
        ({"ips": ["10.0.0.1"]}, "not attached to a network"),
        ({"network": "nope"}, "no network 'nope'"),
        ({"public_interface": False}, "without a public interface it needs a network"),
    ],
)  # fmt: skip
def test_scenario_naming_what_is_not_there_fails_at_load(
    section: dict[str, Any], problem: str
) -> None:
    base = RESTORE["projects"][0]
    project = {
        **base,
        "servers": [*base["servers"], {"name": "edge", "ipv4": False}],
        "load_balancers": [{"name": "y", **section}],
    }
    with pytest.raises(ScenarioError, match=re.escape(problem)):
        load_scenario({**RESTORE, "projects": [project]})
