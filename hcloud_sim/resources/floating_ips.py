"""Floating IPs: an extra IPv4 address or IPv6 /64 that moves between servers of any location.

It has a home location (the server's when made for a server), may be assigned to one server at a
time; assigning to another server moves it. The server lists it in ``public_net.floating_ips``;
deleting the server unassigns it. Assign and unassign take simulated time and lock the IP.

Scenario section (servers by name)::

    floating_ips:
      - {name: vip, type: ipv4, server: web-1, description: web VIP, dns_ptr: www.example.com}
      - {name: spare-v6, type: ipv6, home_location: hel1, protected: true}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from hcloud_sim.clock import iso
from hcloud_sim.errors import ApiError, invalid_field
from hcloud_sim.query import (
    Reply,
    Request,
    Route,
    body_labels,
    body_str,
    one,
    page,
    path_id,
    selector,
    sort_items,
)
from hcloud_sim.render import render_action
from hcloud_sim.resources import Family, addresses, kit
from hcloud_sim.resources.addresses import IpType

if TYPE_CHECKING:
    from hcloud_sim.model import Action, Server
    from hcloud_sim.project import Project

KIND = "floating_ip"


@dataclass
class FloatingIp:
    id: int
    name: str
    type: IpType
    ip: str
    home_location: str
    created: float
    description: str | None = None
    server: int | None = None
    labels: dict[str, str] = field(default_factory=dict)
    protection_delete: bool = False
    dns: dict[str, str] = field(default_factory=dict)


@dataclass
class FloatingIps:
    ips: dict[int, FloatingIp] = field(default_factory=dict)


def _ips(project: Project) -> dict[int, FloatingIp]:
    return project.store(FloatingIps).ips


def _get(project: Project, ip_id: int) -> FloatingIp:
    found = _ips(project).get(ip_id)
    if found is None:
        raise ApiError("not_found", f"floating_ip with ID '{ip_id}' not found")
    return found


def _render(project: Project, ip: FloatingIp) -> dict[str, Any]:
    return {
        "id": ip.id,
        "name": ip.name,
        "description": ip.description,
        "ip": ip.ip,
        "type": ip.type,
        "server": ip.server,
        "dns_ptr": addresses.render_ptrs(ip.type, ip.ip, ip.dns),
        "home_location": project.catalog.render_location(ip.home_location),
        "blocked": False,
        "protection": {"delete": ip.protection_delete},
        "labels": dict(ip.labels),
        "created": iso(ip.created),
    }


def _make(
    project: Project,
    kind: IpType,
    home: str,
    *,
    name: str | None,
    server: Server | None,
    description: str | None = None,
    labels: dict[str, str] | None = None,
) -> FloatingIp:
    fid = project.sim.next_id(KIND)
    ip = FloatingIp(
        id=fid,
        name=name or f"floating_ip-{fid}",
        type=kind,
        ip=addresses.new_address(kind, addresses.FLOATING, fid - 1_300_000),
        home_location=home,
        created=project.sim.clock.now(),
        description=description,
        server=server.id if server is not None else None,
        labels=dict(labels or {}),
    )
    _ips(project)[fid] = ip
    return ip


def _assign(project: Project, ip: FloatingIp, server: Server | None) -> Action:
    """Assign to ``server`` (None: unassign) once the action succeeds; it locks the IP."""
    if server is not None and ip.server == server.id:
        raise ApiError(
            "floating_ip_assigned",
            f"floating IP {ip.id} is already assigned to server {server.id}",
            status=422,
        )
    target = server.id if server is not None else None
    touched = [(ip.id, KIND)] + ([(target, "server")] if target is not None else [])
    if target is None and ip.server is not None:
        touched.append((ip.server, "server"))
    command = "assign_floating_ip" if server is not None else "unassign_floating_ip"

    def done(t: float) -> None:
        del t
        if ip.id in _ips(project) and (target is None or target in project.servers):
            ip.server = target

    return project.begin_on(
        command,
        touched,
        locks=[(ip.id, KIND)],
        duration=kit.timed(project, command),
        on_success=done,
    )


# -- routes -----------------------------------------------------------------------------------


def _list(req: Request) -> Reply:
    name, wanted = one(req, "name"), selector(req)
    found = [
        ip
        for ip in sorted(_ips(req.project).values(), key=lambda i: i.id)
        if (name is None or ip.name == name) and (wanted is None or wanted.matches(ip.labels))
    ]
    found = sort_items(req, found, {"id": lambda i: i.id, "created": lambda i: i.created})
    return page(req, "floating_ips", found, lambda ip: _render(req.project, ip))


def _create(req: Request) -> Reply:
    p = req.project
    kind = body_str(req, "type")
    if kind not in addresses.IP_TYPES:
        raise invalid_field("type", "is required: ipv4 or ipv6")
    name, description = body_str(req, "name"), body_str(req, "description")
    labels = body_labels(req)
    server_id = kit.body_id(req, "server")
    server = p.server(server_id) if server_id is not None else None
    home_ref = req.body.get("home_location")
    home = kit.location_of(p, home_ref, "home_location") if home_ref is not None else None
    if home is None and server is None:
        raise invalid_field("home_location", "is required unless server is given")
    if name is not None:
        kit.ensure_unique((i.name for i in _ips(p).values()), name)
    ip = _make(
        p,
        "ipv4" if kind == "ipv4" else "ipv6",
        home or (server.location if server is not None else "fsn1"),
        name=name,
        server=server,
        description=description,
        labels=labels,
    )
    action = None
    if server is not None:
        made = p.instant_action("create_floating_ip", [(ip.id, KIND), (server.id, "server")])
        action = render_action(made, req.now)
    return Reply(201, {"floating_ip": _render(p, ip), "action": action})


def _get_one(req: Request) -> Reply:
    return Reply(200, {"floating_ip": _render(req.project, _get(req.project, path_id(req)))})


def _update(req: Request) -> Reply:
    ip = _get(req.project, path_id(req))
    name, description = body_str(req, "name"), body_str(req, "description")
    labels = body_labels(req)
    if name is not None and name != ip.name:
        kit.ensure_unique((i.name for i in _ips(req.project).values()), name)
        ip.name = name
    if description is not None:
        ip.description = description
    if labels is not None:
        ip.labels = dict(labels)
    return Reply(200, {"floating_ip": _render(req.project, ip)})


def _delete(req: Request) -> Reply:
    ip = _get(req.project, path_id(req))
    if ip.protection_delete:
        raise ApiError("protected", f"floating IP deletion is protected (protected, {ip.id})")
    if ip.server is not None:
        raise ApiError(
            "must_be_unassigned",
            f"floating IP {ip.id} is assigned to server {ip.server}: unassign it first",
            status=422,
        )
    if req.project.is_locked((ip.id, KIND)):
        raise ApiError("locked", "cannot perform operation because floating ip is locked")
    del _ips(req.project)[ip.id]
    return Reply(204, None)


def _action(req: Request, action: Action) -> Reply:
    return Reply(201, {"action": render_action(action, req.now)})


def _assign_route(req: Request) -> Reply:
    ip = _get(req.project, path_id(req))
    server_id = kit.body_id(req, "server")
    server = req.project.server(server_id) if server_id is not None else None
    return _action(req, _assign(req.project, ip, server))


def _unassign_route(req: Request) -> Reply:
    return _action(req, _assign(req.project, _get(req.project, path_id(req)), None))


def _dns_ptr(req: Request) -> Reply:
    ip = _get(req.project, path_id(req))
    address, ptr = addresses.dns_ptr_body(req)
    addresses.set_ptr(ip.dns, ip.type, ip.ip, address, ptr)
    return _action(req, req.project.instant_action("change_dns_ptr", [(ip.id, KIND)]))


def _protection(req: Request) -> Reply:
    ip = _get(req.project, path_id(req))
    ip.protection_delete = kit.protection_delete(req)
    return _action(req, req.project.instant_action("change_protection", [(ip.id, KIND)]))


ROUTES: tuple[Route, ...] = (
    *kit.action_routes("floating_ips", KIND, _get),
    Route("GET", "/floating_ips", _list),
    Route(
        "POST",
        "/floating_ips",
        _create,
        frozenset({"type", "server", "home_location", "description", "name", "labels"}),
    ),
    Route("GET", "/floating_ips/{id}", _get_one),
    Route("PUT", "/floating_ips/{id}", _update, frozenset({"name", "description", "labels"})),
    Route("DELETE", "/floating_ips/{id}", _delete),
    Route("POST", "/floating_ips/{id}/actions/assign", _assign_route, frozenset({"server"})),
    Route("POST", "/floating_ips/{id}/actions/unassign", _unassign_route),
    Route(
        "POST", "/floating_ips/{id}/actions/change_dns_ptr", _dns_ptr, frozenset({"ip", "dns_ptr"})
    ),
    Route(
        "POST",
        "/floating_ips/{id}/actions/change_protection",
        _protection,
        frozenset({"delete"}),
    ),
)

# -- the family's hooks -----------------------------------------------------------------------


def _server_view(project: Project, server: Server, view: dict[str, Any]) -> None:
    held = sorted(ip.id for ip in _ips(project).values() if ip.server == server.id)
    view["public_net"]["floating_ips"] = held


def _server_deleted(project: Project, server: Server) -> None:
    for ip in _ips(project).values():
        if ip.server == server.id:
            ip.server = None


class FloatingIpSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    type: Literal["ipv4", "ipv6"] = "ipv4"
    server: str | None = Field(default=None, description="name of the server it is assigned to")
    home_location: str | None = Field(default=None, description="default: its server's, else fsn1")
    description: str | None = None
    protected: bool = False
    labels: dict[str, str] = Field(default_factory=dict)
    dns_ptr: str | None = None


class FloatingIpsSection(RootModel[list[FloatingIpSpec]]):
    pass


def _seed(project: Project, section: FloatingIpsSection | None) -> None:
    servers = {s.name: s for s in project.servers.values()}
    names: set[str] = set()
    for spec in section.root if section is not None else []:
        server = servers.get(spec.server) if spec.server else None
        if spec.server and server is None:
            raise ValueError(f"floating IP {spec.name!r}: no server {spec.server!r}")
        home = spec.home_location or (server.location if server else "fsn1")
        if project.catalog.location(home) is None:
            raise ValueError(f"floating IP {spec.name!r}: unknown location {home!r}")
        if spec.name in names:
            raise ValueError(f"floating IP name {spec.name!r} is used twice")
        names.add(spec.name)
        ip = _make(
            project,
            spec.type,
            home,
            name=spec.name,
            server=server,
            description=spec.description,
            labels=spec.labels,
        )
        ip.protection_delete = spec.protected
        if spec.dns_ptr is not None:
            first = ip.ip if ip.type == "ipv4" else ip.ip.split("/")[0] + "1"
            ip.dns[first] = spec.dns_ptr


def _ground_truth(project: Project) -> list[dict[str, Any]]:
    return [_render(project, ip) for ip in sorted(_ips(project).values(), key=lambda i: i.id)]


FAMILY = Family(
    name="floating_ips",
    routes=ROUTES,
    server_view=_server_view,
    on_server_deleted=_server_deleted,
    section=FloatingIpsSection,
    seed=_seed,
    order=30,
    ground_truth=_ground_truth,
)
