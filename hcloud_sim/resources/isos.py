"""ISOs: ``/isos`` and the server actions ``attach_iso`` / ``detach_iso``.

The public ISOs every project sees, per architecture, one deprecated and still usable, one past its
end: a list no longer shows that one, a get by id still does, and it cannot be attached. (The API
also has ISOs without an architecture, which ``include_architecture_wildcard`` is about, but its
document allows no null there, so every ISO here has one.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hcloud_sim.clock import iso as iso_time
from hcloud_sim.errors import ApiError, invalid_field
from hcloud_sim.model import Server
from hcloud_sim.project import Project
from hcloud_sim.query import Reply, Request, Route, choices, one, page, path_id
from hcloud_sim.render import render_action
from hcloud_sim.resources import Family


@dataclass(frozen=True)
class Iso:
    id: int
    name: str
    description: str
    architecture: str | None
    #: (announced, unavailable_after) as UNIX time
    deprecation: tuple[float, float] | None = None


def _t(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


#: the public ISOs (ids in their own range, apart from every other kind's)
PUBLIC_ISOS: tuple[Iso, ...] = (
    Iso(2_000_001, "debian-12.8.0-amd64-netinst.iso", "Debian 12.8 (amd64/netinstall)", "x86"),
    Iso(2_000_002, "debian-12.8.0-arm64-netinst.iso", "Debian 12.8 (arm64/netinstall)", "arm"),
    Iso(2_000_003, "ubuntu-24.04.1-live-server-amd64.iso", "Ubuntu 24.04.1 (amd64)", "x86"),
    Iso(2_000_004, "ubuntu-24.04.1-live-server-arm64.iso", "Ubuntu 24.04.1 (arm64)", "arm"),
    Iso(2_000_005, "virtio-win-0.1.266.iso", "virtio-win-0.1.266", "x86"),
    Iso(2_000_006, "ipxe.iso", "iPXE boot image", "x86"),
    Iso(
        2_000_007,
        "ubuntu-22.04.4-live-server-amd64.iso",
        "Ubuntu 22.04.4 (amd64)",
        "x86",
        (_t("2026-10-01T00:00:00"), _t("2027-04-01T00:00:00")),
    ),
    Iso(
        2_000_008,
        "debian-11.9.0-amd64-netinst.iso",
        "Debian 11.9 (amd64/netinstall)",
        "x86",
        (_t("2024-06-01T00:00:00"), _t("2024-09-01T00:00:00")),
    ),
)


@dataclass
class IsoState:
    #: server id -> the ISO attached to it
    attached: dict[int, int] = field(default_factory=dict)


def render_iso(found: Iso) -> dict[str, Any]:
    deprecation = None
    if found.deprecation is not None:
        announced, after = found.deprecation
        deprecation = {"announced": iso_time(announced), "unavailable_after": iso_time(after)}
    return {
        "id": found.id,
        "name": found.name,
        "description": found.description,
        "type": "public",
        "deprecation": deprecation,
        "architecture": found.architecture,
    }


def _retired(found: Iso, now: float) -> bool:
    return found.deprecation is not None and now > found.deprecation[1]


def by_ref(ref: str) -> Iso | None:
    """An ISO by name, or by id given as digits (the body's ``iso`` is a string)."""
    for found in PUBLIC_ISOS:
        if ref in (found.name, str(found.id)):
            return found
    return None


# -- routes --------------------------------------------------------------------------------


def list_isos(req: Request) -> Reply:
    name = one(req, "name")
    architectures = choices(req, "architecture", ("x86", "arm"))
    wildcard = one(req, "include_architecture_wildcard") or "false"
    if wildcard.lower() not in ("true", "false"):
        raise invalid_field("include_architecture_wildcard", "must be true or false")
    found = [
        i
        for i in PUBLIC_ISOS
        if not _retired(i, req.now)
        and (name is None or i.name == name)
        and (
            not architectures
            or i.architecture in architectures
            or (i.architecture is None and wildcard.lower() == "true")
        )
    ]
    return page(req, "isos", found, render_iso)


def get_iso(req: Request) -> Reply:
    iso_id = path_id(req)
    found = next((i for i in PUBLIC_ISOS if i.id == iso_id), None)
    if found is None:
        raise ApiError("not_found", f"iso with ID '{iso_id}' not found")
    return Reply(200, {"iso": render_iso(found)})


def attach_iso(req: Request) -> Reply:
    project = req.project
    server = project.server(path_id(req))
    ref = req.body.get("iso")
    if ref is None:
        raise invalid_field("iso", "is required")
    if isinstance(ref, bool) or not isinstance(ref, str | int):
        raise invalid_field("iso", "must be an ISO ID or name")
    found = by_ref(str(ref))
    if found is None:
        raise invalid_field("iso", f"iso {ref!r} not found")
    if _retired(found, req.now):
        raise invalid_field("iso", f"iso {found.name} is deprecated and unavailable")
    if found.architecture not in (None, project.architecture_of(server)):
        raise invalid_field("iso", "iso has wrong architecture")

    def attached(t: float) -> None:
        del t
        if server.id in project.servers:
            project.store(IsoState).attached[server.id] = found.id

    action = project.begin(
        server,
        "attach_iso",
        duration=project.draw(project.spec.duration_for("attach_iso")),
        on_success=attached,
        extra=[(found.id, "iso")],
    )
    return Reply(201, {"action": render_action(action, req.now)})


def detach_iso(req: Request) -> Reply:
    project = req.project
    server = project.server(path_id(req))
    state = project.store(IsoState)
    if server.id not in state.attached:  # the API answers with an action that already succeeded
        action = project.instant_action("detach_iso", [(server.id, "server")])
        return Reply(201, {"action": render_action(action, req.now)})

    def detached(t: float) -> None:
        del t
        state.attached.pop(server.id, None)

    action = project.begin(
        server,
        "detach_iso",
        duration=project.draw(project.spec.duration_for("detach_iso")),
        on_success=detached,
    )
    return Reply(201, {"action": render_action(action, req.now)})


# -- the server's side -----------------------------------------------------------------------


def _server_view(project: Project, server: Server, view: dict[str, Any]) -> None:
    iso_id = project.store(IsoState).attached.get(server.id)
    found = next((i for i in PUBLIC_ISOS if i.id == iso_id), None)
    view["iso"] = render_iso(found) if found is not None else None


def _server_deleted(project: Project, server: Server) -> None:
    project.store(IsoState).attached.pop(server.id, None)


def _ground_truth(project: Project) -> dict[str, int]:
    return {str(sid): iso_id for sid, iso_id in project.store(IsoState).attached.items()}


FAMILY = Family(
    name="isos",
    routes=(
        Route("GET", "/isos", list_isos),
        Route("GET", "/isos/{id}", get_iso),
        Route("POST", "/servers/{id}/actions/attach_iso", attach_iso, frozenset({"iso"})),
        Route("POST", "/servers/{id}/actions/detach_iso", detach_iso),
    ),
    server_view=_server_view,
    on_server_deleted=_server_deleted,
    ground_truth=_ground_truth,
)
