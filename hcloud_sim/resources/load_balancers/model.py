"""Load balancers' records and how the API shows them.

Targets are servers, label selectors and IPs. A label selector is resolved whenever someone
looks, so servers created or relabelled later are targeted at once. A target server is
``healthy`` on every service while it runs, ``unhealthy`` otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from hcloud_labels import Selector
from hcloud_sim.catalog import INCLUDED_TRAFFIC
from hcloud_sim.clock import iso
from hcloud_sim.errors import ApiError
from hcloud_sim.resources.load_balancers import types
from hcloud_sim.resources.primary_ips.state import held_by

if TYPE_CHECKING:
    from hcloud_sim.model import Server
    from hcloud_sim.project import Project


@dataclass
class Target:
    type: Literal["server", "label_selector", "ip"]
    server: int | None = None
    selector_text: str | None = None
    selector: Selector | None = None
    ip: str | None = None
    use_private_ip: bool = False

    def same(self, other: Target) -> bool:
        return (self.type, self.server, self.selector_text, self.ip) == (
            other.type,
            other.server,
            other.selector_text,
            other.ip,
        )


@dataclass
class LoadBalancer:
    id: int
    name: str
    type: str
    location: str
    created: float
    labels: dict[str, str] = field(default_factory=dict)
    algorithm: str = "round_robin"
    #: services in the API's shape (see ``services.parse``), by listen port
    services: list[dict[str, Any]] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    protection_delete: bool = False
    public_interface: bool = True
    dns_ptr: dict[str, str | None] = field(default_factory=dict)
    #: the private network it is attached to (networks family) and its address there
    network: int | None = None
    private_ip: str | None = None
    #: existing Primary IPs given at creation (``public_net``), held for its lifetime: type -> id
    primary_ips: dict[str, int] = field(default_factory=dict)
    #: their addresses (the IPv6 one is the first of the /64), which replace the made-up ones
    fixed: dict[str, str] = field(default_factory=dict)

    @property
    def ipv4(self) -> str:
        if "ipv4" in self.fixed:
            return self.fixed["ipv4"]
        n = self.id - 1_600_000  # the benchmark range 198.18.0.0/15: no other family uses it
        return f"198.18.{n // 254 % 254}.{n % 254 + 1}"

    @property
    def ipv6(self) -> str:
        if "ipv6" in self.fixed:
            return self.fixed["ipv6"]
        return f"2001:db8:1b:{self.id - 1_600_000:x}::1"


@dataclass
class LoadBalancerState:
    load_balancers: dict[int, LoadBalancer] = field(default_factory=dict)


def state(project: Project) -> LoadBalancerState:
    return project.store(LoadBalancerState)


def get(project: Project, lb_id: int) -> LoadBalancer:
    found = state(project).load_balancers.get(lb_id)
    if found is None:
        raise ApiError("not_found", f"load balancer with ID '{lb_id}' not found")
    return found


def type_of(lb: LoadBalancer) -> types.LoadBalancerType:
    found = types.find(lb.type)
    if found is None:  # only catalog types are ever stored
        raise LookupError(lb.type)
    return found


def matched(project: Project, selector: Selector) -> list[Server]:
    return sorted(
        (s for s in project.servers.values() if selector.matches(s.labels)), key=lambda s: s.id
    )


def targeted_servers(project: Project, lb: LoadBalancer) -> set[int]:
    found: set[int] = set()
    for t in lb.targets:
        if t.type == "server" and t.server is not None:
            found.add(t.server)
        elif t.selector is not None:
            found.update(s.id for s in matched(project, t.selector))
    return found


def public_ipv4(project: Project, server: Server) -> str | None:
    return _server_address(project, server)


def targeting(project: Project, server: Server) -> list[int]:
    """Ids of the load balancers that target ``server`` directly or by a label selector."""
    return sorted(
        lb.id
        for lb in state(project).load_balancers.values()
        if any(
            (t.type == "server" and t.server == server.id)
            or (t.selector is not None and t.selector.matches(server.labels))
            for t in lb.targets
        )
    )


def certificate_users(project: Project, certificate_id: int) -> list[int]:
    return sorted(
        lb.id
        for lb in state(project).load_balancers.values()
        if any(certificate_id in (s.get("http") or {}).get("certificates", []) for s in lb.services)
    )


def _server_address(project: Project, server: Server) -> str | None:
    """The public IPv4 a public target is reached at (its Primary IPv4), if it has one."""
    held = held_by(project, server.id).get("ipv4")
    return held.ip if held is not None else None


def _health(lb: LoadBalancer, healthy: bool) -> list[dict[str, Any]]:
    status = "healthy" if healthy else "unhealthy"
    return [{"listen_port": s["listen_port"], "status": status} for s in lb.services]


def _server_target(
    project: Project, lb: LoadBalancer, server: Server, private: bool
) -> dict[str, Any]:
    from hcloud_sim.resources.load_balancers.network import private_address  # noqa: PLC0415

    ip = private_address(project, lb, server) if private else _server_address(project, server)
    return {
        "type": "server",
        "server": {"id": server.id, "ip": ip or ""},
        # a private target that left the network is unreachable
        "health_status": _health(lb, server.status == "running" and ip is not None),
        "use_private_ip": private,
    }


def render_target(project: Project, lb: LoadBalancer, target: Target) -> dict[str, Any]:
    if target.type == "server" and target.server is not None:
        server = project.servers[target.server]
        return _server_target(project, lb, server, target.use_private_ip)
    if target.selector is not None:
        return {
            "type": "label_selector",
            "label_selector": {"selector": target.selector_text},
            "targets": [
                _server_target(project, lb, s, target.use_private_ip)
                for s in matched(project, target.selector)
            ],
            "use_private_ip": target.use_private_ip,
        }
    return {"type": "ip", "ip": {"ip": target.ip}, "health_status": _health(lb, True)}


def _private_net(project: Project, lb: LoadBalancer) -> list[dict[str, Any]]:
    from hcloud_sim.resources.load_balancers.network import attached  # noqa: PLC0415

    network = attached(project, lb)
    if network is None or lb.private_ip is None:
        return []
    return [{"network": network.id, "ip": lb.private_ip}]


def _primary_id(lb: LoadBalancer, kind: str) -> dict[str, int]:
    """``{"id": <Primary IP>}`` where the address is an existing Primary IP (newer than the
    OpenAPI document: see tests/openapi_check.py ``POST_DOCUMENT_CHANGES``)."""
    return {"id": lb.primary_ips[kind]} if kind in lb.primary_ips else {}


def render(project: Project, lb: LoadBalancer) -> dict[str, Any]:
    return {
        "id": lb.id,
        "name": lb.name,
        "public_net": {
            "enabled": lb.public_interface,
            "ipv4": {
                "ip": lb.ipv4,
                "dns_ptr": lb.dns_ptr.get(lb.ipv4, f"static.{lb.ipv4}.clients.your-server.de"),
                **_primary_id(lb, "ipv4"),
            },
            "ipv6": {"ip": lb.ipv6, "dns_ptr": lb.dns_ptr.get(lb.ipv6), **_primary_id(lb, "ipv6")},
        },
        "private_net": _private_net(project, lb),
        "location": project.catalog.render_location(lb.location),
        "load_balancer_type": types.render(project, type_of(lb)),
        "protection": {"delete": lb.protection_delete},
        "labels": dict(lb.labels),
        "created": iso(lb.created),
        "services": [dict(s) for s in lb.services],
        "targets": [render_target(project, lb, t) for t in lb.targets],
        "algorithm": {"type": lb.algorithm},
        "outgoing_traffic": 0,
        "ingoing_traffic": 0,
        "included_traffic": INCLUDED_TRAFFIC,
    }
