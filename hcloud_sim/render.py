"""Records to the API's JSON shapes (as in the official OpenAPI document)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hcloud_sim.clock import iso
from hcloud_sim.model import Action, Image, Server

if TYPE_CHECKING:
    from hcloud_sim.project import Project


def render_server_type(project: Project, name: str) -> dict[str, Any]:
    server_type = project.catalog.server_type(name)
    if server_type is None:  # seeding and POST /servers only accept types of the catalog
        raise LookupError(f"server type {name!r} is not in the catalog")
    return project.catalog.render_server_type(server_type)


def render_image(image: Image) -> dict[str, Any]:
    return {
        "id": image.id,
        "type": image.type,
        "status": image.status,
        "name": image.name,
        "description": image.description,
        "image_size": image.image_size,
        "disk_size": image.disk_size,
        "created": iso(image.created),
        "created_from": (
            {"id": image.created_from[0], "name": image.created_from[1]}
            if image.created_from
            else None
        ),
        "bound_to": image.bound_to,
        "os_flavor": image.os_flavor,
        "os_version": image.os_version,
        "rapid_deploy": image.type == "system",
        "protection": {"delete": image.protection_delete},
        "deprecated": iso(image.deprecated),
        "deleted": None,
        "labels": dict(image.labels),
        "architecture": image.architecture,
    }


def render_server(project: Project, server: Server) -> dict[str, Any]:
    """The server as the API shows it; each resource family adds what points at it."""
    from hcloud_sim.resources import families  # noqa: PLC0415 -- families import render

    view = _server_fields(project, server)
    for family in families():
        if family.server_view is not None:
            family.server_view(project, server, view)
    return view


def _server_fields(project: Project, server: Server) -> dict[str, Any]:
    image = project.images.get(server.image_id) if server.image_id else None
    return {
        "id": server.id,
        "name": server.name,
        "status": server.status,
        "created": iso(server.created),
        # the families fill it: Primary IPs (ipv4, ipv6), floating IPs, firewalls
        "public_net": {"ipv4": None, "ipv6": None, "floating_ips": [], "firewalls": []},
        "private_net": [],
        "server_type": render_server_type(project, server.server_type),
        "location": project.catalog.render_location(server.location),
        "image": render_image(image) if image is not None else None,
        "iso": None,
        "rescue_enabled": False,
        "locked": server.locked_flag,
        "backup_window": server.backup_window,
        "outgoing_traffic": 0,
        "ingoing_traffic": 0,
        "included_traffic": 21990232555520,
        "protection": {"delete": server.protection_delete, "rebuild": server.protection_rebuild},
        "labels": dict(server.labels),
        "volumes": [],
        "load_balancers": [],
        "primary_disk_size": server.disk_gb,
        "placement_group": None,
    }


def render_action(action: Action, now: float) -> dict[str, Any]:
    return {
        "id": action.id,
        "command": action.command,
        "status": action.status,
        "progress": action.progress(now),
        "started": iso(action.started),
        "finished": iso(action.finished),
        "resources": [{"id": rid, "type": kind} for rid, kind in action.resources],
        "error": {"code": action.error[0], "message": action.error[1]} if action.error else None,
    }
