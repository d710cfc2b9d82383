"""``/volumes``: parse, call, render."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hcloud_sim.errors import invalid_field
from hcloud_sim.query import (
    Reply,
    Request,
    Route,
    body_labels,
    body_str,
    choices,
    one,
    page,
    path_id,
    selector,
    sort_items,
)
from hcloud_sim.render import render_action
from hcloud_sim.resources import kit
from hcloud_sim.resources.volumes import state
from hcloud_sim.resources.volumes.state import KIND

if TYPE_CHECKING:
    from hcloud_sim.model import Action


def _list(req: Request) -> Reply:
    name, wanted = one(req, "name"), selector(req)
    statuses = set(choices(req, "status", ("available", "creating")))
    found = [
        v
        for v in sorted(state.volumes(req.project).values(), key=lambda v: v.id)
        if (name is None or v.name == name)
        and (wanted is None or wanted.matches(v.labels))
        and (not statuses or v.status in statuses)
    ]
    found = sort_items(
        req,
        found,
        {"id": lambda v: v.id, "name": lambda v: v.name, "created": lambda v: v.created},
    )
    return page(req, "volumes", found, lambda v: state.render(req.project, v))


def _create(req: Request) -> Reply:
    p = req.project
    name = body_str(req, "name")
    if not name:
        raise invalid_field("name", "is required")
    if "size" not in req.body:
        raise invalid_field("size", "is required")
    size = state.check_size(req.body["size"])
    labels = body_labels(req)
    fmt = body_str(req, "format")
    if fmt is not None and fmt not in state.FORMATS:
        raise invalid_field("format", "must be one of xfs, ext4")
    server_id = kit.body_id(req, "server")
    server = p.server(server_id) if server_id is not None else None
    automount = kit.body_flag(req, "automount")
    if automount and server is None:
        raise invalid_field("automount", "needs a server to mount the volume on")
    ref = req.body.get("location")
    location = kit.location_of(p, ref, "location") if ref is not None else None
    if server is not None and location not in (None, server.location):
        raise invalid_field(
            "location", f"server {server.id} is in {server.location}: omit location or match it"
        )
    where = location or (server.location if server is not None else None)
    if where is None:
        raise invalid_field("location", "is required unless server is given")
    state.check_name(p, name)
    volume, action, next_actions = state.create(
        p, name, size, where, server, labels=labels, fmt=fmt
    )
    return Reply(
        201,
        {
            "volume": state.render(p, volume),
            "action": render_action(action, req.now),
            "next_actions": [render_action(a, req.now) for a in next_actions],
        },
    )


def _get_one(req: Request) -> Reply:
    return Reply(200, {"volume": state.render(req.project, state.get(req.project, path_id(req)))})


def _update(req: Request) -> Reply:
    volume = state.get(req.project, path_id(req))
    name, labels = body_str(req, "name"), body_labels(req)
    if name is not None and name != volume.name:
        state.check_name(req.project, name)
        volume.name = name
    if labels is not None:
        volume.labels = dict(labels)
    return Reply(200, {"volume": state.render(req.project, volume)})


def _delete(req: Request) -> Reply:
    state.delete(req.project, state.get(req.project, path_id(req)))
    return Reply(204, None)


def _action(req: Request, action: Action) -> Reply:
    return Reply(201, {"action": render_action(action, req.now)})


def _attach(req: Request) -> Reply:
    volume = state.get(req.project, path_id(req))
    server_id = kit.body_id(req, "server", required=True)
    kit.body_flag(req, "automount")  # mounting happens inside the guest: nothing to show
    assert server_id is not None  # required
    return _action(req, state.attach(req.project, volume, req.project.server(server_id)))


def _detach(req: Request) -> Reply:
    return _action(req, state.detach(req.project, state.get(req.project, path_id(req))))


def _resize(req: Request) -> Reply:
    volume = state.get(req.project, path_id(req))
    if "size" not in req.body:
        raise invalid_field("size", "is required")
    return _action(req, state.resize(req.project, volume, state.check_size(req.body["size"])))


def _protection(req: Request) -> Reply:
    volume = state.get(req.project, path_id(req))
    volume.protection_delete = kit.protection_delete(req)
    return _action(req, req.project.instant_action("change_protection", [(volume.id, KIND)]))


ROUTES: tuple[Route, ...] = (
    *kit.action_routes("volumes", KIND, state.get),
    Route("GET", "/volumes", _list),
    Route(
        "POST",
        "/volumes",
        _create,
        frozenset({"size", "name", "labels", "automount", "format", "location", "server"}),
    ),
    Route("GET", "/volumes/{id}", _get_one),
    Route("PUT", "/volumes/{id}", _update, frozenset({"name", "labels"})),
    Route("DELETE", "/volumes/{id}", _delete),
    Route("POST", "/volumes/{id}/actions/attach", _attach, frozenset({"server", "automount"})),
    Route("POST", "/volumes/{id}/actions/detach", _detach),
    Route("POST", "/volumes/{id}/actions/resize", _resize, frozenset({"size"})),
    Route("POST", "/volumes/{id}/actions/change_protection", _protection, frozenset({"delete"})),
)
