"""Primary IPs: a server's public IPv4 address and IPv6 /64, records that can outlive it.

Every server holds real Primary IPs: those made with it (``auto_delete`` on, its address derived
from its id) or existing ones given in ``POST /servers`` ``public_net`` or assigned while it is
off. Deleting a server deletes those with ``auto_delete`` and leaves the others unassigned.

Scenario section (servers by name; a server declared with ``ipv4``/``ipv6`` true gets one made
with it unless this section assigns it one)::

    primary_ips:
      - {name: web-v4, type: ipv4, server: web-1, auto_delete: false, dns_ptr: web.example.com}
      - {name: spare, type: ipv6, location: nbg1, labels: {role: spare}, protected: true}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from hcloud_sim.errors import invalid_field
from hcloud_sim.resources import Family, ServerField, addresses
from hcloud_sim.resources.primary_ips import state
from hcloud_sim.resources.primary_ips.routes import ROUTES

if TYPE_CHECKING:
    from hcloud_sim.lifecycle import NewServer
    from hcloud_sim.model import Server
    from hcloud_sim.project import Project

_PUBLIC_NET = frozenset({"enable_ipv4", "enable_ipv6", "ipv4", "ipv6"})


def _flag(public_net: dict[str, Any], name: str) -> bool:
    value = public_net.get(name, True)
    if value is None:
        return True
    if not isinstance(value, bool):
        raise invalid_field(f"public_net.{name}", "must be a boolean")
    return value


def _chosen(
    project: Project, public_net: dict[str, Any], kind: addresses.IpType, location: str
) -> Any:
    """The existing Primary IP ``public_net.<kind>`` names, checked to fit the new server."""
    ref = public_net.get(kind)
    if ref is None:
        return None
    where = f"public_net.{kind}"
    if isinstance(ref, bool) or not isinstance(ref, int):
        raise invalid_field(where, "must be the id of a Primary IP")
    ip = state.ips(project).get(ref)
    if ip is None:
        raise invalid_field(where, f"primary IP {ref!r} not found")
    if not _flag(public_net, f"enable_{kind}"):
        raise invalid_field(f"public_net.enable_{kind}", f"must be true to use {where}")
    state.check_free(ip, kind, location, "the server")
    return ip


def _prepare_public_net(project: Project, value: Any, new: NewServer, location: str) -> Any:
    """``POST /servers`` ``public_net``: existing Primary IPs by id, or new ones (the default)."""
    del new
    if not isinstance(value, dict):
        raise invalid_field("public_net", "must be an object")
    for key in value:
        if key not in _PUBLIC_NET:
            raise invalid_field(f"public_net.{key}", "unknown field")
    enable = {kind: _flag(value, f"enable_{kind}") for kind in addresses.IP_TYPES}
    chosen = {kind: _chosen(project, value, kind, location) for kind in addresses.IP_TYPES}

    def apply(server: Server) -> None:
        for ip in chosen.values():
            if ip is not None:
                state.set_assignee(project, ip, server.id)
        state.give_server(project, server, ipv4=enable["ipv4"], ipv6=enable["ipv6"])

    return apply


class PrimaryIpSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    type: Literal["ipv4", "ipv6"] = "ipv4"
    server: str | None = Field(default=None, description="name of the server it is assigned to")
    location: str | None = Field(default=None, description="default: its server's, else fsn1")
    auto_delete: bool = False
    protected: bool = False
    labels: dict[str, str] = Field(default_factory=dict)
    dns_ptr: str | None = None


class PrimaryIpsSection(RootModel[list[PrimaryIpSpec]]):
    pass


def _seed(project: Project, section: PrimaryIpsSection | None) -> None:
    from hcloud_sim.seed import _expand  # noqa: PLC0415 -- seed imports the families

    servers = {s.name: s for s in project.servers.values()}
    for spec in section.root if section is not None else []:
        server = servers.get(spec.server) if spec.server else None
        if spec.server and server is None:
            raise ValueError(f"primary IP {spec.name!r}: no server {spec.server!r}")
        location = spec.location or (server.location if server else "fsn1")
        if project.catalog.location(location) is None:
            raise ValueError(f"primary IP {spec.name!r}: unknown location {location!r}")
        if server is not None and spec.type in state.held_by(project, server.id):
            raise ValueError(f"server {server.name!r} is given two {spec.type} Primary IPs")
        if any(i.name == spec.name for i in state.ips(project).values()):
            raise ValueError(f"primary IP name {spec.name!r} is used twice")
        ip = state.make(
            project,
            spec.type,
            location,
            name=spec.name,
            server=server,
            auto_delete=spec.auto_delete,
            labels=spec.labels,
        )
        ip.protection_delete = spec.protected
        if spec.dns_ptr is not None:
            ip.dns[ip.ip if ip.type == "ipv4" else ip.ip.split("/")[0] + "1"] = spec.dns_ptr
    wants = {s.name: s for group in project.spec.servers for s in _expand(group)}
    for server in sorted(project.servers.values(), key=lambda s: s.id):
        spec_of = wants.get(server.name)
        if spec_of is not None:
            state.give_server(project, server, ipv4=spec_of.ipv4, ipv6=spec_of.ipv6)


def _ground_truth(project: Project) -> list[dict[str, Any]]:
    return [
        state.render(project, ip) for ip in sorted(state.ips(project).values(), key=lambda i: i.id)
    ]


FAMILY = Family(
    name="primary_ips",
    routes=ROUTES,
    server_fields=(ServerField("public_net", _prepare_public_net, default={}),),
    server_view=state.public_net,
    on_server_deleted=state.server_deleted,
    section=PrimaryIpsSection,
    seed=_seed,
    order=20,
    ground_truth=_ground_truth,
)
