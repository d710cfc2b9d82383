"""The ``/v1`` route table: one entry per endpoint, handlers that return values.

Handlers receive a parsed ``Request`` (project already authenticated, body already checked against
the route's allowed fields) and return a ``Reply``; errors are raised as ``ApiError``. Writing the
envelope and headers is the HTTP layer's job.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlencode

from hcloud_sim.errors import ApiError, invalid_field
from hcloud_sim.labels import LabelError, Selector, check_labels, parse_selector
from hcloud_sim.project import Project
from hcloud_sim.render import render_action, render_image, render_network, render_server

T = TypeVar("T")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: dict[str, Any]
    project: Project
    params: dict[str, str]
    now: float


@dataclass
class Reply:
    status: int
    body: dict[str, Any] | None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Reply]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Handler
    fields: frozenset[str] = frozenset()

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template) + "$")


# -- query helpers -------------------------------------------------------------------------


def _one(req: Request, name: str) -> str | None:
    values = req.query.get(name)
    return values[-1] if values else None


def _int(text: str, name: str, minimum: int = 1) -> int:
    try:
        value = int(text)
    except ValueError:
        raise invalid_field(name, "must be an integer") from None
    if value < minimum:
        raise invalid_field(name, f"must be at least {minimum}")
    return value


def _path_id(req: Request, name: str = "id") -> int:
    text = req.params[name]
    if not text.isdigit():
        raise ApiError(
            "invalid_input",
            f"invalid input in field '{name}': must be an integer",
            details={"fields": [{"name": name, "messages": ["must be an integer"]}]},
        )
    return int(text)


def _selector(req: Request) -> Selector | None:
    text = _one(req, "label_selector")
    if text is None:
        return None
    try:
        return parse_selector(text)
    except LabelError as exc:
        raise invalid_field("label_selector", str(exc)) from None


def _choices(req: Request, name: str, allowed: Sequence[str]) -> list[str]:
    values = req.query.get(name, [])
    for value in values:
        if value not in allowed:
            raise invalid_field(name, f"{value!r} is not one of {', '.join(allowed)}")
    return values


def _sorted(req: Request, items: list[T], keys: dict[str, Callable[[T], Any]]) -> list[T]:
    """Apply ``sort=field[:asc|:desc]`` (repeatable, first one wins); default by id."""
    sorts = req.query.get("sort", [])
    for spec in reversed(sorts):
        name, _, direction = spec.partition(":")
        if name not in keys or direction not in ("", "asc", "desc"):
            raise invalid_field("sort", f"cannot sort by {spec!r} (fields: {', '.join(keys)})")
        getter = keys[name]
        items = sorted(
            items,
            key=lambda i, g=getter: (g(i) is None, g(i) or 0),  # type: ignore[misc]
            reverse=direction == "desc",
        )
    return items


def _page(req: Request, name: str, items: list[dict[str, Any]]) -> Reply:
    page = _int(_one(req, "page") or "1", "page")
    per_page = min(_int(_one(req, "per_page") or "25", "per_page"), 50)
    total = len(items)
    last = max(1, math.ceil(total / per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    meta = {
        "page": page,
        "per_page": per_page,
        "previous_page": page - 1 if page > 1 else None,
        "next_page": page + 1 if page < last else None,
        "last_page": last,
        "total_entries": total,
    }
    links = []
    # the links keep the request's filters and sorting, as the API's do
    kept = {k: v for k, v in req.query.items() if k not in ("page", "per_page")}
    query = urlencode({**kept, "per_page": [str(per_page)]}, doseq=True)
    base = f"/v1{req.path}?{query}&page="
    if meta["previous_page"]:
        links.append(f'<{base}{page - 1}>; rel="prev"')
    if meta["next_page"]:
        links.append(f'<{base}{page + 1}>; rel="next"')
    links.append(f'<{base}{last}>; rel="last"')
    return Reply(200, {name: chunk, "meta": {"pagination": meta}}, {"Link": ", ".join(links)})


def _labels(req: Request) -> dict[str, str] | None:
    labels = req.body.get("labels")
    if labels is None:
        return None
    if not isinstance(labels, dict):
        raise invalid_field("labels", "must be an object of string values")
    try:
        check_labels(labels)
    except LabelError as exc:
        raise invalid_field("labels", str(exc)) from None
    return labels


def _str(req: Request, name: str) -> str | None:
    value = req.body.get(name)
    if value is not None and not isinstance(value, str):
        raise invalid_field(name, "must be a string")
    return value


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
        name=_one(req, "name"),
        selector=_selector(req),
        statuses=_choices(req, "status", SERVER_STATUSES),
    )
    servers = _sorted(
        req,
        sorted(servers, key=lambda s: s.id),
        {"id": lambda s: s.id, "name": lambda s: s.name, "created": lambda s: s.created},
    )
    return _page(req, "servers", [render_server(p, s) for s in servers])


def get_server(req: Request) -> Reply:
    return Reply(200, {"server": render_server(req.project, req.project.server(_path_id(req)))})


#: RFC 1123 hostname: dot-separated labels of letters, digits and inner dashes, <= 253 chars
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


def update_server(req: Request) -> Reply:
    name = _str(req, "name")
    if name is not None and not _HOSTNAME.fullmatch(name):
        raise invalid_field("name", "must be a valid hostname (letters, digits, '.' and '-')")
    server = req.project.update_server(_path_id(req), name=name, labels=_labels(req))
    return Reply(200, {"server": render_server(req.project, server)})


def server_actions(req: Request) -> Reply:
    actions = req.project.server_actions(_path_id(req), _choices(req, "status", ACTION_STATUSES))
    return _actions_page(req, actions)


def _actions_page(req: Request, actions: list[Any]) -> Reply:
    actions = _sorted(
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
    return _page(req, "actions", [render_action(a, req.now) for a in actions])


def server_power(verb: str) -> Handler:
    def handler(req: Request) -> Reply:
        action = req.project.power(_path_id(req), verb)
        return Reply(201, {"action": render_action(action, req.now)})

    handler.__name__ = f"server_{verb}"
    return handler


def create_image(req: Request) -> Reply:
    image_type = _str(req, "type") or "snapshot"
    if image_type not in ("snapshot", "backup"):
        raise invalid_field("type", "must be one of snapshot, backup")
    image, action = req.project.create_image(
        _path_id(req),
        description=_str(req, "description"),
        image_type=image_type,
        labels=_labels(req) or {},
    )
    return Reply(201, {"image": render_image(image), "action": render_action(action, req.now)})


# -- actions -----------------------------------------------------------------------------


def get_action(req: Request) -> Reply:
    return Reply(200, {"action": render_action(req.project.action(_path_id(req)), req.now)})


def list_actions(req: Request) -> Reply:
    ids = req.query.get("id")
    if not ids:
        raise ApiError(
            "deprecated_api_endpoint",
            "listing actions without an id filter was removed; use GET /actions?id=...",
            status=410,
        )
    found = [
        req.project.actions[i] for i in {_int(t, "id") for t in ids} if i in req.project.actions
    ]
    return _actions_page(req, found)


# -- images ------------------------------------------------------------------------------

IMAGE_TYPES = ("system", "app", "snapshot", "backup")
IMAGE_STATUSES = ("available", "creating", "unavailable")


def list_images(req: Request) -> Reply:
    bound = [_int(b, "bound_to") for b in req.query.get("bound_to", [])]
    include_deprecated = (_one(req, "include_deprecated") or "false").lower() == "true"
    images = req.project.find_images(
        types=_choices(req, "type", IMAGE_TYPES),
        statuses=_choices(req, "status", IMAGE_STATUSES),
        bound_to=bound,
        selector=_selector(req),
        name=_one(req, "name"),
        architecture=_choices(req, "architecture", ("x86", "arm")),
        include_deprecated=include_deprecated,
    )
    images = _sorted(
        req,
        sorted(images, key=lambda i: i.id),
        {
            "id": lambda i: i.id,
            "name": lambda i: i.name,
            "created": lambda i: i.created,  # the API sorts images by id, name, created only
        },
    )
    return _page(req, "images", [render_image(i) for i in images])


def get_image(req: Request) -> Reply:
    return Reply(200, {"image": render_image(req.project.image(_path_id(req)))})


def update_image(req: Request) -> Reply:
    image_type = _str(req, "type")
    if image_type not in (None, "snapshot"):
        raise invalid_field("type", "can only be converted to snapshot")
    image = req.project.update_image(
        _path_id(req),
        description=_str(req, "description"),
        image_type=image_type,
        labels=_labels(req),
    )
    return Reply(200, {"image": render_image(image)})


def delete_image(req: Request) -> Reply:
    req.project.delete_image(_path_id(req))
    return Reply(204, None)


def change_image_protection(req: Request) -> Reply:
    delete = req.body.get("delete")
    if delete is not None and not isinstance(delete, bool):
        raise invalid_field("delete", "must be a boolean")
    action = req.project.change_image_protection(_path_id(req), delete=delete)
    return Reply(201, {"action": render_action(action, req.now)})


# -- networks ----------------------------------------------------------------------------


def list_networks(req: Request) -> Reply:
    network = render_network(req.project)
    name, selector = _one(req, "name"), _selector(req)
    if network is not None and (
        (name is not None and network["name"] != name)
        or (selector is not None and not selector.matches(network["labels"]))
    ):
        network = None
    return _page(req, "networks", [network] if network is not None else [])


def get_network(req: Request) -> Reply:
    network_id = _path_id(req)
    network = render_network(req.project)
    if network is None or network["id"] != network_id:
        raise ApiError("not_found", f"network with ID '{network_id}' not found")
    return Reply(200, {"network": network})


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
    Route("GET", "/networks", list_networks),
    Route("GET", "/networks/{id}", get_network),
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
)
_COMPILED = [(r, r.pattern) for r in ROUTES]


def resolve(method: str, path: str) -> tuple[Route, dict[str, str]]:
    """The route for a request, or 404 not_found / 405 method_not_allowed."""
    path_known = False
    for route, pattern in _COMPILED:
        m = pattern.match(path)
        if m is None:
            continue
        path_known = True
        if route.method == method:
            return route, m.groupdict()
    if path_known:
        raise ApiError("method_not_allowed", f"method {method} is not allowed on {path}")
    raise ApiError("not_found", f"no such endpoint: {method} /v1{path}")
