"""Actions and locks: how a verb starts an action, what it locks, how and when it ends.

The functions take the project whose ``actions``, ``locks`` and finishers they change; ``Project``
exposes them as its methods (``project.begin(...)``, ``project.begin_on(...)``, ...), so callers
write either. An action ends through an event scheduled on the simulator's clock (never a sleep),
or at once through ``finish_action`` (the control plane).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from hcloud_sim.errors import ApiError
from hcloud_sim.model import Action, ErrorPair

if TYPE_CHECKING:
    from hcloud_sim.model import Server
    from hcloud_sim.project import Project

Effect = Callable[[float], None]
#: (id, kind) of a resource, as in an action's ``resources``
Resource = tuple[int, str]


def action(project: Project, action_id: int) -> Action:
    action = project.actions.get(action_id)
    if action is None:
        raise ApiError("not_found", f"action with ID '{action_id}' not found")
    return action


def server_actions(project: Project, server_id: int, statuses: Iterable[str] = ()) -> list[Action]:
    if server_id not in project.servers:
        raise ApiError("not_found", f"server with ID '{server_id}' not found")
    wanted = set(statuses)
    return [
        a
        for a in project.actions.values()
        if (server_id, "server") in a.resources and (not wanted or a.status in wanted)
    ]


def begin(
    project: Project,
    server: Server,
    command: str,
    *,
    duration: float | None,
    error: ErrorPair | None = None,
    on_success: Effect | None = None,
    on_error: Effect | None = None,
    extra: Iterable[tuple[int, str]] = (),
    started: float | None = None,
    queued: bool = False,
) -> Action:
    """Start an action that locks ``server``; 423 locked if another action holds the lock.

    ``queued``: a follow-up the API starts together with a first action (``next_actions``),
    so it shares the lock instead of being refused by it.
    """
    if server.lock_holders and not queued:
        raise ApiError("locked", "cannot perform operation because server is locked")
    now = project.sim.clock.now() if started is None else started
    action = Action(
        id=project.sim.next_id("action"),
        command=command,
        started=now,
        duration=duration,
        resources=[(server.id, "server"), *extra],
        planned_error=error,
        locks_server=server.id,
    )
    project.actions[action.id] = action
    server.lock_holders.add(action.id)
    _plan_end(project, action, on_success, on_error)
    return action


def is_locked(project: Project, resource: Resource) -> bool:
    if resource[1] == "server":
        server = project.servers.get(resource[0])
        return server is not None and bool(server.lock_holders)
    return bool(project.locks.get(resource))


def begin_on(
    project: Project,
    command: str,
    resources: list[Resource],
    *,
    locks: list[Resource] | None = None,
    duration: float | None,
    error: ErrorPair | None = None,
    on_success: Effect | None = None,
    on_error: Effect | None = None,
) -> Action:
    """Start an action on any resources, holding the lock of ``locks`` (default: all of them).

    423 ``locked`` names the first locked resource's kind, as the API does
    ("cannot perform operation because volume is locked"). Servers are locked the same way
    ``begin`` locks them, so a volume attach and a snapshot of its server exclude each other.
    """
    held = list(resources if locks is None else locks)
    for resource in held:
        if project.is_locked(resource):
            kind = resource[1].replace("_", " ")
            raise ApiError("locked", f"cannot perform operation because {kind} is locked")
    now = project.sim.clock.now()
    action = Action(
        id=project.sim.next_id("action"),
        command=command,
        started=now,
        duration=duration,
        resources=list(resources),
        planned_error=error,
        locks=tuple(held),
    )
    project.actions[action.id] = action
    for resource in held:
        if resource[1] == "server":
            project.servers[resource[0]].lock_holders.add(action.id)
        else:
            project.locks.setdefault(resource, set()).add(action.id)
    _plan_end(project, action, on_success, on_error)
    return action


def finish_action(project: Project, action_id: int) -> Action:
    """End a running action now as planned (success or its planned error), with effects."""
    action = project.action(action_id)
    finish = project._finishers.pop(action_id, None)
    if action.status == "running" and finish is not None:
        finish(project.sim.clock.now())
    return action


def end(project: Project, action: Action, t: float, error: ErrorPair | None) -> None:
    action.status = "error" if error else "success"
    action.error = error
    action.finished = t
    server = project.servers.get(action.locks_server or 0) or project.deleted_servers.get(
        action.locks_server or 0
    )
    if server is not None:
        server.lock_holders.discard(action.id)
    for resource in action.locks:
        holders = project.locks.get(resource)
        if resource[1] == "server":
            owner = project.servers.get(resource[0]) or project.deleted_servers.get(resource[0])
            if owner is not None:
                owner.lock_holders.discard(action.id)
        elif holders is not None:
            holders.discard(action.id)
            if not holders:
                del project.locks[resource]
    for resource_id, kind in action.resources:
        image = project.images.get(resource_id) if kind == "image" else None
        if image is not None and image.creating_action == action.id:
            image.creating_action = None
            if action.status == "error":
                image.status = "unavailable"


def instant_action(project: Project, command: str, resources: list[tuple[int, str]]) -> Action:
    """An action that is over as soon as it is made (e.g. change_protection)."""
    now = project.sim.clock.now()
    action = Action(
        id=project.sim.next_id("action"),
        command=command,
        started=now,
        duration=0.0,
        resources=resources,
        status="success",
        finished=now,
    )
    project.actions[action.id] = action
    return action


def _plan_end(
    project: Project, action: Action, on_success: Effect | None, on_error: Effect | None
) -> None:
    """Register how ``action`` ends (its planned outcome, then the matching effect) and schedule
    the end after its duration; an action without a duration runs until the control plane ends it.
    """

    def finish(t: float) -> None:
        project._finishers.pop(action.id, None)
        if action.status != "running":
            return
        end(project, action, t, action.planned_error)
        effect = on_error if action.planned_error else on_success
        if effect is not None:
            effect(t)

    project._finishers[action.id] = finish
    if action.duration is not None:
        project.sim.schedule(action.started + action.duration, finish)
