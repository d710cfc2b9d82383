"""Servers in networks: attach (a chosen or a handed-out address, alias IPs), detach, alias IPs.

attach_to_network, detach_from_network and change_alias_ips are actions that take simulated time
and hold the server's lock. The addresses of an attach are reserved when it is asked for, so two
servers never get the same one; the server and the network show the interface once it is done.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hcloud_sim.errors import ApiError
from hcloud_sim.model import Action, Server
from hcloud_sim.resources.networks.state import (
    Attachment,
    IPv4Address,
    IPv4Network,
    Network,
    NetworkState,
    Subnet,
)
from hcloud_sim.resources.networks.verbs import networks_of

if TYPE_CHECKING:
    from hcloud_sim.project import Effect, Project


def zone_of(project: Project, server: Server) -> str:
    return str(project.catalog.render_location(server.location)["network_zone"])


def not_available(ip: IPv4Address) -> ApiError:
    return ApiError("ip_not_available", f"provided IP {ip} is not available", status=422)


def no_subnet(detail: str) -> ApiError:
    return ApiError("no_subnet_available", detail, status=422)


def plan_addresses(
    network: Network,
    *,
    server_id: int | None,
    zone: str,
    ip: IPv4Address | None,
    alias_ips: list[IPv4Address],
    ip_range: IPv4Network | None,
    also_taken: set[IPv4Address] | None = None,
) -> tuple[IPv4Address, list[IPv4Address]]:
    """The server's address in ``network`` and its alias IPs, or the API's refusal.

    A taken address (or a gateway) is ``ip_not_available``; an address outside every subnet of
    the server's network zone, or a subnet with no free address, is ``no_subnet_available``.
    """
    subnets = network.server_subnets(zone)
    if ip_range is not None:
        subnets = [s for s in subnets if s.ip_range == ip_range]
        if not subnets:
            raise no_subnet(f"the network has no subnet {ip_range} in network zone {zone}")
    if not subnets:
        raise no_subnet(f"the network has no subnet in network zone {zone}")
    taken = network.taken(ignore=server_id) | (also_taken or set())
    if ip is None:
        ip = _hand_out(network, subnets, taken)
    else:
        _check_free(subnets, taken, ip)
    aliases: list[IPv4Address] = []
    for alias in alias_ips:
        if alias == ip or alias in aliases:
            raise not_available(alias)
        _check_free(subnets, taken, alias)
        aliases.append(alias)
    return ip, aliases


def _hand_out(network: Network, subnets: list[Subnet], taken: set[IPv4Address]) -> IPv4Address:
    for subnet in subnets:
        found = network.free_address(subnet, taken)
        if found is not None:
            return found
    raise no_subnet("no subnet or IP is available for the server within the network")


def _check_free(subnets: list[Subnet], taken: set[IPv4Address], ip: IPv4Address) -> None:
    subnet = next((s for s in subnets if ip in s.ip_range), None)
    if subnet is None:
        raise no_subnet(f"provided IP {ip} is not in a subnet of the server's network zone")
    if ip in taken or ip in (subnet.ip_range.network_address, subnet.ip_range.broadcast_address):
        raise not_available(ip)


def check_overlap(state: NetworkState, server_id: int, network: Network) -> None:
    for other in state.networks.values():
        if server_id in other.servers:
            if other.id == network.id:
                raise ApiError(
                    "server_already_attached", "server is already attached to network", status=422
                )
            if other.ip_range.overlaps(network.ip_range):
                raise ApiError(
                    "networks_overlap",
                    f"network IP range overlaps with network {other.id} of the server",
                    status=422,
                )


def _ensure_unlocked(project: Project, server: Server) -> None:
    if project.is_locked((server.id, "server")):
        raise ApiError("locked", "cannot perform operation because server is locked")


def _begin(
    project: Project,
    command: str,
    server: Server,
    network: Network,
    *,
    on_success: Effect | None = None,
    on_error: Effect | None = None,
) -> Action:
    return project.begin_on(
        command,
        [(server.id, "server"), (network.id, "network")],
        locks=[(server.id, "server")],
        duration=project.draw(project.spec.duration_for(command)),
        on_success=on_success,
        on_error=on_error,
    )


def attach(
    project: Project,
    server_id: int,
    network_id: int,
    *,
    ip: IPv4Address | None,
    alias_ips: list[IPv4Address],
    ip_range: IPv4Network | None,
) -> Action:
    server = project.server(server_id)
    state = networks_of(project)
    network = state.network(network_id)
    _ensure_unlocked(project, server)
    check_overlap(state, server.id, network)
    address, aliases = plan_addresses(
        network,
        server_id=server.id,
        zone=zone_of(project, server),
        ip=ip,
        alias_ips=alias_ips,
        ip_range=ip_range,
    )
    attachment = Attachment(address, aliases, state.next_mac(), pending=True)

    def done(t: float) -> None:
        del t
        attachment.pending = False

    def failed(t: float) -> None:
        del t
        if network.servers.get(server.id) is attachment:
            del network.servers[server.id]

    action = _begin(project, "attach_to_network", server, network, on_success=done, on_error=failed)
    network.servers[server.id] = attachment
    return action


def _attachment(server: Server, network: Network) -> Attachment:
    att = network.servers.get(server.id)
    if att is None or att.pending:
        raise ApiError(
            "invalid_input",
            f"server {server.id} is not attached to network {network.id}",
            details={"fields": [{"name": "network", "messages": ["server is not attached"]}]},
        )
    return att


def detach(project: Project, server_id: int, network_id: int) -> Action:
    server = project.server(server_id)
    network = networks_of(project).network(network_id)
    _ensure_unlocked(project, server)
    att = _attachment(server, network)

    def done(t: float) -> None:
        del t
        if network.servers.get(server.id) is att:
            del network.servers[server.id]

    return _begin(project, "detach_from_network", server, network, on_success=done)


def change_alias_ips(
    project: Project, server_id: int, network_id: int, alias_ips: list[IPv4Address]
) -> Action:
    """The interface's alias IPs become ``alias_ips`` (taken at once, shown at once)."""
    server = project.server(server_id)
    network = networks_of(project).network(network_id)
    _ensure_unlocked(project, server)
    att = _attachment(server, network)
    _, aliases = plan_addresses(
        network,
        server_id=server.id,
        zone=zone_of(project, server),
        ip=att.ip,
        alias_ips=alias_ips,
        ip_range=None,
    )
    action = _begin(project, "change_alias_ips", server, network)
    att.alias_ips = aliases
    return action


def forget_server(project: Project, server: Server) -> None:
    """The server is gone: its addresses are free again."""
    for network in networks_of(project).networks.values():
        network.servers.pop(server.id, None)


def private_net(project: Project, server: Server) -> list[tuple[int, Attachment]]:
    found = [
        (n.id, att)
        for n in networks_of(project).networks.values()
        if (att := n.servers.get(server.id)) is not None and not att.pending
    ]
    return sorted(found, key=lambda pair: pair[0])
