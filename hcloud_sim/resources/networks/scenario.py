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

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from hcloud_sim.catalog import LOCATIONS
from hcloud_sim.errors import ApiError
from hcloud_sim.resources.networks import servers, verbs
from hcloud_sim.resources.networks.state import (
    NETWORK_ZONES,
    Attachment,
    IPv4Address,
    IPv4Network,
    NetRoute,
    Network,
    NetworkState,
    render_attachment,
    render_network,
)

if TYPE_CHECKING:
    from hcloud_sim.project import Project
    from hcloud_sim.spec import ProjectSpec, ServerSpec

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
    def check_refs(self, project: ProjectSpec) -> None:
        """Raise ValueError for what only the project can tell: servers, addresses, overlaps."""
        servers = {}
        for i, spec in enumerate(s for group in project.servers for s in expand(group)):
            servers[spec.name] = (
                i + 1,
                LOCATIONS[spec.location][6] if spec.location in LOCATIONS else "",
            )
        counter = itertools.count(1)
        populate(
            NetworkState(),
            self.root,
            members=servers,
            private=private_names(project),
            new_id=lambda: next(counter),
            now=0,
        )


#: a server as the section sees it: name -> (id, network zone)
Members = dict[str, tuple[int, str]]


def expand(spec: ServerSpec) -> list[ServerSpec]:
    """A server spec with ``count`` stands for that many servers (``{i}`` in its name)."""
    if spec.count is None:
        return [spec]
    return [
        spec.model_copy(update={"name": spec.name.format(i=i)}) for i in range(1, spec.count + 1)
    ]


def private_names(project: ProjectSpec) -> list[str]:
    return [s.name for group in project.servers for s in expand(group) if s.private_network]


def seed(project: Project, section: NetworksSection | None) -> None:
    members = {
        s.name: (s.id, servers.zone_of(project, s))
        for s in sorted(project.servers.values(), key=lambda s: s.id)
    }
    populate(
        verbs.networks_of(project),
        section.root if section is not None else [],
        members=members,
        private=private_names(project.spec),
        new_id=lambda: project.sim.next_id("network"),
        now=project.sim.clock.now(),
    )


def populate(
    state: NetworkState,
    specs: list[NetworkSpec],
    *,
    members: Members,
    private: list[str],
    new_id: Callable[[], int],
    now: float,
) -> None:
    """The section's networks, and ``private`` (server names) in the network named private."""
    made: dict[str, Network] = {}
    for spec in specs:
        try:
            network = verbs.build_network(
                state,
                new_id,
                now,
                name=spec.name,
                ip_range=spec.ip_range,
                labels=spec.labels,
                subnets=[(s.type, s.ip_range, s.network_zone, s.vswitch_id) for s in spec.subnets],
                routes=[NetRoute(r.destination, r.gateway) for r in spec.routes],
                expose_routes_to_vswitch=spec.expose_routes_to_vswitch,
            )
        except ApiError as exc:
            raise ValueError(f"network {spec.name!r}: {exc.message}") from None
        network.protection_delete = spec.protected
        made[spec.name] = network
        for member in spec.servers:
            _attach(state, network, members, member.name, ip=member.ip, alias_ips=member.alias_ips)
    if not private:
        return
    network = made.get(PRIVATE_NAME) or _private_network(
        state, members=members, private=private, new_id=new_id, now=now
    )
    for name in private:
        if members.get(name, (0, ""))[0] not in network.servers:
            _attach(state, network, members, name, ip=None, alias_ips=[])


def _attach(
    state: NetworkState,
    network: Network,
    members: Members,
    name: str,
    *,
    ip: IPv4Address | None,
    alias_ips: list[IPv4Address],
) -> None:
    if name not in members:
        raise ValueError(f"network {network.name!r}: no server {name!r}")
    server_id, zone = members[name]
    try:
        servers.check_overlap(state, server_id, network)
        address, aliases = servers.plan_addresses(
            network, server_id=server_id, zone=zone, ip=ip, alias_ips=alias_ips, ip_range=None
        )
    except ApiError as exc:
        raise ValueError(f"network {network.name!r}, server {name!r}: {exc.message}") from None
    network.servers[server_id] = Attachment(address, aliases, state.next_mac())


def _private_network(
    state: NetworkState,
    *,
    members: Members,
    private: list[str],
    new_id: Callable[[], int],
    now: float,
) -> Network:
    """10.0.0.0/16 with a /20 subnet per network zone its servers are in (eu-central first)."""
    zones = {members[name][1] for name in private if name in members}
    ordered = [z for z in NETWORK_ZONES if z in zones]
    blocks = list(PRIVATE_RANGE.subnets(new_prefix=20))
    return verbs.build_network(
        state,
        new_id,
        now,
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
