"""``POST /load_balancers`` ``public_net``: existing Primary IPs a load balancer holds for life.

Newer than the OpenAPI document (Hetzner's changelog of 2026-10-05, "Load Balancers can use
existing Primary IPs"): ``public_net: {"ipv4": <id>, "ipv6": <id>}`` names unassigned Primary
IPs of the load balancer's location. They show as the load balancer's addresses (with their
``id``), as ``assignee_type: load_balancer`` on the IP, cannot be unassigned, and when the load
balancer is deleted they are deleted with it if ``auto_delete`` is on, else left unassigned.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from hcloud_sim.errors import invalid_field
from hcloud_sim.resources.kit import as_object, resource_id, unknown_keys
from hcloud_sim.resources.primary_ips import state as primary

if TYPE_CHECKING:
    from hcloud_sim.project import Project
    from hcloud_sim.resources.load_balancers.model import LoadBalancer

KINDS = ("ipv4", "ipv6")


def plan(project: Project, value: Any, location: str) -> dict[str, primary.PrimaryIp]:
    """The Primary IPs ``public_net`` names, checked to fit a new load balancer in ``location``."""
    if value is None:
        return {}
    body = as_object(value, "public_net")
    unknown_keys(body, KINDS, "public_net")
    chosen: dict[str, primary.PrimaryIp] = {}
    for kind in KINDS:
        if body.get(kind) is None:
            continue
        where = f"public_net.{kind}"
        ip = primary.ips(project).get(resource_id(body[kind], where))
        if ip is None:
            raise invalid_field(where, f"primary IP {body[kind]!r} not found")
        primary.check_free(ip, kind, location, "the load balancer")
        chosen[kind] = ip
    return chosen


def take(project: Project, lb: LoadBalancer, chosen: dict[str, primary.PrimaryIp]) -> None:
    """The new load balancer (with its id) holds the planned IPs."""
    for kind, ip in chosen.items():
        primary.give_load_balancer(project, ip, lb.id)
        lb.primary_ips[kind] = ip.id
        # an IPv6 Primary IP is a /64: the load balancer answers at its first address
        lb.fixed[kind] = (
            ip.ip if kind == "ipv4" else str(ipaddress.IPv6Network(ip.ip).network_address + 1)
        )


def release(project: Project, lb: LoadBalancer) -> None:
    """The load balancer is gone: its Primary IPs die with it (``auto_delete``) or go free."""
    for ip_id in lb.primary_ips.values():
        primary.load_balancer_deleted(project, ip_id)
