"""Firewalls' records and rules: what a firewall is, which servers it guards, and rule checks.

A firewall is applied to servers directly and through label selectors. A selector is resolved
whenever someone looks, so a server created or relabelled later is guarded (or no longer is) at
once, as the API shows it after "a few seconds". An ``apply_firewall`` action that still runs
shows the firewall as ``pending`` on the servers it covers.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hcloud_labels import Selector
from hcloud_sim.clock import iso
from hcloud_sim.errors import ApiError, invalid_field
from hcloud_sim.resources.kit import as_list, as_object, as_str, unknown_keys
from hcloud_sim.resources.primary_ips.state import held_by

if TYPE_CHECKING:
    from hcloud_sim.model import Server
    from hcloud_sim.project import Project

PROTOCOLS = ("tcp", "udp", "icmp", "esp", "gre")
MAX_RULES = 50
#: a server can be guarded by at most this many firewalls (docs.hetzner.com: limits)
MAX_PER_SERVER = 5


@dataclass
class Firewall:
    id: int
    name: str
    created: float
    labels: dict[str, str] = field(default_factory=dict)
    rules: list[dict[str, Any]] = field(default_factory=list)
    #: servers it is applied to directly, in order
    servers: list[int] = field(default_factory=list)
    #: label selectors it is applied through: text -> parsed
    selectors: dict[str, Selector] = field(default_factory=dict)


@dataclass
class FirewallState:
    firewalls: dict[int, Firewall] = field(default_factory=dict)
    #: (firewall, server) -> the apply_firewall action that is making it effective
    applying: dict[tuple[int, int], int] = field(default_factory=dict)


def state(project: Project) -> FirewallState:
    return project.store(FirewallState)


def get(project: Project, firewall_id: int) -> Firewall:
    found = state(project).firewalls.get(firewall_id)
    if found is None:
        raise ApiError("not_found", f"firewall with ID '{firewall_id}' not found")
    return found


def has_public_interface(project: Project, server: Server) -> bool:
    """Firewalls guard public interfaces only: a server without a Primary IP cannot have one."""
    return bool(held_by(project, server.id))


def selected(project: Project, firewall: Firewall, selector: Selector) -> list[Server]:
    del firewall
    return sorted(
        (
            s
            for s in project.servers.values()
            if selector.matches(s.labels) and has_public_interface(project, s)
        ),
        key=lambda s: s.id,
    )


def guarding(project: Project, server: Server) -> list[Firewall]:
    """Every firewall applied to ``server``, directly or by a selector matching its labels."""
    if not has_public_interface(project, server):
        return []
    return [
        f
        for f in sorted(state(project).firewalls.values(), key=lambda f: f.id)
        if server.id in f.servers or any(s.matches(server.labels) for s in f.selectors.values())
    ]


def is_pending(project: Project, firewall_id: int, server_id: int) -> bool:
    applying = state(project).applying
    action_id = applying.get((firewall_id, server_id))
    if action_id is None:
        return False
    action = project.actions.get(action_id)
    if action is None or action.status != "running":
        del applying[(firewall_id, server_id)]
        return False
    return True


# -- rules ----------------------------------------------------------------------------------


def _cidrs(value: Any, where: str) -> list[str]:
    out = []
    for i, item in enumerate(as_list(value, where)):
        text = as_str(item, f"{where}.{i}")
        if "/" not in text:
            raise invalid_field(f"{where}.{i}", "must be in CIDR notation, e.g. 192.0.2.0/24")
        try:
            ipaddress.ip_network(text, strict=True)
        except ValueError as exc:
            raise invalid_field(f"{where}.{i}", f"is not a valid CIDR: {exc}") from None
        out.append(text)
    return out


def _port(value: Any, protocol: str, where: str) -> str | None:
    if protocol not in ("tcp", "udp"):
        if value is not None:
            raise invalid_field(where, f"port is not allowed for protocol {protocol}")
        return None
    if value is None:
        raise invalid_field(where, f"port is required for protocol {protocol}")
    text = as_str(value, where)
    if text == "any":
        return text
    low, sep, high = text.partition("-")
    if not low.isdigit() or (sep and not high.isdigit()):
        raise invalid_field(where, "must be a port (80), a range (80-85) or 'any'")
    start, end = int(low), int(high) if sep else int(low)
    if not 1 <= start <= 65535 or not 1 <= end <= 65535 or (sep and start >= end):
        raise invalid_field(where, "ports are 1-65535 and a range goes from low to high")
    return text


def parse_rules(value: Any, where: str = "rules") -> list[dict[str, Any]]:
    """Rules from a body, checked as the API checks them, in the shape the API shows them."""
    items = as_list(value, where)
    if len(items) > MAX_RULES:
        raise invalid_field(where, f"at most {MAX_RULES} rules per firewall")
    rules = []
    for i, item in enumerate(items):
        at = f"{where}.{i}"
        rule = as_object(item, at)
        unknown_keys(
            rule,
            ("description", "direction", "protocol", "port", "source_ips", "destination_ips"),
            at,
        )
        direction = rule.get("direction")
        if direction not in ("in", "out"):
            raise invalid_field(f"{at}.direction", "must be one of in, out")
        protocol = rule.get("protocol")
        if protocol not in PROTOCOLS:
            raise invalid_field(f"{at}.protocol", f"must be one of {', '.join(PROTOCOLS)}")
        sources = _cidrs(rule.get("source_ips") or [], f"{at}.source_ips")
        destinations = _cidrs(rule.get("destination_ips") or [], f"{at}.destination_ips")
        if direction == "in" and (not sources or destinations):
            raise invalid_field(
                f"{at}.source_ips", "an inbound rule needs source_ips and no destination_ips"
            )
        if direction == "out" and (not destinations or sources):
            raise invalid_field(
                f"{at}.destination_ips", "an outbound rule needs destination_ips and no source_ips"
            )
        description = rule.get("description")
        if description is not None:
            description = as_str(description, f"{at}.description")
            if len(description) > 255:
                raise invalid_field(f"{at}.description", "is too long (at most 255 characters)")
        rules.append(
            {
                "description": description,
                "direction": direction,
                "protocol": protocol,
                "port": _port(rule.get("port"), protocol, f"{at}.port"),
                "source_ips": sources,
                "destination_ips": destinations,
            }
        )
    return rules


def render(project: Project, firewall: Firewall) -> dict[str, Any]:
    applied: list[dict[str, Any]] = [
        {"type": "server", "server": {"id": sid}} for sid in firewall.servers
    ]
    for text, selector in firewall.selectors.items():
        applied.append(
            {
                "type": "label_selector",
                "label_selector": {"selector": text},
                "applied_to_resources": [
                    {"type": "server", "server": {"id": s.id}}
                    for s in selected(project, firewall, selector)
                ],
            }
        )
    return {
        "id": firewall.id,
        "name": firewall.name,
        "labels": dict(firewall.labels),
        "created": iso(firewall.created),
        "rules": [dict(r) for r in firewall.rules],
        "applied_to": applied,
    }
