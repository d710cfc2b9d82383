"""Prefect events for every outcome hsnap reaches, named ``hsnap.<thing>.<outcome>``.

The resource is the Hetzner server (``hcloud.server.<id>``, with its name and project); related
resources are the flow run and the image. Automations (stale-server and failed-run alerts) and the
Event Feed read them. Emitting never fails the caller: an event that cannot be sent is logged.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

log = logging.getLogger(__name__)

EventName = Literal[
    "hsnap.snapshot.succeeded",
    "hsnap.snapshot.failed",
    "hsnap.server.left-off",
    "hsnap.snapshot.pruned",
    "hsnap.drill.succeeded",
    "hsnap.drill.failed",
]


def server_resource(server_id: int, server_name: str, project: str) -> dict[str, str]:
    """The event resource for one Hetzner server."""
    return {
        "prefect.resource.id": f"hcloud.server.{server_id}",
        "prefect.resource.name": server_name,
        "hcloud.project": project,
    }


def emit_server_event(
    event: EventName,
    *,
    server_id: int,
    server_name: str,
    project: str,
    image_id: int | None = None,
    flow_run_id: str | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """Emit ``event`` about one server; related: its flow run and image, when known."""
    from prefect.events import emit_event  # noqa: PLC0415 -- keeps the core importable fast

    related: list[dict[str, str]] = []
    if flow_run_id:
        related.append(
            {
                "prefect.resource.id": f"prefect.flow-run.{flow_run_id}",
                "prefect.resource.role": "flow-run",
            }
        )
    if image_id is not None:
        related.append(
            {"prefect.resource.id": f"hcloud.image.{image_id}", "prefect.resource.role": "image"}
        )
    body = {"image_id": image_id, **(payload or {})}
    try:
        emit_event(
            event=event,
            resource=server_resource(server_id, server_name, project),
            related=related,
            payload=body,
        )
    except Exception:  # noqa: BLE001 -- an event is a report, never a reason to fail a snapshot
        log.warning("could not emit %s for server %s (id %s)", event, server_name, server_id)
