"""The ``networks`` section of a scenario project, and the network of ``private_network`` servers.

```yaml
networks:
  - name: backend
    ip_range: 10.1.0.0/16
    subnets: [{type: cloud, ip_range: 10.1.0.0/24, network_zone: eu-central}]
    routes: [{destination: 10.100.0.0/24, gateway: 10.1.0.10}]
    servers: [{name: db-1, ip: 10.1.0.5, alias_ips: [10.1.0.6]}, {name: web-1}]
```

A server spec with ``private_network: true`` is attached to the network named ``private``: the
section's, or else one the simulator makes (10.0.0.0/16, one subnet per network zone in use).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from hcloud_sim.errors import ApiError
from hcloud_sim.resources.networks import servers, verbs
from hcloud_sim.resources.networks.state import (
    NETWORK_ZONES,
    Attachment,
    IPv4Address,
    IPv4Network,
    NetRoute,
    Network,
    render_attachment,
    render_network,
)

if TYPE_CHECKING:
    from hcloud_sim.project import Project

#: the network ``private_network: true`` servers are put in
PRIVATE_NAME = "private"
PRIVATE_RANGE = IPv4Network("10.0.0.0/16")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubnetSpec(_Spec):
    type: Literal["cloud", "server", "vswitch"] = "cloud"
    ip_range: IPv4Network | None = Field(default=None, description="default: the first free /24")
    network_zone: Literal["eu-central", "us-east", "us-west", "ap-southeast"] = "eu-central"
    vswitch_id: int | None = None


class RouteSpec(_Spec):
    destination: IPv4Network
    gateway: IPv4Address


class MemberSpec(_Spec):
    name: str = Field(description="the server's name")
    ip: IPv4Address | None = Field(default=None, description="default: handed out")
    alias_ips: list[IPv4Address] = Field(default_factory=list)


class NetworkSpec(_Spec):
    name: str
    ip_range: IPv4Network
    subnets: list[SubnetSpec] = Field(default_factory=list)
    routes: list[RouteSpec] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    protected: bool = False
    expose_routes_to_vswitch: bool = False
    servers: list[MemberSpec] = Field(default_factory=list)


class NetworksSection(RootModel[list[NetworkSpec]]):
    pass


def seed(project: Project, section: NetworksSection | None) -> None:
    specs = section.root if section is not None else []
    made: dict[str, Network] = {}
    for spec in specs:
        try:
            made[spec.name] = _make(project, spec)
        except ApiError as exc:
            raise ValueError(f"network {spec.name!r}: {exc.message}") from None
    private = [s for s in project.servers.values() if _wants_private(project, s.name)]
    if private:
        network = made.get(PRIVATE_NAME) or _private_network(project, private)
        for server in sorted(private, key=lambda s: s.id):
            if server.id not in network.servers:
                _attach(project, network, server.name, None, [])


def _make(project: Project, spec: NetworkSpec) -> Network:
    network = verbs.create_network(
        project,
        name=spec.name,
        ip_range=spec.ip_range,
        labels=spec.labels,
        subnets=[(s.type, s.ip_range, s.network_zone, s.vswitch_id) for s in spec.subnets],
        routes=[NetRoute(r.destination, r.gateway) for r in spec.routes],
        expose_routes_to_vswitch=spec.expose_routes_to_vswitch,
    )
    network.protection_delete = spec.protected
    for member in spec.servers:
        _attach(project, network, member.name, member.ip, member.alias_ips)
    return network


def _attach(
    project: Project,
    network: Network,
    name: str,
    ip: IPv4Address | None,
    alias_ips: list[IPv4Address],
) -> None:
    server = next((s for s in project.servers.values() if s.name == name), None)
    if server is None:
        raise ValueError(
            f"network {network.name!r}: no server {name!r} in project {project.name!r}"
        )
    try:
        servers.check_overlap(project, server.id, network)
        address, aliases = servers.plan_addresses(
            network,
            server_id=server.id,
            zone=servers.zone_of(project, server),
            ip=ip,
            alias_ips=alias_ips,
            ip_range=None,
        )
    except ApiError as exc:
        raise ValueError(f"network {network.name!r}, server {name!r}: {exc.message}") from None
    state = verbs.networks_of(project)
    network.servers[server.id] = Attachment(address, aliases, state.next_mac())


def _wants_private(project: Project, name: str) -> bool:
    for spec in project.spec.servers:
        if not spec.private_network:
            continue
        if spec.count is None and spec.name == name:
            return True
        if spec.count is not None and any(
            spec.name.format(i=i) == name for i in range(1, spec.count + 1)
        ):
            return True
    return False


def _private_network(project: Project, members: list[Any]) -> Network:
    """10.0.0.0/16 with a /20 subnet per network zone its servers are in (eu-central first)."""
    zones = {servers.zone_of(project, s) for s in members}
    ordered = [z for z in NETWORK_ZONES if z in zones]
    blocks = list(PRIVATE_RANGE.subnets(new_prefix=20))
    return verbs.create_network(
        project,
        name=PRIVATE_NAME,
        ip_range=PRIVATE_RANGE,
        labels={},
        subnets=[("cloud", blocks[i], zone, None) for i, zone in enumerate(ordered)],
        routes=[],
    )


def ground_truth(project: Project) -> list[dict[str, Any]]:
    """Every network as the API shows it, with each member's interface."""
    found = []
    for network in sorted(verbs.networks_of(project).networks.values(), key=lambda n: n.id):
        view = render_network(network)
        view["interfaces"] = {
            str(sid): render_attachment(network.id, att) | {"pending": att.pending}
            for sid, att in sorted(network.servers.items())
        }
        found.append(view)
    return found
