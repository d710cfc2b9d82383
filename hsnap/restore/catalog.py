"""``hsnap snapshots SERVER``: a server's snapshots, who made them, why retention keeps them,
and when a drill last proved them; and its Hetzner Backups (recovery points too, ``restore
--image`` takes them, but they are deleted with the server)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from hsnap.cloud.client import Cloud
from hsnap.cloud.ties import backups
from hsnap.errors import ConfigError
from hsnap.formats import age_since
from hsnap.models import ServerDetails
from hsnap.policy import MANAGED_BY, MANAGED_BY_VALUE
from hsnap.restore.policy import made_from, verified_on
from hsnap.retention.policy import RetentionPolicy
from hsnap.retention.prune import plan_prune
from hsnap.tables import Column

NOT_OURS = "not hsnap's: never pruned"
BACKUP = "Hetzner Backup: 7 kept; deleted WITH the server"

#: ``hsnap snapshots`` as a table (see hsnap.tables): what gives way first at 80 columns
TABLE_COLUMNS = (
    Column("id", drop=0, right=True),
    Column("age", drop=0, right=True),
    Column("GB", drop=3, right=True),
    Column("status", drop=2),
    Column("made by", short="by", drop=4),
    Column("retention", drop=0),
    Column("last proven", short="proven", drop=1),
)


@dataclass(frozen=True)
class SnapshotRow:
    """One snapshot of a server, as ``hsnap snapshots`` lists it."""

    image_id: int
    created: str
    size_gb: float | None
    status: str
    maker: str
    description: str
    retention: str
    last_proven: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def list_snapshots(
    cloud: Cloud, name: str, policy: RetentionPolicy, *, timezone: str, now: datetime
) -> tuple[ServerDetails, list[SnapshotRow]]:
    """The server and its snapshots, newest first; ConfigError if there is no such server."""
    server = cloud.find_server_details(name)
    if server is None:
        raise ConfigError(f"no server named {name!r} in this project")
    images = [i for i in cloud.find_images() if made_from(i, server.id)]
    kept = [b for b in backups(cloud) if b.created_from_id == server.id]
    plan = plan_prune(cloud, policy, now=now, timezone=timezone, only_servers=[server.id])
    reasons = {r.image_id: r.reason for r in plan}
    rows = [
        SnapshotRow(
            image_id=i.id,
            created=i.created.isoformat() if i.created else "",
            size_gb=i.image_size,
            status=i.status,
            maker="hsnap" if i.labels.get(MANAGED_BY) == MANAGED_BY_VALUE else "other",
            description=i.description,
            retention=reasons.get(i.id, NOT_OURS),
            last_proven=str(verified_on(i.labels) or "never"),
        )
        for i in images
    ]
    rows += [
        SnapshotRow(
            image_id=b.id,
            created=b.created.isoformat() if b.created else "",
            size_gb=b.image_size,
            status=b.status,
            maker="backup",
            description=b.description,
            retention=BACKUP,
            last_proven=str(verified_on(b.labels) or "never"),
        )
        for b in kept
    ]
    rows.sort(key=lambda r: (r.created, r.image_id), reverse=True)
    return server, rows


def _proven(day: str, today: datetime) -> str:
    if not day or day == "never":
        return "never"
    days = (today.date() - datetime.fromisoformat(day).date()).days
    return "today" if days <= 0 else f"{days}d ago"


def table_rows(rows: list[SnapshotRow], now: datetime) -> list[dict[str, str]]:
    """The rows as :data:`TABLE_COLUMNS` show them: ages in ``3h`` / ``2d``, sizes in GB."""
    return [
        {
            "id": str(r.image_id),
            "age": age_since(r.created, now) if r.created else "still unknown",
            "GB": "" if r.size_gb is None else f"{r.size_gb:.2f}",
            "status": r.status,
            "made by": r.maker,
            "retention": r.retention,
            "last proven": _proven(r.last_proven, now),
        }
        for r in rows
    ]
