"""Helpers shared by the load balancer contract tests (test_load_balancers*.py)."""

from __future__ import annotations

from typing import Any

import hcloud
from hcloud.load_balancer_types import LoadBalancerType
from hcloud.load_balancers import LoadBalancerTarget, LoadBalancerTargetLabelSelector
from hcloud.locations import Location
from hcloud.servers import Server

from hcloud_sim import SimulatorServer

ACTION_S = 5  # the project's default duration of every load balancer action


def lb_named(world: SimulatorServer, name: str) -> dict[str, Any]:
    return next(b for b in world.state.ground_truth()["load_balancers"] if b["name"] == name)


def server_lbs(world: SimulatorServer, server_id: int) -> list[int]:
    server = next(s for s in world.state.ground_truth()["servers"] if s["id"] == server_id)
    found: list[int] = server["load_balancers"]
    return found


def network_lbs(world: SimulatorServer) -> list[int]:
    (network,) = world.state.ground_truth()["networks"]
    found: list[int] = network["load_balancers"]
    return found


def by_server(server_id: int) -> LoadBalancerTarget:
    return LoadBalancerTarget(type="server", server=Server(id=server_id), use_private_ip=False)


def by_label(selector: str) -> LoadBalancerTarget:
    return LoadBalancerTarget(
        type="label_selector",
        label_selector=LoadBalancerTargetLabelSelector(selector=selector),
        use_private_ip=False,
    )


def create(cloud: hcloud.Client, name: str = "lb", **kwargs: Any) -> Any:
    kwargs.setdefault("load_balancer_type", LoadBalancerType(name="lb11"))
    kwargs.setdefault("location", Location(name="fsn1"))
    created = cloud.load_balancers.create(name=name, **kwargs)
    created.action.wait_until_finished()
    return cloud.load_balancers.get_by_id(created.load_balancer.id)
