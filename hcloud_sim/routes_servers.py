"""``POST /servers``, ``DELETE /servers/{id}``, rebuild and change_protection: parse, call, render.

The verbs live in ``lifecycle.py``; this module only turns bodies into typed arguments (with the
API's ``invalid_input`` naming the field) and results into the documented response shapes.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from hcloud_sim import lifecycle, resources
from hcloud_sim.errors import invalid_field
from hcloud_sim.model import Server
from hcloud_sim.query import Reply, Request, Route, body_hostname, body_labels, body_str, path_id
from hcloud_sim.render import render_action, render_server
from hcloud_sim.resources import datacenters

#: references to resources the simulator does not have: only an empty value is accepted
_ABSENT = {
    "ssh_keys": "SSH key",
    "volumes": "volume",
    "networks": "network",
    "firewalls": "firewall",
    "placement_group": "placement group",
}
_USER_DATA_LIMIT = 32 * 1024


def _required(value: Any, name: str) -> Any:
    if value is None:
        raise invalid_field(name, "is required")
    return value


def _ref(req: Request, name: str) -> str | int | None:
    """An ``ID or name`` field: the API takes a number or a string."""
    value = req.body.get(name)
    if value is None or (isinstance(value, int | str) and not isinstance(value, bool)):
        return value
    raise invalid_field(name, "must be an ID or a name")


def _location(req: Request) -> str | int | None:
    """``location``, or the location of ``datacenter`` (which older clients send instead)."""
    location, datacenter = _ref(req, "location"), req.body.get("datacenter")
    if datacenter is None:
        return location
    if location is not None:
        raise invalid_field("datacenter", "give either location or datacenter, not both")
    return datacenters.location_of(req.project, datacenter)


def _flag(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise invalid_field(name, "must be a boolean")
    return value


def _check_absent(req: Request) -> None:
    owned = resources.server_fields()
    for name, kind in _ABSENT.items():
        if name not in owned and req.body.get(name) not in (None, []):
            raise invalid_field(name, f"{kind} not found (the simulator has none)")
    user_data = body_str(req, "user_data")
    if user_data is not None and len(user_data.encode()) > _USER_DATA_LIMIT:
        raise invalid_field("user_data", "is limited to 32 KiB")
    _flag(req.body, "automount", False)


def create_server(req: Request) -> Reply:
    _check_absent(req)
    new = lifecycle.NewServer(
        name=_required(body_hostname(req, "name"), "name"),
        server_type=_required(_ref(req, "server_type"), "server_type"),
        image=_required(_ref(req, "image"), "image"),
        location=_location(req),
        labels=body_labels(req),
        start_after_create=_flag(req.body, "start_after_create", True),
        body=req.body,
    )
    created = lifecycle.create_server(req.project, new, _family_fields(req, new))
    return Reply(
        201,
        {
            "server": render_server(req.project, created.server),
            "action": render_action(created.action, req.now),
            "next_actions": [render_action(a, req.now) for a in created.next_actions],
            "root_password": created.root_password,
        },
    )


def _family_fields(
    req: Request, new: lifecycle.NewServer
) -> Callable[[str], list[Callable[[Server], None]]]:
    """The body's fields that resource families own, checked for ``location`` by each family."""

    def prepare(location: str) -> list[Callable[[Server], None]]:
        appliers = []
        for name, field in resources.server_fields().items():
            value = req.body.get(name)
            if value is None:
                value = field.default
            if value is not None:
                apply = field.prepare(req.project, value, new, location)
                if apply is not None:
                    appliers.append(apply)
        return appliers

    return prepare


def delete_server(req: Request) -> Reply:
    action = lifecycle.delete_server(req.project, path_id(req))
    return Reply(200, {"action": render_action(action, req.now)})


def rebuild_server(req: Request) -> Reply:
    body_str(req, "user_data")
    image = _required(_ref(req, "image"), "image")
    action = lifecycle.rebuild_server(req.project, path_id(req), image)
    return Reply(
        201,
        {"action": render_action(action, req.now), "root_password": secrets.token_urlsafe(12)},
    )


def change_protection(req: Request) -> Reply:
    flags = {name: req.body.get(name) for name in ("delete", "rebuild")}
    for name, value in flags.items():
        if value is not None and not isinstance(value, bool):
            raise invalid_field(name, "must be a boolean")
    action = lifecycle.change_protection(
        req.project, path_id(req), delete=flags["delete"], rebuild=flags["rebuild"]
    )
    return Reply(201, {"action": render_action(action, req.now)})


ROUTES: tuple[Route, ...] = (
    Route(
        "POST",
        "/servers",
        create_server,
        frozenset(
            {
                "name",
                "location",
                "datacenter",
                "server_type",
                "start_after_create",
                "image",
                "placement_group",
                "ssh_keys",
                "volumes",
                "networks",
                "firewalls",
                "user_data",
                "labels",
                "automount",
                "public_net",
            }
        ),
    ),
    Route("DELETE", "/servers/{id}", delete_server),
    Route(
        "POST", "/servers/{id}/actions/rebuild", rebuild_server, frozenset({"image", "user_data"})
    ),
    Route(
        "POST",
        "/servers/{id}/actions/change_protection",
        change_protection,
        frozenset({"delete", "rebuild"}),
    ),
)
