"""Load balancer targets from request bodies: servers, label selectors and IPs, with the API's
refusals (``target_already_defined``, ``resolve_cloud_public_targets_error``, ...).

A target that asks for ``use_private_ip`` needs the load balancer in a network the server is in
(``network.py``).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from hcloud_sim.errors import ApiError, invalid_field
from hcloud_sim.resources.kit import (
    as_bool,
    as_object,
    as_str,
    parse_label_selector,
    resource_id,
    unknown_keys,
)
from hcloud_sim.resources.load_balancers import network
from hcloud_sim.resources.load_balancers.model import (
    LoadBalancer,
    Target,
    matched,
    public_ipv4,
    type_of,
)

if TYPE_CHECKING:
    from hcloud_sim.project import Project

_FIELDS = ("type", "server", "label_selector", "ip", "use_private_ip")


def parse(value: Any, where: str, *, removing: bool = False) -> Target:
    body = as_object(value, where)
    unknown_keys(body, _FIELDS, where)
    kind = body.get("type")
    private = as_bool(body.get("use_private_ip", False), f"{where}.use_private_ip")
    if kind == "server":
        ref = as_object(body.get("server"), f"{where}.server")
        unknown_keys(ref, ("id", "ip"), f"{where}.server")
        return Target("server", server=resource_id(ref.get("id"), f"{where}.server.id"),
                      use_private_ip=private)  # fmt: skip
    if kind == "label_selector":
        ref = as_object(body.get("label_selector"), f"{where}.label_selector")
        unknown_keys(ref, ("selector",), f"{where}.label_selector")
        text = ref.get("selector")
        found = parse_label_selector(text, f"{where}.label_selector.selector")
        return Target("label_selector", selector_text=text, selector=found, use_private_ip=private)
    if kind == "ip":
        ref = as_object(body.get("ip"), f"{where}.ip")
        unknown_keys(ref, ("ip",), f"{where}.ip")
        text = as_str(ref.get("ip"), f"{where}.ip.ip")
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            raise invalid_field(f"{where}.ip.ip", "is not an IP address") from None
        if not removing and not address.is_global:
            raise ApiError(
                "load_balancer_not_attached_to_network",
                "the IP is private: the load balancer is not attached to a network",
                status=422,
            )
        return Target("ip", ip=str(address))
    raise invalid_field(f"{where}.type", "must be one of server, label_selector, ip")


def check(project: Project, lb: LoadBalancer, target: Target, others: list[Target]) -> None:
    """Refuse a target the API would refuse; ``others`` are the targets it is added to."""
    if any(t.same(target) for t in others):
        raise ApiError(
            "target_already_defined", "the load balancer target is already defined", status=422
        )
    if target.type == "server" and target.server is not None:
        server = project.servers.get(target.server)
        if server is None:
            raise ApiError("not_found", f"server with ID '{target.server}' not found")
    network.check_target(project, lb, target)
    if target.type == "server" and target.server is not None and not target.use_private_ip:
        server = project.servers[target.server]
        if public_ipv4(project, server) is None:
            raise ApiError(
                "resolve_cloud_public_targets_error",
                f"server with ID '{server.id}' has no public IPv4 address",
                status=422,
            )
    count = sum(
        len(matched(project, t.selector)) if t.selector is not None else 1
        for t in [*others, target]
    )
    if count > type_of(lb).max_targets:
        raise ApiError(
            "resource_limit_exceeded",
            f"load balancer type {lb.type} allows at most {type_of(lb).max_targets} targets",
        )


def find(lb: LoadBalancer, target: Target) -> Target:
    found = next((t for t in lb.targets if t.same(target)), None)
    if found is None:
        raise ApiError("not_found", "the load balancer has no such target")
    return found
