"""Prefect events for every outcome hsnap reaches, named ``hsnap.<thing>.<outcome>``.

The resource is the Hetzner server (``hcloud.server.<id>``, with its name and project); related
resources are the flow run and the image. Automations (stale-server and failed-run alerts) and the
Event Feed read them. Emitting never fails the caller: an event that cannot be sent is logged.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from hsnap.models import PruneRow, SnapshotOutcome

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


def outcome_events(outcome: SnapshotOutcome) -> list[EventName]:
    """The events one server's outcome stands for (none for a dry run or an unknown server).

    A server left powered off whose snapshot became available gets both: the snapshot is a
    recovery point (the stale-server alert must not fire) and the server needs a person.
    """
    events: list[EventName] = []
    if outcome.server_id is None or outcome.status == "planned":
        return events
    # a left-off outcome carries a size only when its snapshot became available
    available = outcome.status == "left-off" and outcome.image_size_gb is not None
    if outcome.status == "succeeded" or available:
        events.append("hsnap.snapshot.succeeded")
    if outcome.status == "failed":
        events.append("hsnap.snapshot.failed")
    if outcome.status == "left-off":
        events.append("hsnap.server.left-off")
    return events


def emit_outcome(outcome: SnapshotOutcome, *, project: str, flow_run_id: str | None) -> None:
    """Emit what happened to one server in a snapshot run."""
    if outcome.server_id is None:
        return  # no server resource to speak of: the run's report names it
    for event in outcome_events(outcome):
        emit_server_event(
            event,
            server_id=outcome.server_id,
            server_name=outcome.server,
            project=project,
            image_id=outcome.image_id,
            flow_run_id=flow_run_id,
            payload={
                "size_gb": outcome.image_size_gb,
                "lock_wait_s": outcome.lock_wait_s,
                "error_code": outcome.error_code,
                "error": outcome.error,
                "attempts": outcome.attempts,
            },
        )


def emit_pruned(row: PruneRow, *, project: str, flow_run_id: str | None) -> None:
    """Emit the deletion of one of hsnap's snapshots by retention (only for a real delete)."""
    if row.result != "deleted" or row.server_id is None:
        return
    emit_server_event(
        "hsnap.snapshot.pruned",
        server_id=row.server_id,
        server_name=row.server,
        project=project,
        image_id=row.image_id,
        flow_run_id=flow_run_id,
        payload={"size_gb": row.size_gb, "reason": row.reason, "created": row.created},
    )
