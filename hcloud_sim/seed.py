"""Build a project's initial world from its spec: system images, servers, images, actions."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Literal

from hcloud_labels import check_labels
from hcloud_sim.catalog import CatalogSpec, ServerTypeSpec
from hcloud_sim.errors import ApiError
from hcloud_sim.model import Image, Server
from hcloud_sim.resources import families
from hcloud_sim.spec import ProjectSpec, ServerSpec
from hcloud_sim.transitions import begin_transition, check_status

if TYPE_CHECKING:
    from hcloud_sim.project import Project

# name -> (os_flavor, os_version, description)
SYSTEM_IMAGES: dict[str, tuple[str, str, str]] = {
    "ubuntu-24.04": ("ubuntu", "24.04", "Ubuntu 24.04"),
    "ubuntu-22.04": ("ubuntu", "22.04", "Ubuntu 22.04"),
    "debian-12": ("debian", "12", "Debian 12"),
    "rocky-9": ("rocky", "9", "Rocky Linux 9"),
}


def _expand(spec: ServerSpec) -> list[ServerSpec]:
    if spec.count is None:
        return [spec]
    return [
        spec.model_copy(update={"name": spec.name.format(i=i), "count": None})
        for i in range(1, spec.count + 1)
    ]


def _check(spec: ServerSpec, catalog: CatalogSpec) -> None:
    if catalog.server_type(spec.server_type) is None:
        known = ", ".join(t.name for t in catalog.server_types)
        raise ValueError(
            f"server {spec.name!r}: unknown server_type {spec.server_type!r} (known: {known})"
        )
    if catalog.location(spec.location) is None:
        raise ValueError(
            f"server {spec.name!r}: unknown location {spec.location!r} "
            f"(known: {', '.join(catalog.locations)})"
        )
    if spec.image not in SYSTEM_IMAGES:
        raise ValueError(
            f"server {spec.name!r}: unknown image {spec.image!r} "
            f"(known: {', '.join(SYSTEM_IMAGES)})"
        )
    check_labels(spec.labels)


def check_project(spec: ProjectSpec, catalog: CatalogSpec) -> None:
    """Raise ValueError naming what in ``spec`` cannot be built (so a bad file fails at load)."""
    names: set[str] = set()
    for server_spec in (s for group in spec.servers for s in _expand(group)):
        _check(server_spec, catalog)
        check_status(server_spec)
        if len(server_spec.running_actions) > 1:
            raise ValueError(
                f"server {server_spec.name!r}: at most one running action (it holds the lock)"
            )
        if server_spec.name in names:
            raise ValueError(
                f"server name {server_spec.name!r} is used twice in project {spec.name!r}"
            )
        names.add(server_spec.name)
    for image_spec in spec.images:
        check_labels(image_spec.labels)
        if image_spec.server and image_spec.server not in names:
            raise ValueError(f"image {image_spec.description!r}: no server {image_spec.server!r}")
    for section in spec.families.values():  # what a family's section refers to: servers, ...
        check_refs = getattr(section, "check_refs", None)
        if check_refs is not None:
            check_refs(spec)


def seed_project(project: Project) -> None:
    """Populate ``project`` from ``project.spec`` at the simulator's current time."""
    sim, spec = project.sim, project.spec
    check_project(spec, project.catalog)
    now = sim.clock.now()
    system: dict[str, int] = {}
    for name, (flavor, version, desc) in SYSTEM_IMAGES.items():
        image = Image(
            id=sim.next_id("image"),
            type="system",
            status="available",
            description=desc,
            created=now - 400 * 86400,
            disk_size=5,
            name=name,
            os_flavor=flavor,
            os_version=version,
            image_size=None,
        )
        project.images[image.id] = image
        system[name] = image.id

    by_name: dict[str, Server] = {}
    for server_spec in (s for group in project.spec.servers for s in _expand(group)):
        server = _make_server(project, server_spec, system[server_spec.image], now)
        by_name[server.name] = server
        project.servers[server.id] = server
        for running in server_spec.running_actions:
            error = (running.error.code, running.error.message) if running.error else None
            duration = project.draw(running.duration)
            project.begin(
                server,
                running.command,
                duration=duration,
                error=error,
                started=now - running.elapsed,
            )
        begin_transition(project, server, server_spec, now)
        if server_spec.delete_after is not None:
            sim.schedule(now + server_spec.delete_after, _deleter(project, server.id))

    for image_spec in spec.images:
        source = by_name.get(image_spec.server) if image_spec.server else None
        flavor, version, _ = SYSTEM_IMAGES["ubuntu-24.04"]
        architecture = image_spec.architecture or (
            _architecture(project, source.server_type) if source else "x86"
        )
        image = Image(
            id=sim.next_id("image"),
            type=image_spec.type,
            status=image_spec.status,
            description=image_spec.description,
            name=image_spec.name,
            created=now - image_spec.age,
            disk_size=image_spec.disk or (source.disk_gb if source else 40),
            image_size=image_spec.size if image_spec.status == "available" else None,
            created_from=(source.id, source.name) if source else None,
            bound_to=source.id if source and image_spec.type == "backup" else None,
            os_flavor=flavor,
            os_version=version,
            protection_delete=image_spec.protected,
            labels=dict(image_spec.labels),
            architecture=architecture,
            boot=image_spec.boot,
        )
        project.images[image.id] = image

    _arm_system_images(project, by_name.values(), system, now)
    for family in families():  # in their order: networks before what attaches to them
        if family.seed is not None:
            family.seed(project, spec.families.get(family.name))


def _arm_system_images(
    project: Project, servers: Iterable[Server], x86: dict[str, int], now: float
) -> None:
    """The arm build of each system image, under the same name as the API has it. Made after the
    scenario's images so that their ids stay put; arm servers are moved onto them."""
    arm: dict[int, int] = {}
    for name, (flavor, version, desc) in SYSTEM_IMAGES.items():
        image = Image(
            id=project.sim.next_id("image"),
            type="system",
            status="available",
            description=desc,
            created=now - 400 * 86400,
            disk_size=5,
            name=name,
            os_flavor=flavor,
            os_version=version,
            architecture="arm",
        )
        project.images[image.id] = image
        arm[x86[name]] = image.id
    for server in servers:
        if server.image_id in arm and _architecture(project, server.server_type) == "arm":
            server.image_id = arm[server.image_id]


def _make_server(project: Project, spec: ServerSpec, image_id: int, now: float) -> Server:
    sid = project.sim.next_id("server")
    return Server(
        id=sid,
        name=spec.name,
        status=spec.status,
        created=now - spec.created_age,
        labels=dict(spec.labels),
        server_type=spec.server_type,
        location=spec.location,
        disk_gb=spec.disk or _type(project, spec.server_type).disk,
        image_id=image_id,
        protection_delete=spec.protection.get("delete", False),
        protection_rebuild=spec.protection.get("rebuild", False),
        backup_window=spec.backup_window,
        honours_acpi=spec.acpi == "honour",
        shutdown_delay=spec.shutdown_delay,
        snapshot_duration=spec.snapshot_duration,
        snapshot_error=(spec.snapshot_error.code, spec.snapshot_error.message)
        if spec.snapshot_error
        else None,
        snapshot_size_gb=spec.snapshot_size,
        boot=spec.boot,
    )


def _type(project: Project, name: str) -> ServerTypeSpec:
    server_type = project.catalog.server_type(name)
    if server_type is None:  # check_project ran first
        raise ValueError(f"unknown server type {name!r}")
    return server_type


def _architecture(project: Project, server_type: str) -> Literal["x86", "arm"]:
    return _type(project, server_type).architecture


def _deleter(project: Project, server_id: int) -> Callable[[float], None]:
    def delete(t: float) -> None:
        with contextlib.suppress(ApiError):  # already deleted through the control API
            project.delete_server(server_id, at=t)

    return delete
