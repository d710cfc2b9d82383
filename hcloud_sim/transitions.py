"""Servers that a scenario starts in a transitional status, and how that status moves on.

Hetzner shows a server ``starting``, ``stopping``, ``initializing``, ``rebuilding``, ``migrating``
or ``deleting`` while something is being done to it. A scenario may start a server in any of
them; the status then moves on as the real one would, through the scaled clock:

==============  ======================  =========================================
status          running action (lock)   when it ends
==============  ======================  =========================================
initializing    ``create_server``       ``running``
starting        ``start_server``        ``running``
rebuilding      ``rebuild_server``      ``running``
migrating       ``change_server_type``  ``running``
deleting        ``delete_server``       the server is gone (404)
stopping        none (ACPI shutdown)    ``off``
==============  ======================  =========================================

How long: the server's ``status_duration`` if given (``null``: the status stays as configured and
the action never ends), else the project's duration for that command (``stopping``: the server's
``shutdown_delay``). ``running``, ``off`` and ``unknown`` stay as they are.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from hcloud_sim.errors import ApiError

if TYPE_CHECKING:
    from collections.abc import Callable

    from hcloud_sim.model import Duration, Server
    from hcloud_sim.project import Project
    from hcloud_sim.spec import ServerSpec

#: status -> (the command of the action that holds the lock meanwhile, the status after it)
TRANSITIONS: dict[str, tuple[str, str | None]] = {
    "initializing": ("create_server", "running"),
    "starting": ("start_server", "running"),
    "rebuilding": ("rebuild_server", "running"),
    "migrating": ("change_server_type", "running"),
    "deleting": ("delete_server", None),
}


def check_status(spec: ServerSpec) -> None:
    """Raise ValueError when a transitional status and a running action would both hold the lock."""
    if spec.status in TRANSITIONS and spec.running_actions:
        command = TRANSITIONS[spec.status][0]
        raise ValueError(
            f"server {spec.name!r}: status {spec.status!r} brings its own running action "
            f"({command}); leave out running_actions"
        )


def begin_transition(project: Project, server: Server, spec: ServerSpec, now: float) -> None:
    """Start what moves ``server`` on from the transitional status it was seeded in."""
    if spec.status == "stopping":
        delay = _duration(project, spec, spec.shutdown_delay)
        if delay is not None:
            project.sim.schedule(now + delay, _halt(server))
        return
    if spec.status not in TRANSITIONS:
        return
    command, after = TRANSITIONS[spec.status]
    project.begin(
        server,
        command,
        duration=_duration(project, spec, project.spec.duration_for(command)),
        on_success=_settle(project, server, after),
        started=now,
    )


def _duration(project: Project, spec: ServerSpec, default: Duration) -> float | None:
    given = "status_duration" in spec.model_fields_set
    return project.draw(spec.status_duration if given else default)


def _halt(server: Server) -> Callable[[float], None]:
    def halt(t: float) -> None:
        del t
        if server.status == "stopping":  # a poweron or poweroff in between wins
            server.status = "off"

    return halt


def _settle(project: Project, server: Server, after: str | None) -> Callable[[float], None]:
    def settle(t: float) -> None:
        if after is not None:
            server.status = after  # type: ignore[assignment]  # one of the literal statuses
            return
        with contextlib.suppress(ApiError):  # already deleted through the control API
            project.delete_server(server.id, at=t)

    return settle
