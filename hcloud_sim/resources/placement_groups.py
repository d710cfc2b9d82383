"""Placement groups (``spread``): ``/placement_groups``, joined at create or while a server is off.

A spread group holds at most ``SPREAD_LIMIT`` servers, as Hetzner's. ``add_to_placement_group``
and ``remove_from_placement_group`` need the server off (``server_not_stopped`` otherwise); they
are actions that hold the server's lock. A deleted server leaves its group.

Scenario section::

    placement_groups:
      - {name: web-spread, labels: {tier: web}, servers: [web-1, web-2]}
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from hcloud_sim.clock import iso
from hcloud_sim.errors import ApiError, invalid_field
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
from hcloud_sim.resources import Apply, Family, ServerField

if TYPE_CHECKING:
    from hcloud_sim.lifecycle import NewServer
    from hcloud_sim.model import Action, Server
    from hcloud_sim.project import Project
    from hcloud_sim.spec import ProjectSpec

#: servers per spread group (Hetzner's documented limit)
SPREAD_LIMIT = 10
TYPES = ("spread",)


@dataclass
class PlacementGroup:
    id: int
    name: str
    type: str
    created: float
    labels: dict[str, str] = field(default_factory=dict)
    servers: list[int] = field(default_factory=list)


@dataclass
class PlacementGroups:
    groups: dict[int, PlacementGroup] = field(default_factory=dict)

    def group(self, group_id: int) -> PlacementGroup:
        found = self.groups.get(group_id)
        if found is None:
            raise ApiError("not_found", f"placement group with ID '{group_id}' not found")
        return found

    def of_server(self, server_id: int) -> PlacementGroup | None:
        return next((g for g in self.groups.values() if server_id in g.servers), None)


def render(group: PlacementGroup) -> dict[str, Any]:
    return {
        "id": group.id,
        "name": group.name,
        "labels": dict(group.labels),
        "type": group.type,
        "created": iso(group.created),
        "servers": sorted(group.servers),
    }


# -- verbs -----------------------------------------------------------------------------------


def _state(project: Project) -> PlacementGroups:
    return project.store(PlacementGroups)


def _name_free(state: PlacementGroups, name: str, but: int | None = None) -> None:
    if any(g.name == name and g.id != but for g in state.groups.values()):
        raise ApiError(
            "uniqueness_error", "name is already used", details={"fields": [{"name": "name"}]}
        )


def _room(group: PlacementGroup) -> None:
    if len(group.servers) >= SPREAD_LIMIT:
        raise ApiError(
            "placement_group_member_limit_reached",
            f"placement group with ID {group.id} contains already {SPREAD_LIMIT} servers",
            status=422,
        )


def create_group(project: Project, name: str, kind: str, labels: dict[str, str]) -> PlacementGroup:
    return _new_group(
        _state(project), lambda: project.sim.next_id("placement_group"), project.sim.clock.now(),
        name=name, kind=kind, labels=labels,
    )  # fmt: skip


def _new_group(
    state: PlacementGroups,
    new_id: Callable[[], int],
    now: float,
    *,
    name: str,
    kind: str,
    labels: dict[str, str],
) -> PlacementGroup:
    _name_free(state, name)
    group = PlacementGroup(new_id(), name, kind, now, dict(labels))
    state.groups[group.id] = group
    return group


def _membership_action(
    project: Project, server_id: int, command: str, group: PlacementGroup
) -> Action:
    return project.begin_on(
        command,
        [(server_id, "server"), (group.id, "placement_group")],
        locks=[(server_id, "server")],
        duration=project.draw(project.spec.duration_for(command)),
    )


def _stopped(project: Project, server: Server) -> None:
    if project.is_locked((server.id, "server")):
        raise ApiError("locked", "cannot perform operation because server is locked")
    if server.status != "off":
        raise ApiError("server_not_stopped", "server must be stopped", status=422)


# -- routes ----------------------------------------------------------------------------------


def _name(req: Request, required: bool) -> str | None:
    name = body_str(req, "name")
    if name is None and required:
        raise invalid_field("name", "is required")
    if name is not None and not name:
        raise invalid_field("name", "must not be empty")
    return name


def list_groups(req: Request) -> Reply:
    name, wanted = one(req, "name"), selector(req)
    kinds = set(choices(req, "type", TYPES))
    found = [
        g
        for g in _state(req.project).groups.values()
        if (name is None or g.name == name)
        and (wanted is None or wanted.matches(g.labels))
        and (not kinds or g.type in kinds)
    ]
    found = sort_items(
        req,
        sorted(found, key=lambda g: g.id),
        {"id": lambda g: g.id, "name": lambda g: g.name, "created": lambda g: g.created},
    )
    return page(req, "placement_groups", found, render)


def create(req: Request) -> Reply:
    name = _name(req, required=True)
    kind = body_str(req, "type")
    if kind not in TYPES:
        raise invalid_field("type", "must be spread")
    group = create_group(req.project, str(name), kind, body_labels(req) or {})
    return Reply(201, {"placement_group": render(group), "action": None})


def get_group(req: Request) -> Reply:
    return Reply(200, {"placement_group": render(_state(req.project).group(path_id(req)))})


def update(req: Request) -> Reply:
    group = _state(req.project).group(path_id(req))
    name, labels = _name(req, required=False), body_labels(req)
    if name is not None and name != group.name:
        _name_free(_state(req.project), name, but=group.id)
        group.name = name
    if labels is not None:
        group.labels = dict(labels)
    return Reply(200, {"placement_group": render(group)})


def delete(req: Request) -> Reply:
    """Gone; its servers are in no group any more."""
    state = _state(req.project)
    state.group(path_id(req))
    del state.groups[path_id(req)]
    return Reply(204, None)


def _group_ref(req: Request) -> int:
    value = req.body.get("placement_group")
    if value is None:
        raise invalid_field("placement_group", "is required")
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid_field("placement_group", "must be an ID")
    return value


def add_server(req: Request) -> Reply:
    project = req.project
    server = project.server(path_id(req))
    group = _state(project).group(_group_ref(req))
    if _state(project).of_server(server.id) is not None:
        raise ApiError(
            "already_in_placement_group", "server is already in a placement group", status=422
        )
    _stopped(project, server)
    _room(group)
    action = _membership_action(project, server.id, "add_to_placement_group", group)
    group.servers.append(server.id)
    return Reply(201, {"action": render_action(action, req.now)})


def remove_server(req: Request) -> Reply:
    project = req.project
    server = project.server(path_id(req))
    group = _state(project).of_server(server.id)
    if group is None:
        raise ApiError("invalid_input", "server is not in a placement group")
    _stopped(project, server)
    action = _membership_action(project, server.id, "remove_from_placement_group", group)
    group.servers.remove(server.id)
    return Reply(201, {"action": render_action(action, req.now)})


ROUTES: tuple[Route, ...] = (
    Route("GET", "/placement_groups", list_groups),
    Route("POST", "/placement_groups", create, frozenset({"name", "type", "labels"})),
    Route("GET", "/placement_groups/{id}", get_group),
    Route("PUT", "/placement_groups/{id}", update, frozenset({"name", "labels"})),
    Route("DELETE", "/placement_groups/{id}", delete),
    Route(
        "POST",
        "/servers/{id}/actions/add_to_placement_group",
        add_server,
        frozenset({"placement_group"}),
    ),
    Route("POST", "/servers/{id}/actions/remove_from_placement_group", remove_server),
)


# -- servers ---------------------------------------------------------------------------------


def _prepare(project: Project, value: Any, new: NewServer, location: str) -> Apply | None:
    del new, location
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid_field("placement_group", "must be an ID")
    group = _state(project).groups.get(value)
    if group is None:
        raise invalid_field("placement_group", f"placement group {value} not found")
    _room(group)

    def apply(server: Server) -> None:
        group.servers.append(server.id)

    return apply


def _server_view(project: Project, server: Server, view: dict[str, Any]) -> None:
    group = _state(project).of_server(server.id)
    view["placement_group"] = render(group) if group is not None else None


def _forget(project: Project, server: Server) -> None:
    group = _state(project).of_server(server.id)
    if group is not None:
        group.servers.remove(server.id)


# -- scenario --------------------------------------------------------------------------------


class GroupSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    type: Literal["spread"] = "spread"
    labels: dict[str, str] = Field(default_factory=dict)
    servers: list[str] = Field(default_factory=list, description="names of its servers")


class Section(RootModel[list[GroupSpec]]):
    def check_refs(self, project: ProjectSpec) -> None:
        """Raise ValueError for servers the project does not have, or groups too full."""
        names = [
            spec.name.format(i=i) if spec.count is not None else spec.name
            for spec in project.servers
            for i in range(1, (spec.count or 1) + 1)
        ]
        counter = itertools.count(1)
        _populate(
            PlacementGroups(),
            self.root,
            {n: i for i, n in enumerate(names, 1)},
            lambda: next(counter),
        )


def _seed(project: Project, section: Section | None) -> None:
    if section is not None:
        _populate(
            _state(project),
            section.root,
            {s.name: s.id for s in project.servers.values()},
            lambda: project.sim.next_id("placement_group"),
            project.sim.clock.now(),
        )


def _populate(
    state: PlacementGroups,
    specs: list[GroupSpec],
    servers: dict[str, int],
    new_id: Callable[[], int],
    now: float = 0.0,
) -> None:
    for spec in specs:
        try:
            group = _new_group(
                state, new_id, now, name=spec.name, kind=spec.type, labels=spec.labels
            )
        except ApiError as exc:
            raise ValueError(f"placement group {spec.name!r}: {exc.message}") from None
        for name in spec.servers:
            server_id = servers.get(name)
            if server_id is None:
                raise ValueError(f"placement group {spec.name!r}: no server {name!r}")
            other = state.of_server(server_id)
            if other is not None:
                raise ValueError(
                    f"server {name!r} is in placement groups {other.name!r} and {spec.name!r}"
                )
            if len(group.servers) >= SPREAD_LIMIT:
                raise ValueError(f"placement group {spec.name!r}: at most {SPREAD_LIMIT} servers")
            group.servers.append(server_id)


def _ground_truth(project: Project) -> list[dict[str, Any]]:
    return [render(g) for g in sorted(_state(project).groups.values(), key=lambda g: g.id)]


FAMILY = Family(
    name="placement_groups",
    routes=ROUTES,
    server_fields=(ServerField("placement_group", _prepare),),
    server_view=_server_view,
    on_server_deleted=_forget,
    section=Section,
    seed=_seed,
    order=20,
    ground_truth=_ground_truth,
)
