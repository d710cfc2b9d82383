"""A load balancer in a private network (the networks family's): attach, detach, private targets,
and the public interface that may only be switched off once every target is reached privately.

The address is handed out (or checked) as a server's is, from the subnets of the load balancer's
network zone, and reserved in the network at once, so no server gets it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hcloud_sim.errors import ApiError, invalid_field
from hcloud_sim.resources.load_balancers.model import LoadBalancer, Target
from hcloud_sim.resources.networks.servers import plan_addresses
from hcloud_sim.resources.networks.state import Network, parse_ip, parse_range
from hcloud_sim.resources.networks.verbs import networks_of

if TYPE_CHECKING:
    from hcloud_sim.model import Server
    from hcloud_sim.project import Project


def attached(project: Project, lb: LoadBalancer) -> Network | None:
    """The network the load balancer is in (None once that network was deleted)."""
    if lb.network is None:
        return None
    return networks_of(project).networks.get(lb.network)


def private_address(project: Project, lb: LoadBalancer, server: Server) -> str | None:
    network = attached(project, lb)
    att = network.servers.get(server.id) if network is not None else None
    return str(att.ip) if att is not None and not att.pending else None


def not_attached(lb: LoadBalancer) -> ApiError:
    return ApiError(
        "load_balancer_not_attached_to_network",
        f"load balancer with ID '{lb.id}' is not attached to a network",
        status=422,
    )


def plan(project: Project, lb: LoadBalancer, body: dict[str, Any], prefix: str = "") -> Network:
    """Check an attach (``network``, ``ip``, ``ip_range``) and set the load balancer's address.

    The address is reserved in the network by ``reserve`` once the request cannot fail anymore.
    """
    network_id = body.get("network")
    if isinstance(network_id, bool) or not isinstance(network_id, int):
        raise invalid_field(f"{prefix}network", "must be a network ID")
    network = networks_of(project).network(network_id)
    if attached(project, lb) is not None:
        raise ApiError(
            "load_balancer_already_attached",
            f"load balancer with ID '{lb.id}' is already attached to a network",
            status=422,
        )
    ip, ip_range = body.get("ip"), body.get("ip_range")
    zone = str(project.catalog.render_location(lb.location)["network_zone"])
    address, _ = plan_addresses(
        network,
        server_id=None,
        zone=zone,
        ip=None if ip is None else parse_ip(ip, f"{prefix}ip"),
        alias_ips=[],
        ip_range=None if ip_range is None else parse_range(ip_range, f"{prefix}ip_range"),
    )
    lb.network, lb.private_ip = network.id, str(address)
    return network


def reserve(network: Network, lb: LoadBalancer) -> None:
    if lb.private_ip is not None:
        network.load_balancers[lb.id] = parse_ip(lb.private_ip, "ip")


def detach(project: Project, lb: LoadBalancer, network_id: Any) -> None:
    network = attached(project, lb)
    if network is None or network.id != network_id:
        raise not_attached(lb)
    if not lb.public_interface or any(t.use_private_ip for t in lb.targets):
        raise ApiError(
            "unsupported_error",
            "targets that use the private IP, or a disabled public interface, need the network",
        )
    network.load_balancers.pop(lb.id, None)
    lb.network = lb.private_ip = None


def check_target(project: Project, lb: LoadBalancer, target: Target) -> None:
    """A private target needs the network; a public one needs the public interface."""
    if not target.use_private_ip:
        if not lb.public_interface:
            raise ApiError(
                "load_balancer_public_interface_disabled",
                f"the public interface of load balancer with ID '{lb.id}' is disabled",
                status=422,
            )
        return
    if attached(project, lb) is None:
        raise not_attached(lb)
    server = project.servers.get(target.server) if target.server is not None else None
    if server is not None and private_address(project, lb, server) is None:
        raise ApiError(
            "resolve_cloud_private_targets_error",
            f"server with ID '{server.id}' is not attached to the load balancer's network",
            status=422,
        )


def disable_public_interface(project: Project, lb: LoadBalancer) -> None:
    if attached(project, lb) is None:
        raise not_attached(lb)
    if any(not t.use_private_ip for t in lb.targets):
        raise ApiError(
            "targets_without_use_private_ip",
            "the load balancer has targets that use the public IP",
            status=422,
        )
    lb.public_interface = False
