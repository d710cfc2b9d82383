"""What snapshots do not cover, per server (pure): the audit's honest account of the rest.

A snapshot copies the server's local disk. It does not hold:
- attached volumes (Hetzner has no way to snapshot one): their data is in no backup at all;
- Primary IPs with ``auto_delete`` on: deleting the server releases the address for good
  (``hsnap keep-addresses`` turns it off);
- the recipe ``restore --replace`` needs (networks, firewalls, addresses, ...), unless hsnap
  recorded it on the snapshot;
- Hetzner Backups are recovery points too, but they die with the server.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hsnap.cloud.ties import Surroundings
from hsnap.models import ImageRef
from hsnap.snapshot.recipe import from_labels


def carries_replace_recipe(labels: Mapping[str, str]) -> bool:
    """True if an image's labels carry a recipe ``restore --replace`` can read (the one place the
    audit decides it)."""
    return from_labels(labels) is not None


@dataclass(frozen=True)
class Uncovered:
    """One server's part that no snapshot covers."""

    volumes: int = 0
    volume_gb: float = 0.0
    #: addresses of Primary IPs deleted with the server (``auto_delete`` on)
    lost_ips: tuple[str, ...] = ()
    #: does its newest snapshot carry the recipe ``--replace`` needs (None: no snapshot)
    recipe: bool | None = None
    #: Hetzner Backups: recovery points that are deleted with the server
    backups: int = 0
    newest_backup: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "volumes": self.volumes,
            "volume_gb": round(self.volume_gb, 2),
            "addresses_lost_on_delete": list(self.lost_ips),
            "newest_snapshot_has_recipe": self.recipe,
            "backups": self.backups,
            "newest_backup": self.newest_backup.isoformat() if self.newest_backup else None,
        }


def uncovered(server_id: int, around: Surroundings, newest: ImageRef | None) -> Uncovered:
    """What of ``server_id`` no snapshot covers, from the project's lists read once."""
    volumes = [v for v in around.volumes if v.server_id == server_id]
    backups = [
        b for b in around.backups if b.created_from_id == server_id and b.status == "available"
    ]
    return Uncovered(
        volumes=len(volumes),
        volume_gb=float(sum(v.size_gb for v in volumes)),
        lost_ips=tuple(
            sorted(p.ip for p in around.primary_ips if p.server_id == server_id and p.auto_delete)
        ),
        recipe=carries_replace_recipe(newest.labels) if newest is not None else None,
        backups=len(backups),
        newest_backup=max((b.created for b in backups if b.created), default=None),
    )
