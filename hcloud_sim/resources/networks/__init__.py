"""Private networks: ``/networks`` with subnets and routes, servers attached at fixed addresses.

- ``state``: the records and the address arithmetic; ``verbs``: networks, subnets, routes;
- ``servers``: attach (a chosen or a handed-out address, alias IPs), detach, change_alias_ips;
- ``routes``: the HTTP side; ``scenario``: the ``networks`` section and ``private_network``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hcloud_sim.errors import ApiError, invalid_field
from hcloud_sim.resources import Apply, Family, ServerField
from hcloud_sim.resources.networks import scenario, servers
from hcloud_sim.resources.networks.routes import ROUTES
from hcloud_sim.resources.networks.state import Attachment, IPv4Address, render_attachment
from hcloud_sim.resources.networks.verbs import networks_of

if TYPE_CHECKING:
    from hcloud_sim.lifecycle import NewServer
    from hcloud_sim.model import Server
    from hcloud_sim.project import Project


def _prepare_networks(project: Project, value: Any, new: NewServer, location: str) -> Apply | None:
    """``POST /servers`` ``networks``: ids of networks to attach to, at handed-out addresses."""
    del new
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise invalid_field("networks", "must be a list of network IDs")
    if len(set(value)) != len(value):
        raise invalid_field("networks", "a network is listed twice")
    state = networks_of(project)
    zone = str(project.catalog.render_location(location)["network_zone"])
    plan: list[tuple[int, IPv4Address]] = []
    for network_id in value:
        network = state.networks.get(network_id)
        if network is None:
            raise invalid_field("networks", f"network {network_id} not found")
        for other_id, _ in plan:
            if state.networks[other_id].ip_range.overlaps(network.ip_range):
                raise ApiError(
                    "networks_overlap",
                    f"network {network_id} overlaps with network {other_id}",
                    status=422,
                )
        ip, _ = servers.plan_addresses(
            network, server_id=None, zone=zone, ip=None, alias_ips=[], ip_range=None
        )
        plan.append((network_id, ip))

    def apply(server: Server) -> None:
        for network_id, ip in plan:
            state.networks[network_id].servers[server.id] = Attachment(ip, [], state.next_mac())

    return apply


def _server_view(project: Project, server: Server, view: dict[str, Any]) -> None:
    view["private_net"] = [
        render_attachment(network_id, att)
        for network_id, att in servers.private_net(project, server)
    ]


FAMILY = Family(
    name="networks",
    routes=ROUTES,
    server_fields=(ServerField("networks", _prepare_networks),),
    server_view=_server_view,
    on_server_deleted=servers.forget_server,
    section=scenario.NetworksSection,
    seed=scenario.seed,
    order=10,
    ground_truth=scenario.ground_truth,
)
