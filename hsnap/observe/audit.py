"""The freshness audit (pure): has every server a snapshot younger than the RPO, at what cost?

Input is what a read-only token can see (servers, every snapshot of the project, the image price)
and ``now``; output is an ``AuditReport``. A snapshot belongs to the server it was made from
(``created_from``), or, for hsnap's own, to the server its label names; snapshots whose server is
gone are listed apart, with what they cost. Any maker counts: a manual snapshot is a recovery
point too, and the report marks which ones are hsnap's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from hsnap.cloud.ties import Surroundings
from hsnap.models import ImagePrice, ImageRef, ServerRef
from hsnap.observe.cost import is_hsnaps, monthly_cost
from hsnap.observe.coverage import Uncovered, uncovered
from hsnap.policy import SERVER_ID_LABEL

DEFAULT_RPO_HOURS = 26.0
#: set on an image by a restore drill that proved it boots (value: the drill's date)
VERIFIED_LABEL = "hsnap/verified"


@dataclass(frozen=True)
class Holdings:
    """A group of snapshots: how many, how large, what they cost a month, when last proven."""

    count: int = 0
    size_gb: float = 0.0
    monthly: Decimal = Decimal(0)
    last_drill: date | None = None
    image_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class ServerAudit:
    """One existing server: its newest available snapshot and whether it meets the RPO."""

    server_id: int
    server: str
    newest_image_id: int | None
    newest_created: datetime | None
    newest_by_hsnap: bool | None
    age_hours: float | None
    meets_rpo: bool
    holdings: Holdings
    #: what no snapshot of it covers (volumes, addresses lost on delete, recipe, backups)
    uncovered: Uncovered = field(default_factory=Uncovered)


@dataclass(frozen=True)
class OrphanAudit:
    """Snapshots of a server that no longer exists (or of no known server)."""

    server_id: int | None
    server: str
    holdings: Holdings


@dataclass(frozen=True)
class AuditReport:
    """The whole audit; ``to_dict()`` is what ``hsnap audit --json`` prints."""

    now: datetime
    rpo_hours: float
    currency: str
    servers: tuple[ServerAudit, ...]
    orphans: tuple[OrphanAudit, ...]

    @property
    def breaches(self) -> tuple[ServerAudit, ...]:
        return tuple(s for s in self.servers if not s.meets_rpo)

    @property
    def never_snapshotted(self) -> tuple[ServerAudit, ...]:
        return tuple(s for s in self.servers if s.newest_image_id is None)

    @property
    def totals(self) -> Holdings:
        groups = [s.holdings for s in self.servers] + [o.holdings for o in self.orphans]
        return Holdings(
            count=sum(h.count for h in groups),
            size_gb=sum(h.size_gb for h in groups),
            monthly=sum((h.monthly for h in groups), Decimal(0)),
            last_drill=max((h.last_drill for h in groups if h.last_drill), default=None),
        )

    @property
    def uncovered_volume_gb(self) -> float:
        """GB of attached volume data that no snapshot covers (Hetzner cannot snapshot volumes)."""
        return float(sum(s.uncovered.volume_gb for s in self.servers))

    def to_dict(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "rpo_hours": self.rpo_hours,
            "currency": self.currency,
            "servers": [_server_dict(s) for s in self.servers],
            "orphans": [
                {"server_id": o.server_id, "server": o.server, **_holdings_dict(o.holdings)}
                for o in self.orphans
            ],
            "never_snapshotted": [s.server for s in self.never_snapshotted],
            "breaches": [s.server for s in self.breaches],
            "totals": {
                **_holdings_dict(self.totals),
                "uncovered_volume_gb": round(self.uncovered_volume_gb, 2),
            },
        }


def audit(
    servers: Sequence[ServerRef],
    snapshots: Iterable[ImageRef],
    price: ImagePrice,
    *,
    now: datetime,
    rpo_hours: float = DEFAULT_RPO_HOURS,
    around: Surroundings | None = None,
) -> AuditReport:
    """Audit every server in ``servers`` against ``rpo_hours`` as of ``now``.

    ``around`` (volumes, Primary IPs, backups) adds what snapshots do not cover.
    """
    by_server: dict[int | None, list[ImageRef]] = defaultdict(list)
    names: dict[int | None, str] = {}
    for image in snapshots:
        if image.image_type != "snapshot":
            continue
        owner = owner_of(image)
        by_server[owner].append(image)
        if image.created_from:
            names.setdefault(owner, image.created_from)
    existing = {s.id for s in servers}
    audits = tuple(
        _audit_server(
            s, by_server.get(s.id, []), price, now, rpo_hours, around=around or Surroundings()
        )
        for s in sorted(servers, key=lambda s: s.name)
    )
    orphans = tuple(
        OrphanAudit(owner, names.get(owner, _unnamed(owner)), _holdings(images, price))
        for owner, images in sorted(by_server.items(), key=lambda kv: kv[0] or 0)
        if owner not in existing
    )
    return AuditReport(now, rpo_hours, price.currency, audits, orphans)


def _unnamed(owner: int | None) -> str:
    return "(no server)" if owner is None else f"server {owner}"


def owner_of(image: ImageRef) -> int | None:
    """The id of the server a snapshot belongs to, when anything says so.

    hsnap's label first: ``restore --replace`` moves it to the server that replaced the one the
    snapshot was made from (the API's ``created_from`` keeps naming the deleted one).
    """
    text = image.labels.get(SERVER_ID_LABEL, "")
    if text.isdigit():
        return int(text)
    return image.created_from_id


def drill_date(image: ImageRef) -> date | None:
    """When a restore drill last proved this image boots (its ``hsnap/verified`` label)."""
    text = image.labels.get(VERIFIED_LABEL, "")
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _audit_server(
    server: ServerRef,
    images: list[ImageRef],
    price: ImagePrice,
    now: datetime,
    rpo_hours: float,
    *,
    around: Surroundings,
) -> ServerAudit:
    available = [i for i in images if i.status == "available" and i.created is not None]
    newest = max(available, key=lambda i: i.created or now, default=None)
    age = None
    if newest is not None and newest.created is not None:
        age = max((now - newest.created).total_seconds() / 3600, 0.0)
    return ServerAudit(
        server_id=server.id,
        server=server.name,
        newest_image_id=newest.id if newest else None,
        newest_created=newest.created if newest else None,
        newest_by_hsnap=is_hsnaps(newest) if newest else None,
        age_hours=age,
        meets_rpo=age is not None and age <= rpo_hours,
        holdings=_holdings(images, price),
        uncovered=uncovered(server.id, around, newest),
    )


def _holdings(images: list[ImageRef], price: ImagePrice) -> Holdings:
    return Holdings(
        count=len(images),
        size_gb=sum(i.image_size or 0.0 for i in images),
        monthly=sum((monthly_cost(i.image_size, price) for i in images), Decimal(0)),
        last_drill=max((d for i in images if (d := drill_date(i))), default=None),
        image_ids=tuple(sorted(i.id for i in images)),
    )


def _holdings_dict(h: Holdings) -> dict[str, Any]:
    return {
        "count": h.count,
        "size_gb": round(h.size_gb, 2),
        "monthly_cost": str(h.monthly.quantize(Decimal("0.0001"))),
        "last_drill": h.last_drill.isoformat() if h.last_drill else None,
        "image_ids": list(h.image_ids),
    }


def _server_dict(s: ServerAudit) -> dict[str, Any]:
    return {
        "server_id": s.server_id,
        "server": s.server,
        "newest_image_id": s.newest_image_id,
        "newest_created": s.newest_created.isoformat() if s.newest_created else None,
        "newest_by_hsnap": s.newest_by_hsnap,
        "age_hours": None if s.age_hours is None else round(s.age_hours, 2),
        "meets_rpo": s.meets_rpo,
        **_holdings_dict(s.holdings),
        "not_covered": s.uncovered.to_dict(),
    }
