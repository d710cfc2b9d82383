"""Servers coming and going: create, delete, rebuild, power, protection. Verbs on a ``Project``.

Like ``project.py``, no HTTP: each verb runs under the simulator's lock and ends its actions
through scheduled events. A created server goes ``initializing`` -> (``starting`` ->) ``running``
or ``off``; how it comes up depends on the image it was made from (``Image.boot``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hcloud_sim.catalog import ServerTypeSpec
from hcloud_sim.errors import ApiError, invalid_field
from hcloud_sim.model import Action, ErrorPair, Image, Server

if TYPE_CHECKING:
    from hcloud_sim.project import Project


#: how an action that starts a server from an image that does not boot ends
BOOT_FAILED: ErrorPair = ("action_failed", "server did not boot from its image")
#: the action each power verb runs
POWER_COMMANDS = {
    "shutdown": "shutdown_server",
    "poweroff": "stop_server",
    "poweron": "start_server",
    "reboot": "reboot_server",
}


@dataclass(frozen=True)
class NewServer:
    """What ``POST /servers`` asks for, references still unresolved (id or name)."""

    name: str
    server_type: str | int
    image: str | int
    location: str | int | None = None
    labels: dict[str, str] | None = None
    start_after_create: bool = True
    #: the whole request body, for a family field that depends on another (``resources.public``)
    body: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Created:
    server: Server
    action: Action
    next_actions: list[Action]
    root_password: str


def server_type_of(project: Project, ref: str | int) -> ServerTypeSpec:
    found = project.catalog.server_type(ref)
    if found is None:
        raise invalid_field("server_type", f"server type {ref!r} not found")
    return found


def orderable_type(project: Project, ref: str | int) -> ServerTypeSpec:
    """A server type a new server may have: not past its deprecation's ``unavailable_after``."""
    found = server_type_of(project, ref)
    if not project.catalog.available(found, project.sim.clock.now()):
        raise invalid_field(
            "server_type", f"server type {found.name} is deprecated and unavailable"
        )
    return found


def image_for(project: Project, ref: str | int, server_type: ServerTypeSpec, disk: int) -> Image:
    """The image a server of ``server_type`` with a ``disk`` GB disk may boot from, or the 422.

    A name picks the image of the server type's architecture, as the API does for system images
    that exist once per architecture.
    """
    if isinstance(ref, int) or ref.isdigit():
        by_id = project.images.get(int(ref))
        candidates = [by_id] if by_id is not None else []
    else:
        candidates = [i for i in project.images.values() if i.name == ref]
    if not candidates:
        raise invalid_field("image", f"image {ref!r} not found")
    image = next((i for i in candidates if i.architecture == server_type.architecture), None)
    if image is None:
        raise invalid_field("image", "image has wrong architecture")
    if image.status != "available":
        raise invalid_field("image", f"image {image.id} is not available (it is {image.status})")
    if image.disk_size > disk:
        raise invalid_field("image", "image disk is bigger than server type disk")
    return image


def _location_for(project: Project, ref: str | int | None, server_type: ServerTypeSpec) -> str:
    if ref is None:  # the API places it where the type is offered
        return next(iter(server_type.prices))
    name = project.catalog.location(ref)
    if name is None:
        raise invalid_field("location", f"location {ref!r} not found")
    if name not in server_type.prices:
        raise invalid_field(
            "location", f"server type {server_type.name} is not available in location {name}"
        )
    return name


def _check_quota(project: Project) -> None:
    quota = project.spec.server_quota
    if quota is not None and len(project.servers) >= quota:
        raise ApiError(
            "resource_limit_exceeded",
            f"server limit exceeded: this project may have {quota} servers",
            details={"limits": [{"name": "server_limit"}]},
        )


def create_server(
    project: Project,
    new: NewServer,
    prepare: Callable[[str], list[Callable[[Server], None]]] | None = None,
) -> Created:
    """``POST /servers``: a server that initializes, then starts (or stays off).

    ``prepare(location)`` checks what the resource families own in the body (networks, volumes,
    ...) once the location is known and before anything changes; what it returns is applied to
    the new server.
    """
    server_type = orderable_type(project, new.server_type)
    location = _location_for(project, new.location, server_type)
    image = image_for(project, new.image, server_type, server_type.disk)
    project.ensure_name_free(new.name)
    _check_quota(project)
    appliers = prepare(location) if prepare is not None else []
    sid = project.sim.next_id("server")
    server = Server(
        id=sid,
        name=new.name,
        status="initializing",
        created=project.sim.clock.now(),
        labels=dict(new.labels or {}),
        server_type=server_type.name,
        location=location,
        disk_gb=server_type.disk,
        image_id=image.id,
        boot=image.boot,
    )
    project.servers[sid] = server
    for apply in appliers:
        apply(server)
    action, next_actions = _start_up(project, server, new.start_after_create)
    return Created(server, action, next_actions, secrets.token_urlsafe(12))


def _start_up(project: Project, server: Server, start: bool) -> tuple[Action, list[Action]]:
    """The create_server action and, when asked to start, the start_server queued behind it."""
    failed = BOOT_FAILED if server.boot == "error" else None
    create_for = project.draw(project.spec.duration_for("create_server")) or 0.0
    after_create = "starting" if start and failed is None else "off"
    action = project.begin(
        server,
        "create_server",
        duration=create_for,
        error=failed,
        on_success=_status(project, server, after_create),
        on_error=_status(project, server, "off"),
    )
    if not start:
        return action, []
    start_for = project.draw(project.spec.duration_for("start_server")) or 0.0
    if failed is not None:
        start_for = 0.0  # it fails together with the create
    started = project.begin(
        server,
        "start_server",
        duration=None if server.boot == "stuck" else create_for + start_for,
        error=failed,
        on_success=_status(project, server, "running"),
        queued=True,
    )
    return action, [started]


def _status(project: Project, server: Server, status: str) -> Callable[[float], None]:
    def effect(t: float) -> None:
        del t
        if server.id in project.servers:
            server.status = status  # type: ignore[assignment]

    return effect


def delete_server(project: Project, server_id: int) -> Action:
    """``DELETE /servers/{id}``: gone at once (404 from then on); a delete_server action runs.

    A lock does not stop a delete (a server stuck booting can always be deleted): the actions
    still running on it end in error.
    """
    server = project.server(server_id)
    if server.protection_delete:
        raise ApiError("protected", "server deletion is protected")
    project.delete_server(server_id)
    duration = project.draw(project.spec.duration_for("delete_server"))
    return project.begin(server, "delete_server", duration=duration)


def rebuild_server(project: Project, server_id: int, image_ref: str | int) -> Action:
    """``POST /servers/{id}/actions/rebuild``: off, locked, new image, then up again."""
    server = project.server(server_id)
    if server.protection_rebuild:
        raise ApiError("protected", "server rebuild is protected")
    image = image_for(
        project, image_ref, server_type_of(project, server.server_type), server.disk_gb
    )
    failed = BOOT_FAILED if image.boot == "error" else None
    back_up = "starting" if image.boot == "stuck" else "running"  # stuck: never comes up
    action = project.begin(
        server,
        "rebuild_server",
        duration=project.draw(project.spec.duration_for("rebuild_server")),
        error=failed,
        on_success=_status(project, server, back_up),
        on_error=_status(project, server, "off"),
    )
    server.status = "rebuilding"  # powered off first, as the API does
    server.image_id = image.id
    server.boot = image.boot
    return action


def change_protection(
    project: Project, server_id: int, *, delete: bool | None, rebuild: bool | None
) -> Action:
    """``POST /servers/{id}/actions/change_protection``; both flags must agree, as the API says."""
    server = project.server(server_id)
    if delete is not None and rebuild is not None and delete != rebuild:
        raise invalid_field("rebuild", "delete and rebuild protection must have the same value")
    if delete is not None:
        server.protection_delete = delete
    if rebuild is not None:
        server.protection_rebuild = rebuild
    return project.instant_action("change_protection", [(server.id, "server")])


def power(project: Project, server_id: int, verb: str) -> Action:
    """shutdown (ACPI), poweroff, poweron, reboot."""
    server = project.server(server_id)
    command = POWER_COMMANDS[verb]
    duration = project.draw(project.spec.duration_for(command))
    if verb == "shutdown":
        return project.begin(
            server, command, duration=duration, on_success=_acpi_received(project, server)
        )
    if verb == "poweroff":
        return project.begin(
            server, command, duration=duration, on_success=_status(project, server, "off")
        )
    if verb == "poweron":
        return _poweron(project, server, duration)
    return project.begin(server, command, duration=duration)


def _acpi_received(project: Project, server: Server) -> Callable[[float], None]:
    """An obedient guest goes ``stopping``, then ``off`` after its shutdown delay."""

    def guest_halted(t: float) -> None:
        if server.status == "stopping":  # a poweron/poweroff in between wins
            _status(project, server, "off")(t)

    def received(t: float) -> None:
        if server.status != "running" or not server.honours_acpi:
            return
        server.status = "stopping"
        delay = project.draw(server.shutdown_delay) or 0.0
        project.sim.schedule(t + delay, guest_halted)

    return received


def _poweron(project: Project, server: Server, duration: float | None) -> Action:
    """``starting``, then ``running``; a disk that does not boot hangs or fails (``boot``)."""
    was = server.status
    action = project.begin(
        server,
        "start_server",
        duration=None if server.boot == "stuck" else duration,  # never comes up
        error=BOOT_FAILED if server.boot == "error" else None,
        on_success=_status(project, server, "running"),
        on_error=_status(project, server, was),
    )
    if was == "off":
        server.status = "starting"
    return action
