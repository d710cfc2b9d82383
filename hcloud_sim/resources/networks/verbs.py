"""What the ``/networks`` endpoints do, without HTTP: networks, their subnets and routes.

Changes to a network are applied at once and answered with an action that is already over, as the
API's network actions end within a second.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from hcloud_sim.errors import ApiError, invalid_field
from hcloud_sim.model import Action
from hcloud_sim.resources.networks.state import (
    PRIVATE_RANGES,
    PUBLIC_GATEWAY,
    IPv4Network,
    NetRoute,
    Network,
    NetworkState,
    Subnet,
    SubnetType,
    check_network_range,
)

if TYPE_CHECKING:
    from hcloud_sim.project import Project


#: a subnet as asked for: type, ip_range (None: the first free /24), network zone, vswitch id
SubnetRequest = tuple[SubnetType, IPv4Network | None, str, int | None]


def networks_of(project: Project) -> NetworkState:
    return project.store(NetworkState)


def _name_free(state: NetworkState, name: str, but: int | None = None) -> None:
    if any(n.name == name and n.id != but for n in state.networks.values()):
        raise ApiError(
            "uniqueness_error", "name is already used", details={"fields": [{"name": "name"}]}
        )


def create_network(
    project: Project,
    *,
    name: str,
    ip_range: IPv4Network,
    labels: dict[str, str],
    subnets: list[SubnetRequest],
    routes: list[NetRoute],
    expose_routes_to_vswitch: bool = False,
) -> Network:
    return build_network(
        networks_of(project),
        lambda: project.sim.next_id("network"),
        project.sim.clock.now(),
        name=name,
        ip_range=ip_range,
        labels=labels,
        subnets=subnets,
        routes=routes,
        expose_routes_to_vswitch=expose_routes_to_vswitch,
    )


def build_network(
    state: NetworkState,
    new_id: Callable[[], int],
    now: float,
    *,
    name: str,
    ip_range: IPv4Network,
    labels: dict[str, str],
    subnets: list[SubnetRequest],
    routes: list[NetRoute],
    expose_routes_to_vswitch: bool = False,
) -> Network:
    """A network with its first subnets and routes, each checked as its action would be."""
    check_network_range(ip_range)
    _name_free(state, name)
    network = Network(
        id=0,
        name=name,
        ip_range=ip_range,
        created=now,
        labels=dict(labels),
        expose_routes_to_vswitch=expose_routes_to_vswitch,
    )
    for i, (subnet_type, asked, zone, vswitch_id) in enumerate(subnets):
        subnet_range = asked or first_free_range(network)
        if subnet_range is None:
            raise invalid_field(f"subnets.{i}.ip_range", "no /24 range of the network is free")
        subnet = Subnet(subnet_type, subnet_range, zone, vswitch_id)
        add_subnet_to(network, subnet, f"subnets.{i}.")
    for i, route in enumerate(routes):
        add_route_to(network, route, f"routes.{i}.")
    network.id = new_id()
    state.networks[network.id] = network
    return network


def update_network(
    project: Project,
    network_id: int,
    *,
    name: str | None,
    labels: dict[str, str] | None,
    expose: bool | None,
) -> Network:
    network = networks_of(project).network(network_id)
    if name is not None and name != network.name:
        _name_free(networks_of(project), name, but=network.id)
        network.name = name
    if labels is not None:
        network.labels = dict(labels)
    if expose is not None:
        network.expose_routes_to_vswitch = expose
    return network


def delete_network(project: Project, network_id: int) -> None:
    """Gone at once; attached servers lose their interface (the API detaches them)."""
    state = networks_of(project)
    network = state.network(network_id)
    if network.protection_delete:
        raise ApiError("protected", "network deletion is protected")
    del state.networks[network_id]


def _action(project: Project, command: str, network: Network) -> Action:
    return project.instant_action(command, [(network.id, "network")])


def first_free_range(network: Network, prefix: int = 24) -> IPv4Network | None:
    """The first /24 (or ``prefix``) of the network's range no subnet or route overlaps."""
    if network.ip_range.prefixlen > prefix:
        return None
    used = [s.ip_range for s in network.subnets] + [r.destination for r in network.routes]
    candidates = network.ip_range.subnets(new_prefix=prefix)
    return next((c for c in candidates if not any(c.overlaps(u) for u in used)), None)


def add_subnet_to(network: Network, subnet: Subnet, prefix: str = "") -> None:
    name = f"{prefix}ip_range"
    if subnet.type == "vswitch" and subnet.vswitch_id is None:
        raise invalid_field(f"{prefix}vswitch_id", "is required for subnets of type vswitch")
    if subnet.type != "vswitch" and subnet.vswitch_id is not None:
        raise invalid_field(f"{prefix}vswitch_id", "is only allowed for subnets of type vswitch")
    if not subnet.ip_range.subnet_of(network.ip_range):
        raise invalid_field(name, "must be a subnet of the network's ip_range")
    if subnet.ip_range.prefixlen > 30:
        raise invalid_field(name, "the minimum subnet size is /30")
    for other in network.subnets:
        if other.ip_range.overlaps(subnet.ip_range):
            raise invalid_field(name, f"overlaps with the subnet {other.ip_range}")
    for route in network.routes:
        if route.destination.overlaps(subnet.ip_range):
            raise invalid_field(name, f"overlaps with the route to {route.destination}")
    network.subnets.append(subnet)


def add_subnet(
    project: Project,
    network_id: int,
    *,
    subnet_type: SubnetType,
    ip_range: IPv4Network | None,
    zone: str,
    vswitch_id: int | None,
) -> Action:
    network = networks_of(project).network(network_id)
    if ip_range is None:
        ip_range = first_free_range(network)
        if ip_range is None:
            raise invalid_field("ip_range", "no /24 range of the network is free")
    add_subnet_to(network, Subnet(subnet_type, ip_range, zone, vswitch_id))
    return _action(project, "add_subnet", network)


def delete_subnet(project: Project, network_id: int, ip_range: IPv4Network) -> Action:
    network = networks_of(project).network(network_id)
    subnet = next((s for s in network.subnets if s.ip_range == ip_range), None)
    if subnet is None:
        raise invalid_field("ip_range", f"the network has no subnet {ip_range}")
    if any(
        att.ip in ip_range or any(a in ip_range for a in att.alias_ips)
        for att in network.servers.values()
    ):
        raise ApiError("service_error", "cannot remove subnet because servers are attached to it")
    network.subnets.remove(subnet)
    return _action(project, "delete_subnet", network)


def add_route_to(network: Network, route: NetRoute, prefix: str = "") -> None:
    dest_field, gw_field = f"{prefix}destination", f"{prefix}gateway"
    everything = route.destination.prefixlen == 0
    if not everything and not any(route.destination.subnet_of(r) for r in PRIVATE_RANGES):
        raise invalid_field(dest_field, "must be a private IPv4 range of RFC 1918 or 0.0.0.0/0")
    for subnet in network.subnets:
        if not everything and subnet.ip_range.overlaps(route.destination):
            raise invalid_field(dest_field, f"overlaps with the subnet {subnet.ip_range}")
    for other in network.routes:
        if other.destination.overlaps(route.destination):
            raise invalid_field(dest_field, f"overlaps with the route to {other.destination}")
    if route.gateway in (PUBLIC_GATEWAY, network.gateway):
        raise invalid_field(gw_field, f"{route.gateway} cannot be a route's gateway")
    if route.gateway not in network.ip_range:
        raise invalid_field(gw_field, "must be an address of the network's ip_range")
    network.routes.append(route)


def add_route(project: Project, network_id: int, route: NetRoute) -> Action:
    network = networks_of(project).network(network_id)
    add_route_to(network, route)
    return _action(project, "add_route", network)


def delete_route(project: Project, network_id: int, route: NetRoute) -> Action:
    network = networks_of(project).network(network_id)
    if route not in network.routes:
        raise invalid_field("destination", "the network has no such route")
    network.routes.remove(route)
    return _action(project, "delete_route", network)


def change_ip_range(project: Project, network_id: int, ip_range: IPv4Network) -> Action:
    """Only extended, keeping its first address: ``10.0.0.0/16`` -> ``10.0.0.0/15``."""
    network = networks_of(project).network(network_id)
    check_network_range(ip_range)
    old = network.ip_range
    if ip_range.network_address != old.network_address or ip_range.prefixlen > old.prefixlen:
        raise invalid_field("ip_range", "the ip range can only be extended, never shrunk or moved")
    network.ip_range = ip_range
    return _action(project, "change_ip_range", network)


def change_protection(project: Project, network_id: int, delete: bool | None) -> Action:
    network = networks_of(project).network(network_id)
    if delete is not None:
        network.protection_delete = delete
    return _action(project, "change_protection", network)
