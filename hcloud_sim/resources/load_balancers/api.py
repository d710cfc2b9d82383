"""``/load_balancers`` handlers: CRUD and actions.

Every change is visible at once and runs an action that holds the load balancer's lock for the
project's duration of its command (``add_service``, ``add_target``, ...): a second change while
one runs is refused with 423 ``locked``, as the API does.
"""

from __future__ import annotations

from typing import Any

from hcloud_sim.errors import ApiError, invalid_field
from hcloud_sim.model import Action
from hcloud_sim.project import Project
from hcloud_sim.query import Reply, Request, body_labels, one, page, path_id, selector
from hcloud_sim.query import sort_items as sort_by
from hcloud_sim.render import render_action
from hcloud_sim.resources.kit import (
    LIST_SORTS,
    as_bool,
    as_list,
    as_object,
    as_str,
    body_name,
    change_protection_flag,
    ensure_unique,
    required,
    unknown_keys,
)
from hcloud_sim.resources.load_balancers import network, public_ips, services, targets, types
from hcloud_sim.resources.load_balancers.model import LoadBalancer, get, render, state, type_of

ALGORITHMS = ("round_robin", "least_connections")


def _timed(project: Project, lb: LoadBalancer, command: str) -> Action:
    return project.begin_on(
        command,
        [(lb.id, "load_balancer")],
        duration=project.draw(project.spec.duration_for(command)),
    )


def _unlocked(project: Project, lb: LoadBalancer) -> None:
    if project.is_locked((lb.id, "load_balancer")):
        raise ApiError("locked", "cannot perform operation because load balancer is locked")


def _action(req: Request, action: Action) -> Reply:
    return Reply(201, {"action": render_action(action, req.now)})


def _type(value: Any, name: str) -> types.LoadBalancerType:
    found = types.find(as_str(value, name) if not isinstance(value, int) else value)
    if found is None:
        raise invalid_field(name, f"load balancer type {value!r} not found")
    return found


def _algorithm(value: Any, name: str | None) -> str:
    """``{"type": ...}``: the ``algorithm`` of a create (``name``) or a change_algorithm body."""
    body = as_object(value, name or "body")
    kind = body.get("type")
    if kind not in ALGORITHMS:
        where = f"{name}.type" if name else "type"
        raise invalid_field(where, f"must be one of {', '.join(ALGORITHMS)}")
    if name is not None:
        unknown_keys(body, ("type",), name)
    return str(kind)


def _place(req: Request) -> str:
    catalog = req.project.catalog
    location, zone = req.body.get("location"), req.body.get("network_zone")
    if location is not None and zone is not None:
        raise invalid_field("location", "give either location or network_zone, not both")
    if location is not None:
        name = catalog.location(as_str(location, "location"))
        if name is None:
            raise invalid_field("location", f"location {location!r} not found")
        return name
    if zone is None:
        raise invalid_field("location", "location or network_zone is required")
    zone = as_str(zone, "network_zone")
    found = [n for n in catalog.locations if catalog.render_location(n)["network_zone"] == zone]
    if not found:
        raise invalid_field("network_zone", f"network zone {zone!r} not found")
    return found[0]


def list_load_balancers(req: Request) -> Reply:
    name, wanted = one(req, "name"), selector(req)
    found = [
        lb
        for lb in sorted(state(req.project).load_balancers.values(), key=lambda b: b.id)
        if (name is None or lb.name == name) and (wanted is None or wanted.matches(lb.labels))
    ]
    found = sort_by(req, found, LIST_SORTS)
    return page(req, "load_balancers", found, lambda lb: render(req.project, lb))


def create_load_balancer(req: Request) -> Reply:
    p = req.project
    name = required(body_name(req), "name")
    lb_type = _type(
        required(req.body.get("load_balancer_type"), "load_balancer_type"), "load_balancer_type"
    )
    lb = LoadBalancer(
        id=0,
        name=name,
        type=lb_type.name,
        location=_place(req),
        created=req.now,
        labels=body_labels(req) or {},
    )
    if req.body.get("algorithm") is not None:
        lb.algorithm = _algorithm(req.body["algorithm"], "algorithm")
    joined = None
    if req.body.get("network") is not None:
        joined = network.plan(p, lb, {"network": req.body["network"]})
    public = req.body.get("public_interface")
    if public is not None and not as_bool(public, "public_interface"):
        if joined is None:
            raise ApiError(
                "load_balancer_not_attached_to_network",
                "a load balancer without a public interface needs a network",
                status=422,
            )
        lb.public_interface = False
    held = public_ips.plan(p, req.body.get("public_net"), lb.location)
    for i, body in enumerate(as_list(req.body.get("services") or [], "services")):
        service = services.parse(p, body, f"services.{i}")
        services.check_ports_free(lb.services, service["listen_port"])
        lb.services.append(service)
    if len(lb.services) > lb_type.max_services:
        raise invalid_field("services", f"{lb_type.name} allows {lb_type.max_services} services")
    for i, body in enumerate(as_list(req.body.get("targets") or [], "targets")):
        target = targets.parse(body, f"targets.{i}")
        targets.check(p, lb, target, lb.targets)
        lb.targets.append(target)
    ensure_unique((b.name for b in state(p).load_balancers.values()), name, "load balancer")
    lb.id = p.sim.next_id("load_balancer")
    state(p).load_balancers[lb.id] = lb
    public_ips.take(p, lb, held)
    if joined is not None:
        network.reserve(joined, lb)
    action = _timed(p, lb, "create_load_balancer")
    return Reply(201, {"load_balancer": render(p, lb), "action": render_action(action, req.now)})


def get_load_balancer(req: Request) -> Reply:
    return Reply(200, {"load_balancer": render(req.project, get(req.project, path_id(req)))})


def update_load_balancer(req: Request) -> Reply:
    p = req.project
    lb = get(p, path_id(req))
    name, labels = body_name(req), body_labels(req)
    if name is not None and name != lb.name:
        ensure_unique((b.name for b in state(p).load_balancers.values()), name, "load balancer")
        lb.name = name
    if labels is not None:
        lb.labels = labels
    return Reply(200, {"load_balancer": render(p, lb)})


def delete_load_balancer(req: Request) -> Reply:
    """Gone at once (404 from then on); a ``delete_load_balancer`` action runs, answered with
    200 ``{"action"}`` as ``DELETE /servers/{id}`` is (the API since 2026-10-05; the OpenAPI
    document still says 204). Its Primary IPs die with it or go free (``public_ips.release``).
    """
    p = req.project
    lb = get(p, path_id(req))
    if lb.protection_delete:
        raise ApiError("protected", "load balancer deletion is protected")
    _unlocked(p, lb)
    joined = network.attached(p, lb)
    if joined is not None:
        joined.load_balancers.pop(lb.id, None)
    del state(p).load_balancers[lb.id]
    public_ips.release(p, lb)
    action = p.begin_on(
        "delete_load_balancer",
        [(lb.id, "load_balancer")],
        locks=[],
        duration=p.draw(p.spec.duration_for("delete_load_balancer")),
    )
    return Reply(200, {"action": render_action(action, req.now)})


def add_service(req: Request) -> Reply:
    p = req.project
    lb = get(p, path_id(req))
    service = services.parse(p, req.body, "service")
    services.check_ports_free(lb.services, service["listen_port"])
    if len(lb.services) >= type_of(lb).max_services:
        raise ApiError(
            "resource_limit_exceeded",
            f"load balancer type {lb.type} allows at most {type_of(lb).max_services} services",
        )
    _unlocked(p, lb)
    lb.services.append(service)
    return _action(req, _timed(p, lb, "add_service"))


def _service_at(lb: LoadBalancer, port: Any) -> int:
    if isinstance(port, bool) or not isinstance(port, int):
        raise invalid_field("listen_port", "must be an integer")
    for i, service in enumerate(lb.services):
        if service["listen_port"] == port:
            return i
    raise ApiError("not_found", f"load balancer service with listen port {port} not found")


def update_service(req: Request) -> Reply:
    p = req.project
    lb = get(p, path_id(req))
    index = _service_at(lb, required(req.body.get("listen_port"), "listen_port"))
    service = services.parse(p, services.merged(lb.services[index], req.body), "service")
    _unlocked(p, lb)
    lb.services[index] = service
    return _action(req, _timed(p, lb, "update_service"))


def delete_service(req: Request) -> Reply:
    p = req.project
    lb = get(p, path_id(req))
    index = _service_at(lb, required(req.body.get("listen_port"), "listen_port"))
    _unlocked(p, lb)
    del lb.services[index]
    return _action(req, _timed(p, lb, "delete_service"))


def add_target(req: Request) -> Reply:
    p = req.project
    lb = get(p, path_id(req))
    target = targets.parse(req.body, "target")
    targets.check(p, lb, target, lb.targets)
    _unlocked(p, lb)
    lb.targets.append(target)
    return _action(req, _timed(p, lb, "add_target"))


def remove_target(req: Request) -> Reply:
    p = req.project
    lb = get(p, path_id(req))
    found = targets.find(lb, targets.parse(req.body, "target", removing=True))
    _unlocked(p, lb)
    lb.targets.remove(found)
    return _action(req, _timed(p, lb, "remove_target"))


def change_algorithm(req: Request) -> Reply:
    p = req.project
    lb = get(p, path_id(req))
    algorithm = _algorithm(req.body, None)
    _unlocked(p, lb)
    lb.algorithm = algorithm
    return _action(req, _timed(p, lb, "change_algorithm"))


def change_type(req: Request) -> Reply:
    p = req.project
    lb = get(p, path_id(req))
    new = _type(
        required(req.body.get("load_balancer_type"), "load_balancer_type"), "load_balancer_type"
    )
    count = len(targets_of(p, lb))
    if len(lb.services) > new.max_services or count > new.max_targets:
        raise ApiError(
            "invalid_load_balancer_type",
            f"load balancer type {new.name} is too small for this load balancer",
            status=422,
        )
    _unlocked(p, lb)
    lb.type = new.name
    return _action(req, _timed(p, lb, "change_load_balancer_type"))


def targets_of(project: Project, lb: LoadBalancer) -> list[object]:
    from hcloud_sim.resources.load_balancers.model import matched  # noqa: PLC0415

    out: list[object] = []
    for t in lb.targets:
        out.extend(matched(project, t.selector) if t.selector is not None else [t])
    return out


def change_protection(req: Request) -> Reply:
    lb = get(req.project, path_id(req))
    delete = change_protection_flag(req)
    if delete is not None:
        lb.protection_delete = delete
    action = req.project.instant_action("change_protection", [(lb.id, "load_balancer")])
    return _action(req, action)


def change_dns_ptr(req: Request) -> Reply:
    p = req.project
    lb = get(p, path_id(req))
    ip = as_str(required(req.body.get("ip"), "ip"), "ip")
    if ip not in (lb.ipv4, lb.ipv6):
        raise invalid_field("ip", f"{ip} is not an address of this load balancer")
    ptr = req.body.get("dns_ptr")
    _unlocked(p, lb)
    if ptr is None:
        lb.dns_ptr.pop(ip, None)
    else:
        lb.dns_ptr[ip] = as_str(ptr, "dns_ptr")
    return _action(req, _timed(p, lb, "change_dns_ptr"))


def attach_to_network(req: Request) -> Reply:
    p = req.project
    lb = get(p, path_id(req))
    _unlocked(p, lb)
    joined = network.plan(
        p, lb, {**req.body, "network": required(req.body.get("network"), "network")}
    )
    network.reserve(joined, lb)
    action = p.begin_on(
        "attach_to_network",
        [(lb.id, "load_balancer"), (joined.id, "network")],
        locks=[(lb.id, "load_balancer")],
        duration=p.draw(p.spec.duration_for("attach_to_network")),
    )
    return _action(req, action)


def detach_from_network(req: Request) -> Reply:
    p = req.project
    lb = get(p, path_id(req))
    network_id = required(req.body.get("network"), "network")
    _unlocked(p, lb)
    network.detach(p, lb, network_id)
    action = p.begin_on(
        "detach_from_network",
        [(lb.id, "load_balancer"), (network_id, "network")],
        locks=[(lb.id, "load_balancer")],
        duration=p.draw(p.spec.duration_for("detach_from_network")),
    )
    return _action(req, action)


def enable_public_interface(req: Request) -> Reply:
    p = req.project
    lb = get(p, path_id(req))
    _unlocked(p, lb)
    lb.public_interface = True
    return _action(req, _timed(p, lb, "enable_public_interface"))


def disable_public_interface(req: Request) -> Reply:
    p = req.project
    lb = get(p, path_id(req))
    _unlocked(p, lb)
    network.disable_public_interface(p, lb)
    return _action(req, _timed(p, lb, "disable_public_interface"))
