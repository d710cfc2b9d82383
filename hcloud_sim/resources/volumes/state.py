"""Volumes: records and verbs, no HTTP.

A volume points at the server it is attached to; it stays in its location and attaches only to a
server there. Create, attach, detach and resize take simulated time and lock the volume (and the
server they touch); the change shows once the action succeeded. A volume never dies with its
server: deleting the server detaches it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from hcloud_sim.clock import iso
from hcloud_sim.errors import ApiError, invalid_field
from hcloud_sim.resources import kit

if TYPE_CHECKING:
    from hcloud_sim.model import Action, Server
    from hcloud_sim.project import Project

KIND = "volume"
MIN_GB, MAX_GB = 10, 10240
FORMATS = ("xfs", "ext4")
#: letters, digits, '.', '_', '-'; starts and ends with a letter or digit; at most 64 characters
NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?$")


@dataclass
class Volume:
    id: int
    name: str
    size: int
    location: str
    created: float
    server: int | None = None
    labels: dict[str, str] = field(default_factory=dict)
    protection_delete: bool = False
    format: str | None = None
    status: Literal["creating", "available"] = "available"


@dataclass
class Volumes:
    volumes: dict[int, Volume] = field(default_factory=dict)


def volumes(project: Project) -> dict[int, Volume]:
    return project.store(Volumes).volumes


def get(project: Project, volume_id: int) -> Volume:
    found = volumes(project).get(volume_id)
    if found is None:
        raise ApiError("not_found", f"volume with ID '{volume_id}' not found")
    return found


def render(project: Project, volume: Volume) -> dict[str, Any]:
    return {
        "id": volume.id,
        "created": iso(volume.created),
        "name": volume.name,
        "server": volume.server,
        "location": project.catalog.render_location(volume.location),
        "size": volume.size,
        "linux_device": f"/dev/disk/by-id/scsi-0HC_Volume_{volume.id}",
        "protection": {"delete": volume.protection_delete},
        "labels": dict(volume.labels),
        "status": volume.status,
        "format": volume.format,
    }


def check_name(project: Project, name: str) -> None:
    if not NAME.fullmatch(name):
        raise invalid_field(
            "name",
            "letters, digits, '.', '_' and '-', starting and ending with a letter or digit, "
            "at most 64 characters",
        )
    kit.ensure_unique((v.name for v in volumes(project).values()), name)


def check_size(size: Any, field_name: str = "size") -> int:
    integral = isinstance(size, int) or (isinstance(size, float) and size.is_integer())
    if isinstance(size, bool) or not integral:
        raise invalid_field(field_name, "must be a whole number of GB")
    if not MIN_GB <= size <= MAX_GB:
        raise invalid_field(field_name, f"must be between {MIN_GB} and {MAX_GB} GB")
    return int(size)


def check_attachable(volume: Volume, server: Server, field_name: str = "server") -> None:
    if volume.server is not None:
        raise invalid_field(
            field_name, f"volume {volume.id} is already attached to server {volume.server}"
        )
    if volume.location != server.location:
        raise invalid_field(
            field_name,
            f"volume {volume.id} is in {volume.location}, server {server.id} in "
            f"{server.location}: a volume attaches only to a server in its location",
        )


def make(
    project: Project,
    name: str,
    size: int,
    location: str,
    *,
    labels: dict[str, str] | None = None,
    fmt: str | None = None,
) -> Volume:
    volume = Volume(
        id=project.sim.next_id(KIND),
        name=name,
        size=size,
        location=location,
        created=project.sim.clock.now(),
        labels=dict(labels or {}),
        format=fmt,
    )
    volumes(project)[volume.id] = volume
    return volume


def create(
    project: Project,
    name: str,
    size: int,
    location: str,
    server: Server | None,
    *,
    labels: dict[str, str] | None,
    fmt: str | None,
) -> tuple[Volume, Action, list[Action]]:
    """A ``creating`` volume, its create_volume action and, when made for a server, the
    attach_volume action that follows it (checked before anything changes)."""
    if server is not None and project.is_locked((server.id, "server")):
        raise ApiError("locked", "cannot perform operation because server is locked")
    volume = make(project, name, size, location, labels=labels, fmt=fmt)
    volume.status = "creating"
    create_for = kit.timed(project, "create_volume") or 0.0

    def available(t: float) -> None:
        del t
        volume.status = "available"

    made = project.begin_on(
        "create_volume", [(volume.id, KIND)], duration=create_for, on_success=available
    )
    if server is None:
        return volume, made, []
    attach_for = kit.timed(project, "attach_volume") or 0.0
    attached = project.begin_on(
        "attach_volume",
        [(volume.id, KIND), (server.id, "server")],
        locks=[(server.id, "server")],  # the volume's lock is the create's until it ends
        duration=create_for + attach_for,
        on_success=_attach_to(project, volume, server),
    )
    return volume, made, [attached]


def _attach_to(project: Project, volume: Volume, server: Server | None) -> Any:
    def done(t: float) -> None:
        del t
        if volume.id in volumes(project) and (server is None or server.id in project.servers):
            volume.server = server.id if server is not None else None

    return done


def attach(project: Project, volume: Volume, server: Server) -> Action:
    check_attachable(volume, server)
    return project.begin_on(
        "attach_volume",
        [(volume.id, KIND), (server.id, "server")],
        duration=kit.timed(project, "attach_volume"),
        on_success=_attach_to(project, volume, server),
    )


def detach(project: Project, volume: Volume) -> Action:
    if volume.server is None:
        raise ApiError("invalid_input", f"volume {volume.id} is not attached to a server")
    return project.begin_on(
        "detach_volume",
        [(volume.id, KIND), (volume.server, "server")],
        duration=kit.timed(project, "detach_volume"),
        on_success=_attach_to(project, volume, None),
    )


def resize(project: Project, volume: Volume, size: int) -> Action:
    if size <= volume.size:
        raise invalid_field("size", f"must be greater than the current size ({volume.size} GB)")

    def done(t: float) -> None:
        del t
        volume.size = max(volume.size, size)

    return project.begin_on(
        "resize_volume",
        [(volume.id, KIND)],
        duration=kit.timed(project, "resize_volume"),
        on_success=done,
    )


def delete(project: Project, volume: Volume) -> None:
    if volume.protection_delete:
        raise ApiError("protected", f"volume deletion is protected (protected, {volume.id})")
    if volume.server is not None:
        raise ApiError(
            "invalid_input",
            f"volume {volume.id} is attached to server {volume.server}: detach it first",
        )
    if project.is_locked((volume.id, KIND)):
        raise ApiError("locked", "cannot perform operation because volume is locked")
    del volumes(project)[volume.id]


def server_deleted(project: Project, server: Server) -> None:
    """Its volumes are detached, never deleted."""
    for volume in volumes(project).values():
        if volume.server == server.id:
            volume.server = None
