"""Hetzner Backups: ``enable_backup`` / ``disable_backup`` and the daily backup images.

A server with backups enabled has a ``backup_window`` (``22-02``: between 22:00 and 02:00 UTC).
Once a day in that window the simulator's schedule makes a backup image of it (``type: backup``,
``bound_to`` the server), through a ``create_image`` action that locks the server as a snapshot
does; a server locked at that time is tried again later in the window. A server keeps at most
seven backups: making another (on schedule or by ``create_image`` with ``type: backup``) removes
the oldest. Disabling backups or deleting the server deletes all of its backups; a backup turned
into a snapshot (``PUT /images/{id}`` with ``type: snapshot``) is no longer bound and survives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, Field, RootModel

from hcloud_sim.errors import invalid_field
from hcloud_sim.model import Image, Server
from hcloud_sim.project import Project
from hcloud_sim.query import Reply, Request, Route, body_str, path_id
from hcloud_sim.render import render_action
from hcloud_sim.resources import Family
from hcloud_sim.spec import BackupWindow, ProjectSpec

#: the windows Hetzner hands out (four hours each, UTC)
WINDOWS: tuple[str, ...] = get_args(BackupWindow)
#: backup slots per server
SLOTS = 7
DAY = 86400.0
#: how long the scheduled create_image of a backup takes unless the project says otherwise
BACKUP_DURATION = 120.0
#: a server locked when its backup is due is tried again this much later, within its window
RETRY = 600.0


@dataclass
class BackupState:
    #: bumped each time a server's backups are enabled or disabled: a due event from an earlier
    #: generation does nothing
    generation: dict[int, int] = field(default_factory=dict)


def _state(project: Project) -> BackupState:
    return project.store(BackupState)


def backups_of(project: Project, server_id: int) -> list[Image]:
    """A server's backup images, oldest first."""
    found = [i for i in project.images.values() if i.type == "backup" and i.bound_to == server_id]
    return sorted(found, key=lambda i: (i.created, i.id))


def _window_start(window: str, after: float) -> float:
    """The next start of ``window`` after ``after`` (UNIX time)."""
    hour = int(window.split("-", maxsplit=1)[0])
    day = datetime.fromtimestamp(after, tz=UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = day + timedelta(hours=hour)
    while start.timestamp() <= after:
        start += timedelta(days=1)
    return start.timestamp()


def _due(server: Server, window: str, after: float) -> float:
    """When the server's next backup after ``after`` starts: in its window, at a fixed minute
    of its own (so that a fleet's backups do not all start at once)."""
    offset = (server.id % 180) * 60.0
    return _window_start(window, after - offset) + offset


def check_window(value: object) -> str:
    if value not in WINDOWS:
        raise invalid_field("backup_window", f"must be one of {', '.join(WINDOWS)}")
    return str(value)


def enable(project: Project, server: Server, window: str | None = None) -> None:
    """Backups on (a window of its own unless one is given), and the daily schedule started."""
    if server.backup_window is not None and window in (None, server.backup_window):
        return
    server.backup_window = window or WINDOWS[server.id % len(WINDOWS)]
    _start(project, server)


def _start(project: Project, server: Server) -> None:
    state = _state(project)
    generation = state.generation[server.id] = state.generation.get(server.id, 0) + 1
    window = server.backup_window
    if window is None:
        return
    now = project.sim.clock.now()
    project.sim.schedule(_due(server, window, now), _daily(project, server, generation))


def disable(project: Project, server: Server) -> None:
    """Backups off: the schedule stops and every backup of the server is deleted at once."""
    server.backup_window = None
    state = _state(project)
    state.generation[server.id] = state.generation.get(server.id, 0) + 1
    for image in backups_of(project, server.id):
        del project.images[image.id]


def rotate(project: Project, server_id: int) -> None:
    """Keep the newest ``SLOTS`` backups of a server (protected ones are never removed)."""
    backups = backups_of(project, server_id)
    removable = [i for i in backups if not i.protection_delete]
    for image in removable[: max(0, len(backups) - SLOTS)]:
        del project.images[image.id]


def _daily(project: Project, server: Server, generation: int) -> Callable[[float], None]:
    def run(t: float) -> None:
        window = server.backup_window
        if (
            _state(project).generation.get(server.id) != generation
            or server.id not in project.servers
            or window is None
        ):
            return
        if server.lock_holders:  # busy: again a little later, while the window lasts
            window_end = _window_start(window, t - DAY) + 4 * 3600
            again = t + RETRY if t + RETRY < window_end else _due(server, window, t)
            project.sim.schedule(again, run)
            return
        make_backup(project, server, t)
        project.sim.schedule(_due(server, window, t), run)

    return run


def make_backup(project: Project, server: Server, t: float, *, age: float = 0.0) -> Image:
    """A backup image of the server: made through a create_image action unless ``age`` > 0,
    which makes one that was already there ``age`` seconds before ``t`` (scenario seeding)."""
    size = server.snapshot_size_gb or round(server.disk_gb * 0.2, 2)
    image = Image(
        id=project.sim.next_id("image"),
        type="backup",
        status="available" if age else "creating",
        description=f"{server.name} backup "
        + datetime.fromtimestamp(t - age, tz=UTC).strftime("%Y-%m-%d"),
        created=t - age,
        disk_size=float(server.disk_gb),
        image_size=size if age else None,
        created_from=(server.id, server.name),
        bound_to=server.id,
        architecture=project.architecture_of(server),
        boot=server.boot,
    )
    project.images[image.id] = image
    if not age:

        def available(at: float) -> None:
            del at
            image.status = "available"
            image.image_size = size

        duration = project.spec.action_durations.get("create_backup", BACKUP_DURATION)
        action = project.begin(
            server,
            "create_image",
            duration=project.draw(duration),
            on_success=available,
            extra=[(image.id, "image")],
            started=t,
        )
        image.creating_action = action.id
    rotate(project, server.id)
    return image


def check_backup_slot(project: Project, server_id: int) -> None:
    """``create_image`` with ``type: backup`` needs backups enabled on the server."""
    if project.server(server_id).backup_window is None:
        raise invalid_field("type", "backups are not enabled for this server")


# -- routes --------------------------------------------------------------------------------


def enable_backup(req: Request) -> Reply:
    project = req.project
    server = project.server(path_id(req))
    window = body_str(req, "backup_window")  # older clients may still choose the window
    if window is not None:
        check_window(window)
    action = project.begin(
        server, "enable_backup", duration=project.draw(project.spec.duration_for("enable_backup"))
    )
    enable(project, server, window)
    return Reply(201, {"action": render_action(action, req.now)})


def disable_backup(req: Request) -> Reply:
    project = req.project
    server = project.server(path_id(req))
    action = project.begin(
        server,
        "disable_backup",
        duration=project.draw(project.spec.duration_for("disable_backup")),
    )
    disable(project, server)
    return Reply(201, {"action": render_action(action, req.now)})


def _server_deleted(project: Project, server: Server) -> None:
    _state(project).generation.pop(server.id, None)
    for image in backups_of(project, server.id):
        del project.images[image.id]


# -- scenarios -------------------------------------------------------------------------------


class BackupSpec(BaseModel):
    """Backups enabled on a server of the project, with some backups already made."""

    model_config = ConfigDict(extra="forbid")

    server: str
    window: BackupWindow | None = Field(default=None, description="default: one of Hetzner's")
    existing: int = Field(default=0, ge=0, le=SLOTS, description="backups already there")


class BackupsSection(RootModel[list[BackupSpec]]):
    def check_refs(self, project: ProjectSpec) -> None:
        """Raise ValueError for a server the project does not have, or one named twice."""
        names = {
            group.name.format(i=i) if group.count else group.name
            for group in project.servers
            for i in range(1, (group.count or 1) + 1)
        }
        seen: set[str] = set()
        for spec in self.root:
            if spec.server not in names:
                raise ValueError(f"backups: no server {spec.server!r} in project {project.name!r}")
            if spec.server in seen:
                raise ValueError(f"backups: server {spec.server!r} is listed twice")
            seen.add(spec.server)


def _seed(project: Project, section: BackupsSection | None) -> None:
    for seeded in project.servers.values():  # a server seeded with a window backs up daily
        if seeded.backup_window is not None:
            _start(project, seeded)
    by_name = {s.name: s for s in project.servers.values()}
    for spec in section.root if section is not None else []:
        server = by_name[spec.server]  # check_refs made sure it is there
        enable(project, server, spec.window)
        now = project.sim.clock.now()
        window = server.backup_window or WINDOWS[0]
        last = _due(server, window, now - DAY)  # the newest one was made at the last window
        for day in range(spec.existing - 1, -1, -1):
            make_backup(project, server, now, age=now - (last - day * DAY))


def _ground_truth(project: Project) -> dict[str, Any]:
    return {
        str(s.id): {"window": s.backup_window, "backups": [i.id for i in backups_of(project, s.id)]}
        for s in project.servers.values()
        if s.backup_window is not None or backups_of(project, s.id)
    }


FAMILY = Family(
    name="backups",
    routes=(
        Route(
            "POST",
            "/servers/{id}/actions/enable_backup",
            enable_backup,
            frozenset({"backup_window"}),
        ),
        Route("POST", "/servers/{id}/actions/disable_backup", disable_backup),
    ),
    on_server_deleted=_server_deleted,
    section=BackupsSection,
    seed=_seed,
    order=200,
    ground_truth=_ground_truth,
)
