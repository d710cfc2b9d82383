"""Prune hsnap's snapshots by a retention policy: gather the facts, plan, delete what the plan says.

The decisions are ``retention.plan_retention``'s; this module adds I/O and one more guard: right
before each delete it reads the image again and deletes it only if it still carries hsnap's
label, is not protected and is not being created, so an image hsnap did not make is never deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime, timedelta

from hsnap.cloud.client import Cloud
from hsnap.errors import CREDENTIAL_CODES, GoneError, HsnapError
from hsnap.models import ImageRef, PruneResult, PruneRow
from hsnap.policy import MANAGED_BY, MANAGED_BY_VALUE, SERVER_ID_LABEL
from hsnap.retention.policy import RetentionPolicy, SnapshotFacts, plan_retention

log = logging.getLogger(__name__)


def _is_managed(image: ImageRef) -> bool:
    return image.labels.get(MANAGED_BY) == MANAGED_BY_VALUE and image.image_type == "snapshot"


def _server_id(image: ImageRef) -> int | None:
    text = image.labels.get(SERVER_ID_LABEL, "")
    return int(text) if text.isdigit() else None


def plan_prune(
    cloud: Cloud,
    policy: RetentionPolicy,
    *,
    now: datetime,
    timezone: str,
    only_servers: Collection[int] | None = None,
    failed_servers: Collection[int] = (),
) -> list[PruneRow]:
    """Every managed snapshot (of ``only_servers`` if given) with its keep/delete decision."""
    images = [i for i in cloud.find_images(f"{MANAGED_BY}={MANAGED_BY_VALUE}") if _is_managed(i)]
    if only_servers is not None:
        wanted = set(only_servers)
        images = [i for i in images if _server_id(i) in wanted]
    existing = {s.id: s.name for s in cloud.list_servers()}
    by_id = {i.id: i for i in images}
    facts = [
        SnapshotFacts(
            image_id=i.id,
            server_id=_server_id(i),
            # no creation time: treat as newer than now, which retention keeps and never counts
            created=i.created or now + timedelta(seconds=1),
            status=i.status,
            protected=i.protected,
            managed=True,
            server_exists=_server_id(i) in existing,
            image_type=i.image_type,
        )
        for i in images
    ]
    decisions = plan_retention(facts, policy, now=now, tz=timezone, failed_servers=failed_servers)
    rows = []
    for d in decisions:
        image = by_id[d.image_id]
        name = (
            existing.get(d.server_id or -1)
            or image.created_from
            or (f"server {d.server_id}" if d.server_id else "unknown server")
        )
        rows.append(
            PruneRow(
                image_id=d.image_id,
                server_id=d.server_id,
                server=name,
                description=image.description,
                created=d.created.isoformat(),
                status=image.status,
                size_gb=image.image_size,
                action=d.action,
                reason=d.reason,
            )
        )
    return rows


def execute(cloud: Cloud, rows: list[PruneRow], *, dry_run: bool) -> list[PruneRow]:
    """Carry out a plan: delete what it says (unless ``dry_run``); returns rows with results.

    Raises the first refusal of the credentials (a read-only or invalid token): every other
    delete would be refused alike, so it stops there and says what to do once.
    """
    done: list[PruneRow] = []
    for row in rows:
        if row.action == "keep":
            done.append(_with(row, "kept"))
        elif dry_run:
            done.append(_with(row, "would delete"))
        else:
            done.append(_delete(cloud, row))
    return done


def _delete(cloud: Cloud, row: PruneRow) -> PruneRow:
    try:
        current = cloud.get_image(row.image_id)
    except GoneError:
        return _with(row, "skipped", "already gone")
    except HsnapError as exc:
        return _with(row, "failed", str(exc))
    if not _is_managed(current) or current.protected or current.status == "creating":
        why = "no longer hsnap's, protected or being created: left alone"
        log.warning("image %s (%s): %s", row.image_id, row.server, why)
        return _with(row, "skipped", why)
    try:
        cloud.delete_image(row.image_id)
    except GoneError:
        return _with(row, "skipped", "already gone")
    except HsnapError as exc:
        if exc.code in CREDENTIAL_CODES:
            raise
        log.error("image %s (%s): delete failed: %s", row.image_id, row.server, exc)  # noqa: TRY400 -- the message is the report
        return _with(row, "failed", str(exc))
    log.info("image %s (%s, %s): deleted (%s)", row.image_id, row.server, row.created, row.reason)
    return _with(row, "deleted")


def _with(row: PruneRow, result: PruneResult, error: str | None = None) -> PruneRow:
    return PruneRow(**{**row.to_dict(), "result": result, "error": error})
