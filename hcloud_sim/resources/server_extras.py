"""The rest of the document's server endpoints: resize, rescue, reset, passwords, console, metrics,
and the action listings of servers and images (``/servers/actions``, ``/images/{id}/actions``, ...).

Not a resource family of its own, but plugged in the same way (a ``FAMILY`` with routes and a
server view), so that ``routes.py`` and ``project.py`` stay as they are.

- ``change_type`` needs the server ``off`` (``422 server_not_stopped``) and a type that fits
  (``422 invalid_server_type``: not offered in the server's location, past its deprecation, of the
  other architecture, or with a disk smaller than the server's). It shows the server ``migrating``
  and holds its lock while ``change_server_type`` runs, then the server has the new type (and, with
  ``upgrade_disk``, its disk) and is ``running`` again: the document says the copy "starts it
  again".
- ``enable_rescue`` / ``disable_rescue`` lock the server while they run; rescue mode ends by
  itself 60 simulated minutes later, or when ``reset`` boots the server into it.
- ``reset`` cuts the power and starts the server (``reset_server``), as a ``poweron`` would.
- ``reset_password`` needs the server ``running``; ``request_console`` answers a ``wss_url`` and
  password for one minute (nothing listens there).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hcloud_sim.errors import ApiError, invalid_field
from hcloud_sim.lifecycle import BOOT_FAILED
from hcloud_sim.query import Reply, Request, Route, path_id
from hcloud_sim.render import render_action
from hcloud_sim.resources import Family, ssh_keys
from hcloud_sim.resources.kit import action_routes
from hcloud_sim.resources.load_balancers.metrics import series_reply

if TYPE_CHECKING:
    from hcloud_sim.model import Server
    from hcloud_sim.project import Project

#: rescue mode ends by itself when unused this long (simulated seconds), as the API documents
RESCUE_TIMEOUT = 3600.0
RESCUE_TYPES = ("linux64",)
SERVER_SERIES = {
    "cpu": ("cpu",),
    "disk": (
        "disk.0.iops.read",
        "disk.0.iops.write",
        "disk.0.bandwidth.read",
        "disk.0.bandwidth.write",
    ),
    "network": (
        "network.0.pps.in",
        "network.0.pps.out",
        "network.0.bandwidth.in",
        "network.0.bandwidth.out",
    ),
}


@dataclass
class RescueState:
    #: server id -> when its rescue mode was enabled (ends RESCUE_TIMEOUT later)
    enabled: dict[int, float] = field(default_factory=dict)


def _rescue(project: Project) -> RescueState:
    return project.store(RescueState)


def _duration(project: Project, command: str) -> float | None:
    return project.draw(project.spec.duration_for(command))


def _action_reply(req: Request, action: Any, **extra: Any) -> Reply:
    return Reply(201, {**extra, "action": render_action(action, req.now)})


# -- change_type ---------------------------------------------------------------------------


def change_type(req: Request) -> Reply:
    project = req.project
    server = project.server(path_id(req))
    ref = req.body.get("server_type")
    if ref is None:
        raise invalid_field("server_type", "is required")
    if isinstance(ref, bool) or not isinstance(ref, str | int):
        raise invalid_field("server_type", "must be an ID or a name")
    upgrade = req.body.get("upgrade_disk")
    if not isinstance(upgrade, bool):
        raise invalid_field("upgrade_disk", "is required and must be a boolean")
    target = project.catalog.server_type(ref)
    if target is None:
        raise invalid_field("server_type", f"server type {ref!r} not found")
    if server.status != "off":
        raise ApiError(
            "server_not_stopped", "server must be stopped before changing its type", status=422
        )
    current = project.catalog.server_type(server.server_type)
    misfit = None
    if not project.catalog.available(target, req.now):
        misfit = f"server type {target.name} is deprecated and unavailable"
    elif server.location not in target.prices:
        misfit = f"server type {target.name} is not available in location {server.location}"
    elif current is not None and current.architecture != target.architecture:
        misfit = f"server type {target.name} has another architecture"
    elif target.disk < server.disk_gb:
        misfit = f"server type {target.name} has a smaller disk than the server"
    if misfit is not None:
        raise ApiError("invalid_server_type", misfit, status=422)
    was = server.status

    def changed(t: float) -> None:
        del t
        if server.id in project.servers:
            server.server_type = target.name
            if upgrade:
                server.disk_gb = target.disk
            server.status = "running"

    def failed(t: float) -> None:
        del t
        if server.id in project.servers:
            server.status = was

    action = project.begin(
        server,
        "change_server_type",
        duration=_duration(project, "change_server_type"),
        on_success=changed,
        on_error=failed,
    )
    server.status = "migrating"
    return _action_reply(req, action)


# -- rescue, reset, password, console -----------------------------------------------------


def enable_rescue(req: Request) -> Reply:
    project = req.project
    server = project.server(path_id(req))
    kind = req.body.get("type")
    if kind is not None and kind not in RESCUE_TYPES:  # null: linux64, as the SDK sends it
        raise invalid_field("type", f"must be one of {', '.join(RESCUE_TYPES)}")
    keys = req.body.get("ssh_keys")
    if keys is not None and not isinstance(keys, list):
        raise invalid_field("ssh_keys", "must be a list of SSH key IDs")
    for key in keys or []:  # an unknown key refuses the request, as at POST /servers
        ssh_keys.resolve(project, key)

    def enabled(t: float) -> None:
        if server.id not in project.servers:
            return
        _rescue(project).enabled[server.id] = t

        def expire(now: float) -> None:
            if _rescue(project).enabled.get(server.id) == t:
                del _rescue(project).enabled[server.id]
            del now

        project.sim.schedule(t + RESCUE_TIMEOUT, expire)

    action = project.begin(
        server, "enable_rescue", duration=_duration(project, "enable_rescue"), on_success=enabled
    )
    return _action_reply(req, action, root_password=secrets.token_urlsafe(12))


def disable_rescue(req: Request) -> Reply:
    project = req.project
    server = project.server(path_id(req))

    def disabled(t: float) -> None:
        del t
        _rescue(project).enabled.pop(server.id, None)

    action = project.begin(
        server, "disable_rescue", duration=_duration(project, "disable_rescue"), on_success=disabled
    )
    return _action_reply(req, action)


def reset(req: Request) -> Reply:
    project = req.project
    server = project.server(path_id(req))
    was = server.status

    def came_up(t: float) -> None:
        del t
        if server.id in project.servers:
            server.status = "running"
            _rescue(project).enabled.pop(server.id, None)  # booted into it: over

    def failed(t: float) -> None:
        del t
        if server.id in project.servers:
            server.status = "off" if was == "off" else was

    action = project.begin(
        server,
        "reset_server",
        duration=None if server.boot == "stuck" else _duration(project, "reset_server"),
        error=BOOT_FAILED if server.boot == "error" else None,
        on_success=came_up,
        on_error=failed,
    )
    server.status = "starting"
    return _action_reply(req, action)


def reset_password(req: Request) -> Reply:
    project = req.project
    server = project.server(path_id(req))
    if server.status != "running":
        raise ApiError(
            "invalid_input", "the server must be running to reset its root password", status=422
        )
    action = project.begin(server, "reset_password", duration=_duration(project, "reset_password"))
    return _action_reply(req, action, root_password=secrets.token_urlsafe(12))


def request_console(req: Request) -> Reply:
    project = req.project
    server = project.server(path_id(req))
    action = project.begin(
        server, "request_console", duration=_duration(project, "request_console")
    )
    url = f"wss://console.hetzner.cloud/?server_id={server.id}&token={secrets.token_hex(16)}"
    return _action_reply(req, action, wss_url=url, password=secrets.token_urlsafe(24))


def metrics(req: Request) -> Reply:
    req.project.server(path_id(req))
    return series_reply(req, SERVER_SERIES)


# -- the server's side -----------------------------------------------------------------------


def _server_view(project: Project, server: Server, view: dict[str, Any]) -> None:
    view["rescue_enabled"] = server.id in _rescue(project).enabled


def _server_deleted(project: Project, server: Server) -> None:
    _rescue(project).enabled.pop(server.id, None)


def _server_exists(project: Project, server_id: int) -> object:
    return project.server(server_id)


def _image_exists(project: Project, image_id: int) -> object:
    return project.image(image_id)


#: ``GET /servers/{id}/actions`` is routes.py's (with its own filters); the rest come from the kit
_SERVER_ACTIONS = tuple(
    r
    for r in action_routes("servers", "server", _server_exists)
    if r.template != "/servers/{id}/actions"
)


def _act(name: str, handler: Any, fields: tuple[str, ...] = ()) -> Route:
    return Route("POST", f"/servers/{{id}}/actions/{name}", handler, frozenset(fields))


FAMILY = Family(
    name="server_extras",
    routes=(
        *_SERVER_ACTIONS,
        *action_routes("images", "image", _image_exists),
        _act("change_type", change_type, ("server_type", "upgrade_disk")),
        _act("enable_rescue", enable_rescue, ("type", "ssh_keys")),
        _act("disable_rescue", disable_rescue),
        _act("reset", reset),
        _act("reset_password", reset_password),
        _act("request_console", request_console),
        Route("GET", "/servers/{id}/metrics", metrics),
    ),
    server_view=_server_view,
    on_server_deleted=_server_deleted,
)
