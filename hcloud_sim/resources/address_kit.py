"""What the Primary IP, floating IP and volume families share (no ``FAMILY`` here).

- the four read-only action routes every resource collection has (``/<things>/actions``, ...);
- addresses: unique, stable IPv4 addresses and IPv6 /64 networks from documentation ranges;
- reverse DNS (``dns_ptr``) records and the ``change_dns_ptr`` body;
- body fields: a resource reference by id, a flag, the ``delete`` of ``change_protection``, a
  project-unique name.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal

from hcloud_sim.errors import ApiError, invalid_field
from hcloud_sim.query import (
    Reply,
    Request,
    Route,
    body_str,
    choices,
    int_param,
    page,
    path_id,
    sort_items,
)
from hcloud_sim.render import render_action

if TYPE_CHECKING:
    from hcloud_sim.model import Action, Server
    from hcloud_sim.project import Project

IpType = Literal["ipv4", "ipv6"]
IP_TYPES: tuple[IpType, ...] = ("ipv4", "ipv6")
ACTION_STATUSES = ("running", "success", "error")

# -- action routes ----------------------------------------------------------------------------


def actions_page(req: Request, actions: Iterable[Action]) -> Reply:
    wanted = set(choices(req, "status", ACTION_STATUSES))
    found = sorted((a for a in actions if not wanted or a.status in wanted), key=lambda a: a.id)
    found = sort_items(
        req,
        found,
        {
            "id": lambda a: a.id,
            "command": lambda a: a.command,
            "status": lambda a: a.status,
            "started": lambda a: a.started,
            "finished": lambda a: a.finished,
            "progress": lambda a: a.progress(req.now),
        },
    )
    return page(req, "actions", [render_action(a, req.now) for a in found])


def action_routes(
    collection: str, kind: str, check: Callable[[Project, int], object]
) -> tuple[Route, ...]:
    """``GET /<collection>/actions[/{id}]`` and ``GET /<collection>/{id}/actions[/{action_id}]``.

    ``check(project, id)`` raises the 404 of an unknown resource. Put these routes before
    ``/<collection>/{id}``: ``/<collection>/actions`` matches that template too.
    """

    def touches(action: Action, rid: int | None = None) -> bool:
        return any(k == kind and rid in (None, i) for i, k in action.resources)

    def list_all(req: Request) -> Reply:
        ids = {int_param(t, "id") for t in req.query.get("id", [])}
        found = req.project.actions.values()
        return actions_page(req, [a for a in found if touches(a) and (not ids or a.id in ids)])

    def get_one(req: Request) -> Reply:
        action = req.project.actions.get(path_id(req))
        if action is None or not touches(action):
            raise ApiError("not_found", f"action with ID '{req.params['id']}' not found")
        return Reply(200, {"action": render_action(action, req.now)})

    def list_of(req: Request) -> Reply:
        rid = path_id(req)
        check(req.project, rid)
        return actions_page(req, [a for a in req.project.actions.values() if touches(a, rid)])

    def get_of(req: Request) -> Reply:
        rid = path_id(req)
        check(req.project, rid)
        action = req.project.actions.get(path_id(req, "action_id"))
        if action is None or not touches(action, rid):
            raise ApiError("not_found", f"action with ID '{req.params['action_id']}' not found")
        return Reply(200, {"action": render_action(action, req.now)})

    return (
        Route("GET", f"/{collection}/actions", list_all),
        Route("GET", f"/{collection}/actions/{{id}}", get_one),
        Route("GET", f"/{collection}/{{id}}/actions", list_of),
        Route("GET", f"/{collection}/{{id}}/actions/{{action_id}}", get_of),
    )


# -- addresses --------------------------------------------------------------------------------

#: address spaces: made with a server (by server id), Primary IPs made alone, floating IPs
WITH_SERVER, PRIMARY, FLOATING = 0, 1, 2
_FIRST_V4 = {
    WITH_SERVER: ("203.0.113.0", 3 * 254),  # as servers showed before Primary IPs were records
    PRIMARY: ("198.51.100.0", 254),
    FLOATING: ("192.0.2.0", 254),
}
_OVERFLOW_V4 = int(ipaddress.IPv4Address("100.64.0.0"))  # 100.64.0.0/10, 2**20 per space
_V6_BASE = int(ipaddress.IPv6Address("2001:db8::"))


def ipv4_address(space: int, n: int) -> str:
    """The ``n``-th IPv4 address of ``space``; distinct for distinct (space, n), n >= 0."""
    start, size = _FIRST_V4[space]
    if n < size:
        offset = 256 * (n // 254) + n % 254 + 1
        return str(ipaddress.IPv4Address(int(ipaddress.IPv4Address(start)) + offset))
    return str(ipaddress.IPv4Address(_OVERFLOW_V4 + (space << 20) + n - size))


def ipv6_network(space: int, n: int) -> str:
    """The ``n``-th /64 of ``space`` inside 2001:db8::/32 (``2001:db8:<n>::/64`` in space 0)."""
    third, fourth = n & 0xFFFF, (space << 12) | (n >> 16)
    return str(ipaddress.IPv6Network((_V6_BASE | third << 80 | fourth << 64, 64)))


def new_address(kind: IpType, space: int, n: int) -> str:
    return ipv4_address(space, n) if kind == "ipv4" else ipv6_network(space, n)


# -- reverse DNS ------------------------------------------------------------------------------


def default_ptr(ip: str) -> str:
    return f"static.{ip}.clients.your-server.de"


def render_ptrs(kind: IpType, ip: str, records: dict[str, str]) -> list[dict[str, str]]:
    """``dns_ptr`` as IP resources show it: IPv4 always has one (a default), IPv6 those set."""
    if kind == "ipv4":
        return [{"ip": ip, "dns_ptr": records.get(ip, default_ptr(ip))}]
    return [{"ip": k, "dns_ptr": v} for k, v in sorted(records.items())]


def _valid_ptr(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid_field("dns_ptr", "must be a string or null")
    labels = value.removesuffix(".").split(".")
    if len(value) > 253 or len(labels) < 2 or not all(_dns_label(label) for label in labels):
        raise invalid_field("dns_ptr", f"{value!r} is not a valid domain name")
    return value


def _dns_label(label: str) -> bool:
    return (
        0 < len(label) <= 63
        and label[0] != "-"
        and label[-1] != "-"
        and all(c.isascii() and (c.isalnum() or c == "-") for c in label)
    )


def dns_ptr_body(req: Request) -> tuple[str, str | None]:
    """``{"ip", "dns_ptr"}`` of a ``change_dns_ptr``: the address and the name (None: reset)."""
    ip = body_str(req, "ip")
    if ip is None:
        raise invalid_field("ip", "is required")
    return ip, _valid_ptr(req.body.get("dns_ptr"))


def covers(kind: IpType, address: str, ip: str) -> str | None:
    """``ip`` in its canonical form if ``address`` (an IPv4 or an IPv6 /64) holds it, else None."""
    try:
        if kind == "ipv4":
            return ip if ipaddress.IPv4Address(ip) == ipaddress.IPv4Address(address) else None
        parsed = ipaddress.IPv6Address(ip)
    except ValueError:
        return None
    return str(parsed) if parsed in ipaddress.IPv6Network(address) else None


def set_ptr(records: dict[str, str], kind: IpType, address: str, ip: str, ptr: str | None) -> None:
    """Set (or with None reset/remove) the PTR record of ``ip``, which must be in ``address``."""
    canonical = covers(kind, address, ip)
    if canonical is None:
        raise invalid_field("ip", f"{ip!r} is not an address of {address}")
    if ptr is None:
        records.pop(canonical, None)
    else:
        records[canonical] = ptr


# -- body fields ------------------------------------------------------------------------------


def body_id(req: Request, name: str, *, required: bool = False) -> int | None:
    """A resource id in the body: a positive integer (not a boolean)."""
    value = req.body.get(name)
    if value is None:
        if required:
            raise invalid_field(name, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise invalid_field(name, "must be a positive integer")
    return value


def body_flag(req: Request, name: str) -> bool | None:
    value = req.body.get(name)
    if value is not None and not isinstance(value, bool):
        raise invalid_field(name, "must be a boolean")
    return value


def protection_delete(req: Request) -> bool:
    """The ``delete`` flag a ``change_protection`` body must carry."""
    delete = body_flag(req, "delete")
    if delete is None:
        raise invalid_field("delete", "is required")
    return delete


def ensure_unique(name: str, taken: Iterable[str]) -> None:
    if name in set(taken):
        raise ApiError(
            "uniqueness_error",
            "name is already used",
            details={"fields": [{"name": "name"}]},
        )


def location_of(project: Project, ref: Any, field: str) -> str:
    """A location's name from its id or name in a body field; 422 naming the field if unknown."""
    name = None
    if isinstance(ref, str | int) and not isinstance(ref, bool):
        name = project.catalog.location(ref)
    if name is None:
        raise invalid_field(field, f"location {ref!r} not found")
    return name


def server_off(server: Server) -> None:
    """422 ``server_not_stopped`` unless the server is powered off."""
    if server.status != "off":
        raise ApiError(
            "server_not_stopped",
            f"server {server.id} is {server.status}: power it off first",
            status=422,
        )


def timed(project: Project, command: str) -> float | None:
    """An action's simulated duration: the scenario's for ``command``, else 5 s."""
    return project.draw(project.spec.duration_for(command))
