"""The ``/v1`` route table: one entry per endpoint, handlers that return values.

Handlers receive a parsed ``Request`` (project already authenticated, body already checked against
the route's allowed fields) and return a ``Reply``; errors are raised as ``ApiError``. Writing the
envelope and headers is the HTTP layer's job.
"""

from __future__ import annotations

import re
from typing import Any

from hcloud_sim import lifecycle, resources, routes_catalog, routes_servers
from hcloud_sim.errors import ApiError, invalid_field
from hcloud_sim.query import (
    Handler,
    Reply,
    Request,
    Route,
    body_hostname,
    body_labels,
    body_str,
    choices,
    int_param,
    one,
    page,
    path_id,
    selector,
    sort_items,
)
from hcloud_sim.render import render_action, render_image, render_server
from hcloud_sim.resources import backups

# -- servers -----------------------------------------------------------------------------

SERVER_STATUSES = (
    "running",
    "initializing",
    "starting",
    "stopping",
    "off",
    "deleting",
    "migrating",
    "rebuilding",
    "unknown",
)
ACTION_STATUSES = ("running", "success", "error")


def list_servers(req: Request) -> Reply:
    p = req.project
    servers = p.find_servers(
        name=one(req, "name"),
        selector=selector(req),
        statuses=choices(req, "status", SERVER_STATUSES),
    )
    servers = sort_items(
        req,
        sorted(servers, key=lambda s: s.id),
        {"id": lambda s: s.id, "name": lambda s: s.name, "created": lambda s: s.created},
    )
    return page(req, "servers", servers, lambda s: render_server(p, s))


def get_server(req: Request) -> Reply:
    return Reply(200, {"server": render_server(req.project, req.project.server(path_id(req)))})


def update_server(req: Request) -> Reply:
    name = body_hostname(req, "name")
    server = req.project.update_server(path_id(req), name=name, labels=body_labels(req))
    return Reply(200, {"server": render_server(req.project, server)})


def server_actions(req: Request) -> Reply:
    actions = req.project.server_actions(path_id(req), choices(req, "status", ACTION_STATUSES))
    return _actions_page(req, actions)


def _actions_page(req: Request, actions: list[Any]) -> Reply:
    actions = sort_items(
        req,
        sorted(actions, key=lambda a: a.id),
        {
            "id": lambda a: a.id,
            "command": lambda a: a.command,
            "status": lambda a: a.status,
            "started": lambda a: a.started,
            "finished": lambda a: a.finished,
            "progress": lambda a: a.progress(req.now),
        },
    )
    return page(req, "actions", actions, lambda a: render_action(a, req.now))


def server_power(verb: str) -> Handler:
    def handler(req: Request) -> Reply:
        action = lifecycle.power(req.project, path_id(req), verb)
        return Reply(201, {"action": render_action(action, req.now)})

    handler.__name__ = f"server_{verb}"
    return handler


def create_image(req: Request) -> Reply:
    image_type = body_str(req, "type") or "snapshot"
    if image_type not in ("snapshot", "backup"):
        raise invalid_field("type", "must be one of snapshot, backup")
    server_id = path_id(req)
    if image_type == "backup":
        backups.check_backup_slot(req.project, server_id)
    image, action = req.project.create_image(
        server_id,
        description=body_str(req, "description"),
        image_type=image_type,
        labels=body_labels(req) or {},
    )
    if image_type == "backup":  # it takes a slot: the oldest of seven goes
        backups.rotate(req.project, server_id)
    return Reply(201, {"image": render_image(image), "action": render_action(action, req.now)})


# -- actions -----------------------------------------------------------------------------


def get_action(req: Request) -> Reply:
    return Reply(200, {"action": render_action(req.project.action(path_id(req)), req.now)})


def list_actions(req: Request) -> Reply:
    ids = req.query.get("id")
    if not ids:
        raise ApiError(
            "deprecated_api_endpoint",
            "listing actions without an id filter was removed; use GET /actions?id=...",
            status=410,
        )
    found = [
        req.project.actions[i]
        for i in {int_param(t, "id") for t in ids}
        if i in req.project.actions
    ]
    return _actions_page(req, found)


# -- images ------------------------------------------------------------------------------

IMAGE_TYPES = ("system", "app", "snapshot", "backup")
IMAGE_STATUSES = ("available", "creating", "unavailable")


def list_images(req: Request) -> Reply:
    bound = [int_param(b, "bound_to") for b in req.query.get("bound_to", [])]
    include_deprecated = (one(req, "include_deprecated") or "false").lower() == "true"
    images = req.project.find_images(
        types=choices(req, "type", IMAGE_TYPES),
        statuses=choices(req, "status", IMAGE_STATUSES),
        bound_to=bound,
        selector=selector(req),
        name=one(req, "name"),
        architecture=choices(req, "architecture", ("x86", "arm")),
        include_deprecated=include_deprecated,
    )
    images = sort_items(
        req,
        sorted(images, key=lambda i: i.id),
        {
            "id": lambda i: i.id,
            "name": lambda i: i.name,
            "created": lambda i: i.created,  # the API sorts images by id, name, created only
        },
    )
    return page(req, "images", images, render_image)


def get_image(req: Request) -> Reply:
    return Reply(200, {"image": render_image(req.project.image(path_id(req)))})


def update_image(req: Request) -> Reply:
    image_type = body_str(req, "type")
    if image_type not in (None, "snapshot"):
        raise invalid_field("type", "can only be converted to snapshot")
    image = req.project.update_image(
        path_id(req),
        description=body_str(req, "description"),
        image_type=image_type,
        labels=body_labels(req),
    )
    return Reply(200, {"image": render_image(image)})


def delete_image(req: Request) -> Reply:
    req.project.delete_image(path_id(req))
    return Reply(204, None)


def change_image_protection(req: Request) -> Reply:
    delete = req.body.get("delete")
    if delete is not None and not isinstance(delete, bool):
        raise invalid_field("delete", "must be a boolean")
    action = req.project.change_image_protection(path_id(req), delete=delete)
    return Reply(201, {"action": render_action(action, req.now)})


ROUTES: tuple[Route, ...] = (
    Route("GET", "/servers", list_servers),
    Route("GET", "/servers/{id}", get_server),
    Route("PUT", "/servers/{id}", update_server, frozenset({"name", "labels"})),
    Route("GET", "/servers/{id}/actions", server_actions),
    Route(
        "POST",
        "/servers/{id}/actions/create_image",
        create_image,
        frozenset({"description", "type", "labels"}),
    ),
    Route("POST", "/servers/{id}/actions/shutdown", server_power("shutdown")),
    Route("POST", "/servers/{id}/actions/poweroff", server_power("poweroff")),
    Route("POST", "/servers/{id}/actions/poweron", server_power("poweron")),
    Route("POST", "/servers/{id}/actions/reboot", server_power("reboot")),
    Route("GET", "/actions", list_actions),
    Route("GET", "/actions/{id}", get_action),
    Route("GET", "/images", list_images),
    Route("GET", "/images/{id}", get_image),
    Route("PUT", "/images/{id}", update_image, frozenset({"description", "type", "labels"})),
    Route("DELETE", "/images/{id}", delete_image),
    Route(
        "POST",
        "/images/{id}/actions/change_protection",
        change_image_protection,
        frozenset({"delete"}),
    ),
    *routes_catalog.ROUTES,
    *routes_servers.ROUTES,
    *resources.routes(),
)
_COMPILED = [(r, r.pattern) for r in ROUTES]


def _matching(path: str) -> list[tuple[Route, re.Match[str]]]:
    """The routes whose template fits ``path``, the most literal ones only.

    A literal segment wins over a placeholder: ``/servers/actions`` is the action list, not a
    server whose id is ``actions`` (so ``DELETE /servers/actions`` is 405, not a bad id).
    """
    found = [(r, m) for r, pattern in _COMPILED if (m := pattern.match(path)) is not None]
    if not found:
        return []
    fewest = min(r.template.count("{") for r, _ in found)
    return [(r, m) for r, m in found if r.template.count("{") == fewest]


def allowed_methods(path: str) -> list[str]:
    """The methods ``path`` takes (the ``Allow`` header of a 405)."""
    return sorted({r.method for r, _ in _matching(path)})


def resolve(method: str, path: str) -> tuple[Route, dict[str, str]]:
    """The route for a request, or 404 not_found / 405 method_not_allowed."""
    found = _matching(path)
    for route, m in found:
        if route.method == method:
            return route, m.groupdict()
    if found:
        raise ApiError("method_not_allowed", f"method {method} is not allowed on {path}")
    raise ApiError("not_found", f"no such endpoint: {method} /v1{path}")
