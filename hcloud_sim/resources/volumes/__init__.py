"""Volumes: block storage in one location, attached to at most one server there.

``POST /servers`` takes ``volumes`` (ids, attached as the server is made) and ``automount``;
the server lists its volumes; deleting a server detaches them and never deletes them.

Scenario section (servers by name)::

    volumes:
      - {name: db-data, size: 100, server: db-1, format: ext4, labels: {role: db}}
      - {name: archive, size: 500, location: nbg1, protected: true}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from hcloud_sim.errors import ApiError, invalid_field
from hcloud_sim.resources import Family, ServerField
from hcloud_sim.resources.volumes import state
from hcloud_sim.resources.volumes.routes import ROUTES

if TYPE_CHECKING:
    from hcloud_sim.lifecycle import NewServer
    from hcloud_sim.model import Server
    from hcloud_sim.project import Project


def _prepare_volumes(project: Project, value: Any, new: NewServer, location: str) -> Any:
    """``POST /servers`` ``volumes``: existing volumes of the server's location, not attached."""
    del new
    if not isinstance(value, list) or any(
        isinstance(v, bool) or not isinstance(v, int) for v in value
    ):
        raise invalid_field("volumes", "must be a list of volume ids")
    if len(set(value)) != len(value):
        raise invalid_field("volumes", "names a volume twice")
    chosen = []
    for ref in value:
        volume = state.volumes(project).get(ref)
        if volume is None:
            raise invalid_field("volumes", f"volume {ref} not found")
        if volume.server is not None:
            raise invalid_field(
                "volumes", f"volume {ref} is already attached to server {volume.server}"
            )
        if volume.location != location:
            raise invalid_field(
                "volumes",
                f"volume {ref} is in {volume.location}, the server would be in {location}",
            )
        if project.is_locked((ref, state.KIND)):
            raise ApiError("locked", "cannot perform operation because volume is locked")
        chosen.append(volume)

    def apply(server: Server) -> None:
        for volume in chosen:
            volume.server = server.id

    return apply


def _server_view(project: Project, server: Server, view: dict[str, Any]) -> None:
    view["volumes"] = sorted(v.id for v in state.volumes(project).values() if v.server == server.id)


class VolumeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    size: int = Field(default=10, ge=state.MIN_GB, le=state.MAX_GB, description="GB")
    server: str | None = Field(default=None, description="name of the server it is attached to")
    location: str | None = Field(default=None, description="default: its server's, else fsn1")
    format: Literal["xfs", "ext4"] | None = None
    protected: bool = False
    labels: dict[str, str] = Field(default_factory=dict)


class VolumesSection(RootModel[list[VolumeSpec]]):
    pass


def _seed(project: Project, section: VolumesSection | None) -> None:
    servers = {s.name: s for s in project.servers.values()}
    for spec in section.root if section is not None else []:
        server = servers.get(spec.server) if spec.server else None
        if spec.server and server is None:
            raise ValueError(f"volume {spec.name!r}: no server {spec.server!r}")
        location = spec.location or (server.location if server else "fsn1")
        if project.catalog.location(location) is None:
            raise ValueError(f"volume {spec.name!r}: unknown location {location!r}")
        if server is not None and server.location != location:
            raise ValueError(f"volume {spec.name!r} is in {location}, its server elsewhere")
        if not state.NAME.fullmatch(spec.name) or any(
            v.name == spec.name for v in state.volumes(project).values()
        ):
            raise ValueError(f"volume name {spec.name!r} is invalid or used twice")
        volume = state.make(
            project, spec.name, spec.size, location, labels=spec.labels, fmt=spec.format
        )
        volume.server = server.id if server is not None else None
        volume.protection_delete = spec.protected


def _ground_truth(project: Project) -> list[dict[str, Any]]:
    found = sorted(state.volumes(project).values(), key=lambda v: v.id)
    return [state.render(project, v) for v in found]


FAMILY = Family(
    name="volumes",
    routes=ROUTES,
    server_fields=(ServerField("volumes", _prepare_volumes),),
    server_view=_server_view,
    on_server_deleted=state.server_deleted,
    section=VolumesSection,
    seed=_seed,
    order=40,
    ground_truth=_ground_truth,
)
