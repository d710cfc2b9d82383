"""``/primary_ips`` and ``POST /servers/{id}/actions/change_dns_ptr``: parse, call, render."""

from __future__ import annotations

import re
from typing import Any

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
from hcloud_sim.resources import addresses, kit
from hcloud_sim.resources.primary_ips import state
from hcloud_sim.resources.primary_ips.state import KIND, PrimaryIp

#: the datacenters of Hetzner's locations by id (``POST /primary_ips`` still takes ``datacenter``,
#: as the official CLI sends it): a Primary IP lives in the datacenter's location
_DATACENTER_IDS = {1: "fsn1", 2: "nbg1", 3: "hel1", 4: "fsn1", 5: "ash", 6: "hil", 7: "sin"}


def _reply(req: Request, ip: PrimaryIp, status: int = 200) -> Reply:
    return Reply(status, {"primary_ip": state.render(req.project, ip)})


def _action(req: Request, action: Any) -> Reply:
    return Reply(201, {"action": render_action(action, req.now)})


def list_primary_ips(req: Request) -> Reply:
    name, wanted, address = one(req, "name"), selector(req), one(req, "ip")
    found = [
        ip
        for ip in sorted(state.ips(req.project).values(), key=lambda i: i.id)
        if (name is None or ip.name == name)
        and (wanted is None or wanted.matches(ip.labels))
        and (address is None or ip.ip == address)
    ]
    found = sort_items(req, found, {"id": lambda i: i.id, "created": lambda i: i.created})
    return page(req, "primary_ips", found, lambda ip: state.render(req.project, ip))


def _datacenter(req: Request) -> str | None:
    ref = req.body.get("datacenter")
    if ref is None:
        return None
    name = None
    if isinstance(ref, int) and not isinstance(ref, bool):
        name = _DATACENTER_IDS.get(ref)
    elif isinstance(ref, str):
        match = re.fullmatch(r"([a-z]+\d*)-dc\d+", ref)
        name = _DATACENTER_IDS.get(int(ref)) if ref.isdigit() else match and match.group(1)
    if name is None or req.project.catalog.location(name) is None:
        raise invalid_field("datacenter", f"datacenter {ref!r} not found")
    return name


def _ip_type(req: Request) -> addresses.IpType:
    kind = body_str(req, "type")
    if kind is None:
        raise invalid_field("type", "is required")
    if kind not in addresses.IP_TYPES:
        raise invalid_field("type", "must be one of ipv4, ipv6")
    return "ipv4" if kind == "ipv4" else "ipv6"


def create_primary_ip(req: Request) -> Reply:
    p = req.project
    name = body_str(req, "name")
    if not name:
        raise invalid_field("name", "is required")
    kind = _ip_type(req)
    labels = body_labels(req)
    auto_delete = kit.body_flag(req, "auto_delete") or False
    assignee_type = body_str(req, "assignee_type")
    if assignee_type not in (None, "server"):
        raise invalid_field("assignee_type", "must be server")
    assignee = kit.body_id(req, "assignee_id")
    location = req.body.get("location")
    where = kit.location_of(p, location, "location") if location is not None else None
    where = _same(where, _datacenter(req))
    server = None
    if assignee is not None:
        server = p.server(assignee)
        kit.server_off(server)
        if p.is_locked((server.id, "server")):
            raise ApiError("locked", "cannot perform operation because server is locked")
        where = _same(where, server.location)
    if where is None:
        raise invalid_field("location", "is required unless assignee_id is given")
    kit.ensure_unique((ip.name for ip in state.ips(p).values()), name)
    if server is not None and kind in state.held_by(p, server.id):
        raise ApiError(
            f"server_has_{kind}", f"server {server.id} already has an {kind} address", status=422
        )
    ip = state.make(
        p, kind, where, name=name, server=server, auto_delete=auto_delete, labels=labels
    )
    action = None
    if server is not None:
        made = p.instant_action("create_primary_ip", [(ip.id, KIND), (server.id, "server")])
        action = render_action(made, req.now)
    return Reply(201, {"primary_ip": state.render(p, ip), "action": action})


def _same(first: str | None, second: str | None) -> str | None:
    if first is not None and second is not None and first != second:
        raise ApiError(
            "primary_ip_datacenter_mismatch",
            f"the primary IP would be in {first} and in {second}: give one place",
            status=422,
        )
    return first or second


def get_primary_ip(req: Request) -> Reply:
    return _reply(req, state.get(req.project, path_id(req)))


def update_primary_ip(req: Request) -> Reply:
    ip = state.get(req.project, path_id(req))
    name, labels = body_str(req, "name"), body_labels(req)
    auto_delete = kit.body_flag(req, "auto_delete")
    if name is not None and name != ip.name:
        if not name:
            raise invalid_field("name", "must not be empty")
        kit.ensure_unique((i.name for i in state.ips(req.project).values()), name)
        ip.name = name
    if labels is not None:
        ip.labels = dict(labels)
    if auto_delete is not None:
        ip.auto_delete = auto_delete
    return _reply(req, ip)


def delete_primary_ip(req: Request) -> Reply:
    state.delete(req.project, state.get(req.project, path_id(req)))
    return Reply(204, None)


def assign(req: Request) -> Reply:
    ip = state.get(req.project, path_id(req))
    if body_str(req, "assignee_type") not in (None, "server"):
        raise invalid_field("assignee_type", "must be server")
    server_id = kit.body_id(req, "assignee_id", required=True)
    assert server_id is not None  # required
    return _action(req, state.assign(req.project, ip, req.project.server(server_id)))


def unassign(req: Request) -> Reply:
    return _action(req, state.unassign(req.project, state.get(req.project, path_id(req))))


def change_dns_ptr(req: Request) -> Reply:
    ip = state.get(req.project, path_id(req))
    address, ptr = addresses.dns_ptr_body(req)
    return _action(req, state.change_dns_ptr(req.project, ip, address, ptr))


def change_protection(req: Request) -> Reply:
    ip = state.get(req.project, path_id(req))
    return _action(req, state.change_protection(req.project, ip, kit.protection_delete(req)))


def change_server_dns_ptr(req: Request) -> Reply:
    """The reverse DNS of one of the server's Primary IPs (floating IPs are not affected)."""
    server = req.project.server(path_id(req))
    address, ptr = addresses.dns_ptr_body(req)
    for ip in state.held_by(req.project, server.id).values():
        if addresses.covers(ip.type, ip.ip, address) is not None:
            addresses.set_ptr(ip.dns, ip.type, ip.ip, address, ptr)
            made = req.project.instant_action(
                "change_dns_ptr", [(server.id, "server"), (ip.id, KIND)]
            )
            return _action(req, made)
    raise invalid_field("ip", f"{address!r} is not an address of server {server.id}")


def _exists(project: Any, ip_id: int) -> PrimaryIp:
    return state.get(project, ip_id)


ROUTES: tuple[Route, ...] = (
    *kit.action_routes("primary_ips", KIND, _exists),
    Route("GET", "/primary_ips", list_primary_ips),
    Route(
        "POST",
        "/primary_ips",
        create_primary_ip,
        frozenset(
            {
                "name",
                "type",
                "location",
                "datacenter",
                "assignee_type",
                "assignee_id",
                "auto_delete",
                "labels",
            }
        ),
    ),
    Route("GET", "/primary_ips/{id}", get_primary_ip),
    Route(
        "PUT", "/primary_ips/{id}", update_primary_ip, frozenset({"name", "labels", "auto_delete"})
    ),
    Route("DELETE", "/primary_ips/{id}", delete_primary_ip),
    Route(
        "POST",
        "/primary_ips/{id}/actions/assign",
        assign,
        # hcloud-go 1.x (the CLI 1.30 of Debian) also sends its struct's untagged field "ID"
        frozenset({"assignee_type", "assignee_id", "ID"}),
    ),
    Route("POST", "/primary_ips/{id}/actions/unassign", unassign, frozenset({"ID"})),
    Route(
        "POST",
        "/primary_ips/{id}/actions/change_dns_ptr",
        change_dns_ptr,
        frozenset({"ip", "dns_ptr", "ID"}),
    ),
    Route(
        "POST",
        "/primary_ips/{id}/actions/change_protection",
        change_protection,
        frozenset({"delete", "ID"}),
    ),
    Route(
        "POST",
        "/servers/{id}/actions/change_dns_ptr",
        change_server_dns_ptr,
        frozenset({"ip", "dns_ptr"}),
    ),
)
