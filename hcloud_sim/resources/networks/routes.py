"""``/networks`` and the server actions that attach servers to networks: parse, call, render."""

from __future__ import annotations

from typing import Any

from hcloud_sim.errors import invalid_field
from hcloud_sim.model import Action
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
from hcloud_sim.resources import kit
from hcloud_sim.resources.networks import servers, verbs
from hcloud_sim.resources.networks.state import (
    NETWORK_ZONES,
    SUBNET_TYPES,
    NetRoute,
    SubnetType,
    parse_ip,
    parse_ips,
    parse_range,
    render_network,
)
from hcloud_sim.resources.networks.verbs import SubnetRequest, networks_of

#: the API takes (and ignores) a subnet's `gateway`, as the official clients send it
_SUBNET_FIELDS = frozenset({"type", "ip_range", "network_zone", "vswitch_id", "gateway"})
_ROUTE_FIELDS = frozenset({"destination", "gateway"})


def _required(req: Request, name: str) -> Any:
    value = req.body.get(name)
    if value is None:
        raise invalid_field(name, "is required")
    return value


def _flag(req: Request, name: str) -> bool | None:
    value = req.body.get(name)
    if value is not None and not isinstance(value, bool):
        raise invalid_field(name, "must be a boolean")
    return value


def _int(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise invalid_field(name, "must be a positive integer (an ID)")
    return value


def _object(value: Any, prefix: str, allowed: frozenset[str]) -> dict[str, Any]:
    """A nested object (``prefix`` = ``subnets.0.``) or the body itself (``prefix`` = "")."""
    if not isinstance(value, dict):
        raise invalid_field(prefix.rstrip(".") or "body", "must be an object")
    for key in value:
        if key not in allowed:
            raise invalid_field(f"{prefix}{key}", "unknown field")
    return value


def _subnet(value: Any, name: str) -> SubnetRequest:
    obj = _object(value, name, _SUBNET_FIELDS)
    subnet_type = obj.get("type")
    if subnet_type not in SUBNET_TYPES:
        raise invalid_field(f"{name}type", f"must be one of {', '.join(SUBNET_TYPES)}")
    zone = obj.get("network_zone")
    if zone not in NETWORK_ZONES:
        raise invalid_field(f"{name}network_zone", f"must be one of {', '.join(NETWORK_ZONES)}")
    raw_range = obj.get("ip_range")
    ip_range = None if raw_range is None else parse_range(raw_range, f"{name}ip_range")
    vswitch = obj.get("vswitch_id")
    vswitch_id = None if vswitch is None else _int(vswitch, f"{name}vswitch_id")
    kind: SubnetType = subnet_type
    return kind, ip_range, str(zone), vswitch_id


def _route(value: Any, name: str) -> NetRoute:
    obj = _object(value, name, _ROUTE_FIELDS)
    for key in _ROUTE_FIELDS:
        if obj.get(key) is None:
            raise invalid_field(f"{name}{key}", "is required")
    return NetRoute(
        parse_range(obj["destination"], f"{name}destination"),
        parse_ip(obj["gateway"], f"{name}gateway"),
    )


def _list(req: Request, name: str) -> list[Any]:
    value = req.body.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid_field(name, "must be a list")
    return value


def _name(req: Request, required: bool) -> str | None:
    name = body_str(req, "name")
    if name is None and required:
        raise invalid_field("name", "is required")
    if name is not None and not 1 <= len(name) <= 128:
        raise invalid_field("name", "must be 1 to 128 characters")
    return name


def _network_reply(req: Request, network_id: int, status: int = 200) -> Reply:
    network = networks_of(req.project).network(network_id)
    return Reply(status, {"network": render_network(network)})


def _action_reply(req: Request, action: Action) -> Reply:
    return Reply(201, {"action": render_action(action, req.now)})


# -- networks ----------------------------------------------------------------------------------


def list_networks(req: Request) -> Reply:
    name, wanted = one(req, "name"), selector(req)
    found = [
        n
        for n in networks_of(req.project).networks.values()
        if (name is None or n.name == name) and (wanted is None or wanted.matches(n.labels))
    ]
    found = sort_items(
        req,
        sorted(found, key=lambda n: n.id),
        {"id": lambda n: n.id, "name": lambda n: n.name, "created": lambda n: n.created},
    )
    return page(req, "networks", found, render_network)


def create_network(req: Request) -> Reply:
    name = _name(req, required=True)
    ip_range = parse_range(_required(req, "ip_range"), "ip_range")
    subnets = [_subnet(v, f"subnets.{i}.") for i, v in enumerate(_list(req, "subnets"))]
    routes = [_route(v, f"routes.{i}.") for i, v in enumerate(_list(req, "routes"))]
    network = verbs.create_network(
        req.project,
        name=str(name),
        ip_range=ip_range,
        labels=body_labels(req) or {},
        subnets=subnets,
        routes=routes,
        expose_routes_to_vswitch=bool(_flag(req, "expose_routes_to_vswitch")),
    )
    return Reply(201, {"network": render_network(network)})


def get_network(req: Request) -> Reply:
    return _network_reply(req, path_id(req))


def update_network(req: Request) -> Reply:
    network = verbs.update_network(
        req.project,
        path_id(req),
        name=_name(req, required=False),
        labels=body_labels(req),
        expose=_flag(req, "expose_routes_to_vswitch"),
    )
    return Reply(200, {"network": render_network(network)})


def delete_network(req: Request) -> Reply:
    verbs.delete_network(req.project, path_id(req))
    return Reply(204, None)


def add_subnet(req: Request) -> Reply:
    network_id = path_id(req)
    kind, ip_range, zone, vswitch_id = _subnet(req.body, "")
    action = verbs.add_subnet(
        req.project,
        network_id,
        subnet_type=kind,
        ip_range=ip_range,
        zone=zone,
        vswitch_id=vswitch_id,
    )
    return _action_reply(req, action)


def delete_subnet(req: Request) -> Reply:
    network_id = path_id(req)
    ip_range = parse_range(_required(req, "ip_range"), "ip_range")
    return _action_reply(req, verbs.delete_subnet(req.project, network_id, ip_range))


def add_route(req: Request) -> Reply:
    network_id = path_id(req)
    return _action_reply(req, verbs.add_route(req.project, network_id, _route(req.body, "")))


def delete_route(req: Request) -> Reply:
    network_id = path_id(req)
    return _action_reply(req, verbs.delete_route(req.project, network_id, _route(req.body, "")))


def change_ip_range(req: Request) -> Reply:
    network_id = path_id(req)
    ip_range = parse_range(_required(req, "ip_range"), "ip_range")
    return _action_reply(req, verbs.change_ip_range(req.project, network_id, ip_range))


def change_protection(req: Request) -> Reply:
    network_id = path_id(req)
    delete = _flag(req, "delete")
    return _action_reply(req, verbs.change_protection(req.project, network_id, delete))


# -- server actions ------------------------------------------------------------------------------


def attach_to_network(req: Request) -> Reply:
    server_id = path_id(req)
    network_id = _int(_required(req, "network"), "network")
    ip = req.body.get("ip")
    ip_range = req.body.get("ip_range")
    action = servers.attach(
        req.project,
        server_id,
        network_id,
        ip=None if ip is None else parse_ip(ip, "ip"),
        alias_ips=parse_ips(req.body.get("alias_ips") or [], "alias_ips"),
        ip_range=None if ip_range is None else parse_range(ip_range, "ip_range"),
    )
    return _action_reply(req, action)


def detach_from_network(req: Request) -> Reply:
    server_id = path_id(req)
    network_id = _int(_required(req, "network"), "network")
    return _action_reply(req, servers.detach(req.project, server_id, network_id))


def change_alias_ips(req: Request) -> Reply:
    server_id = path_id(req)
    network_id = _int(_required(req, "network"), "network")
    alias_ips = parse_ips(_required(req, "alias_ips"), "alias_ips")
    return _action_reply(
        req, servers.change_alias_ips(req.project, server_id, network_id, alias_ips)
    )


def _post(path: str, handler: Any, *fields: str) -> Route:
    return Route("POST", path, handler, frozenset(fields))


ROUTES: tuple[Route, ...] = (
    # before /networks/{id}, which would take "actions" for an id
    *kit.action_routes("networks", "network", lambda p, nid: networks_of(p).network(nid)),
    Route("GET", "/networks", list_networks),
    _post(
        "/networks",
        create_network,
        "name",
        "ip_range",
        "labels",
        "subnets",
        "routes",
        "expose_routes_to_vswitch",
    ),
    Route("GET", "/networks/{id}", get_network),
    Route(
        "PUT",
        "/networks/{id}",
        update_network,
        frozenset({"name", "labels", "expose_routes_to_vswitch"}),
    ),
    Route("DELETE", "/networks/{id}", delete_network),
    _post("/networks/{id}/actions/add_subnet", add_subnet, *_SUBNET_FIELDS),
    _post("/networks/{id}/actions/delete_subnet", delete_subnet, "ip_range"),
    _post("/networks/{id}/actions/add_route", add_route, *_ROUTE_FIELDS),
    _post("/networks/{id}/actions/delete_route", delete_route, *_ROUTE_FIELDS),
    _post("/networks/{id}/actions/change_ip_range", change_ip_range, "ip_range"),
    _post("/networks/{id}/actions/change_protection", change_protection, "delete"),
    _post(
        "/servers/{id}/actions/attach_to_network",
        attach_to_network,
        "network",
        "ip",
        "alias_ips",
        "ip_range",
    ),
    _post("/servers/{id}/actions/detach_from_network", detach_from_network, "network"),
    _post("/servers/{id}/actions/change_alias_ips", change_alias_ips, "network", "alias_ips"),
)
