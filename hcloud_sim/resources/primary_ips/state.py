"""Primary IPs: records and verbs, no HTTP. The one truth of a server's public addresses.

A Primary IP points at its server (``assignee_id``); the server points at nothing, so every view
(the server's ``public_net``, the IP's ``assignee_id``) reads the same record. Assigning and
unassigning take simulated time and hold the lock of the IP and of the server; the change shows
once the action succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hcloud_sim.clock import iso
from hcloud_sim.errors import ApiError, invalid_field
from hcloud_sim.resources import addresses, kit
from hcloud_sim.resources.addresses import IpType

if TYPE_CHECKING:
    from hcloud_sim.model import Action, Server
    from hcloud_sim.project import Project

KIND = "primary_ip"


@dataclass
class PrimaryIp:
    id: int
    name: str
    type: IpType
    #: an IPv4 address or an IPv6 /64 network
    ip: str
    location: str
    created: float
    labels: dict[str, str] = field(default_factory=dict)
    auto_delete: bool = False
    assignee_id: int | None = None
    #: ``server``, or ``load_balancer`` for one given to a load balancer at its creation
    assignee_type: str = "server"
    protection_delete: bool = False
    #: reverse DNS records set on it: address -> name
    dns: dict[str, str] = field(default_factory=dict)


@dataclass
class PrimaryIps:
    """A project's Primary IPs (``project.store(PrimaryIps)``)."""

    ips: dict[int, PrimaryIp] = field(default_factory=dict)
    #: server id -> its Primary IPs by type: an index kept by ``set_assignee`` alone, so that a
    #: server's view does not scan every IP of the project
    held: dict[int, dict[IpType, int]] = field(default_factory=dict)


def ips(project: Project) -> dict[int, PrimaryIp]:
    return project.store(PrimaryIps).ips


def get(project: Project, ip_id: int) -> PrimaryIp:
    found = ips(project).get(ip_id)
    if found is None:
        raise ApiError("not_found", f"primary_ip with ID '{ip_id}' not found")
    return found


def held_by(project: Project, server_id: int) -> dict[IpType, PrimaryIp]:
    """The server's Primary IPs by type (at most one of each)."""
    store = project.store(PrimaryIps)
    return {kind: store.ips[pid] for kind, pid in store.held.get(server_id, {}).items()}


def set_assignee(project: Project, ip: PrimaryIp, server_id: int | None) -> None:
    """The one way an IP changes hands (or, with None, is unassigned)."""
    held = project.store(PrimaryIps).held
    if ip.assignee_id is not None and ip.assignee_type == "server":
        mine = held.get(ip.assignee_id, {})
        mine.pop(ip.type, None)
        if not mine:
            held.pop(ip.assignee_id, None)
    ip.assignee_id, ip.assignee_type = server_id, "server"
    if server_id is not None:
        held.setdefault(server_id, {})[ip.type] = ip.id


def give_load_balancer(project: Project, ip: PrimaryIp, lb_id: int) -> None:
    """``ip`` belongs to load balancer ``lb_id`` for its lifetime; the caller checked it is free."""
    set_assignee(project, ip, None)
    ip.assignee_id, ip.assignee_type = lb_id, "load_balancer"


def load_balancer_deleted(project: Project, ip_id: int) -> None:
    """Its load balancer is gone: ``ip_id`` dies with it if ``auto_delete``, else goes free."""
    ip = ips(project).get(ip_id)
    if ip is None or ip.assignee_type != "load_balancer":
        return
    if ip.auto_delete:
        forget(project, ip)
    else:
        set_assignee(project, ip, None)


def forget(project: Project, ip: PrimaryIp) -> None:
    set_assignee(project, ip, None)
    del ips(project)[ip.id]


def render(project: Project, ip: PrimaryIp) -> dict[str, Any]:
    return {
        "id": ip.id,
        "name": ip.name,
        "labels": dict(ip.labels),
        "created": iso(ip.created),
        "blocked": False,
        "location": project.catalog.render_location(ip.location),
        "ip": ip.ip,
        "dns_ptr": addresses.render_ptrs(ip.type, ip.ip, ip.dns),
        "protection": {"delete": ip.protection_delete},
        "type": ip.type,
        "auto_delete": ip.auto_delete,
        "assignee_type": ip.assignee_type,
        "assignee_id": ip.assignee_id,
    }


def public_net(project: Project, server: Server, view: dict[str, Any]) -> None:
    """The server's ``public_net.ipv4`` / ``ipv6`` from the Primary IPs assigned to it."""
    held = held_by(project, server.id)
    v4, v6 = held.get("ipv4"), held.get("ipv6")
    view["public_net"]["ipv4"] = (
        {
            "id": v4.id,
            "ip": v4.ip,
            "blocked": False,
            "dns_ptr": v4.dns.get(v4.ip, addresses.default_ptr(v4.ip)),
        }
        if v4 is not None
        else None
    )
    view["public_net"]["ipv6"] = (
        {
            "id": v6.id,
            "ip": v6.ip,
            "blocked": False,
            "dns_ptr": addresses.render_ptrs("ipv6", v6.ip, v6.dns),
        }
        if v6 is not None
        else None
    )


def make(
    project: Project,
    kind: IpType,
    location: str,
    *,
    name: str | None = None,
    server: Server | None = None,
    with_server: bool = False,
    auto_delete: bool = False,
    labels: dict[str, str] | None = None,
) -> PrimaryIp:
    """A new Primary IP, assigned to ``server`` if given (the caller checked it may be).

    ``with_server``: made by creating the server, its address derived from the server's id (so a
    server keeps the address it always had in this simulator).
    """
    pid = project.sim.next_id(KIND)
    if with_server and server is not None:
        address = addresses.new_address(kind, addresses.WITH_SERVER, server.id - 100_000)
    else:
        address = addresses.new_address(kind, addresses.PRIMARY, pid - 700_000)
    ip = PrimaryIp(
        id=pid,
        name=name or f"primary_ip-{pid}",
        type=kind,
        ip=address,
        location=location,
        created=project.sim.clock.now(),
        labels=dict(labels or {}),
        auto_delete=auto_delete,
    )
    ips(project)[pid] = ip
    set_assignee(project, ip, server.id if server is not None else None)
    return ip


def give_server(project: Project, server: Server, *, ipv4: bool, ipv6: bool) -> None:
    """Make the Primary IPs a new server asks for and does not hold yet (``auto_delete`` on)."""
    held = held_by(project, server.id)
    wanted: dict[IpType, bool] = {"ipv4": ipv4, "ipv6": ipv6}
    for kind in addresses.IP_TYPES:
        if wanted[kind] and kind not in held:
            make(project, kind, server.location, server=server, with_server=True, auto_delete=True)


def check_free(ip: PrimaryIp, kind: str, location: str, taker: str) -> None:
    """Why ``ip`` cannot be given to a new server or load balancer (``taker``) in ``location``
    as its ``kind`` address: 412 ``primary_ip_version_mismatch``, 422 ``primary_ip_assigned``,
    422 ``primary_ip_datacenter_mismatch``; nothing if it can."""
    if ip.type != kind:
        raise ApiError(
            "primary_ip_version_mismatch",
            f"primary IP {ip.id} is an {ip.type} address, not {kind}",
            status=412,
        )
    if ip.assignee_id is not None:
        raise ApiError(
            "primary_ip_assigned",
            f"primary IP {ip.id} is already assigned to {ip.assignee_type} {ip.assignee_id}",
            status=422,
        )
    if ip.location != location:
        raise ApiError(
            "primary_ip_datacenter_mismatch",
            f"primary IP {ip.id} is in {ip.location}, {taker} would be in {location}",
            status=422,
        )


def check_assignable(project: Project, ip: PrimaryIp, server: Server) -> None:
    """Why ``ip`` may not go to ``server`` now, as the API's errors say (nothing if it may)."""
    if ip.assignee_id is not None:
        raise ApiError(
            "primary_ip_already_assigned",
            f"primary IP {ip.id} is already assigned to {ip.assignee_type} {ip.assignee_id}",
            status=422,
        )
    if ip.location != server.location:
        raise ApiError(
            "primary_ip_datacenter_mismatch",
            f"primary IP {ip.id} is in {ip.location}, server {server.id} in {server.location}",
            status=422,
        )
    if ip.type in held_by(project, server.id):
        raise ApiError(
            f"server_has_{ip.type}",
            f"server {server.id} already has an {ip.type} address",
            status=422,
        )


def assign(project: Project, ip: PrimaryIp, server: Server) -> Action:
    kit.server_off(server)
    check_assignable(project, ip, server)

    def done(t: float) -> None:
        del t
        if server.id in project.servers and ip.id in ips(project):
            set_assignee(project, ip, server.id)

    return project.begin_on(
        "assign_primary_ip",
        [(ip.id, KIND), (server.id, "server")],
        duration=kit.timed(project, "assign_primary_ip"),
        on_success=done,
    )


def unassign(project: Project, ip: PrimaryIp) -> Action:
    if ip.assignee_id is None:
        raise ApiError(
            "invalid_input", f"primary IP {ip.id} is not assigned to anything", status=422
        )
    if ip.assignee_type == "load_balancer":
        raise ApiError(
            "invalid_input",
            f"primary IP {ip.id} belongs to load balancer {ip.assignee_id} for its lifetime",
            status=422,
        )
    server = project.server(ip.assignee_id)
    kit.server_off(server)

    def done(t: float) -> None:
        del t
        if ip.assignee_id == server.id:
            set_assignee(project, ip, None)

    return project.begin_on(
        "unassign_primary_ip",
        [(ip.id, KIND), (server.id, "server")],
        duration=kit.timed(project, "unassign_primary_ip"),
        on_success=done,
    )


def delete(project: Project, ip: PrimaryIp) -> None:
    if ip.protection_delete:
        raise ApiError("protected", f"primary IP deletion is protected (protected, {ip.id})")
    if ip.assignee_id is not None:
        raise ApiError(
            "must_be_unassigned",
            f"primary IP {ip.id} is assigned to {ip.assignee_type.replace('_', ' ')} "
            f"{ip.assignee_id}: unassign it first",
            status=422,
        )
    if project.is_locked((ip.id, KIND)):
        raise ApiError("locked", "cannot perform operation because primary ip is locked")
    forget(project, ip)


def change_protection(project: Project, ip: PrimaryIp, delete: bool) -> Action:
    if delete and ip.auto_delete:
        raise invalid_field(
            "delete", "deletion protection needs auto_delete off: update auto_delete first"
        )
    ip.protection_delete = delete
    return project.instant_action("change_protection", [(ip.id, KIND)])


def change_dns_ptr(project: Project, ip: PrimaryIp, address: str, ptr: str | None) -> Action:
    addresses.set_ptr(ip.dns, ip.type, ip.ip, address, ptr)
    return project.instant_action("change_dns_ptr", [(ip.id, KIND)])


def server_deleted(project: Project, server: Server) -> None:
    """Those with ``auto_delete`` die with the server; the others stay, unassigned."""
    for ip in list(held_by(project, server.id).values()):
        if ip.auto_delete:
            forget(project, ip)
        else:
            set_assignee(project, ip, None)
