"""Which servers a drill proves this run, with which snapshot and on which server type.

Reads the servers, hsnap's snapshots, ``/server_types`` and ``/pricing`` once; the decisions are
``restore.policy``'s. Servers without an available hsnap snapshot, servers left for a later run
(``max_servers``), names that do not exist and images no offered type fits become report rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from hsnap.cloud.client import Cloud
from hsnap.models import ImageRef, PriceList, ServerTypeInfo
from hsnap.policy import MANAGED_BY, MANAGED_BY_VALUE, select
from hsnap.restore.drill import DrillOutcome, DrillPlan, DrillResult
from hsnap.restore.policy import (
    Candidate,
    cheapest_fit,
    last_proven,
    newest_available,
    rotation,
    snapshot_of,
)


@dataclass(frozen=True)
class DrillOptions:
    """A drill run's knobs, as the flow received them."""

    run_id: str
    max_servers: int = 5
    boot_timeout_s: float = 600.0
    delete_timeout_s: float = 600.0


@dataclass
class Selection:
    """The drills to run, and the rows of servers that will not be drilled this run."""

    plans: list[DrillPlan] = field(default_factory=list)
    rows: list[DrillOutcome] = field(default_factory=list)


def select_drills(
    cloud: Cloud,
    options: DrillOptions,
    label_selector: str | None = None,
    names: Sequence[str] = (),
) -> Selection:
    """Plan this run's drills: the rotation's choice, each with the cheapest type that fits."""
    chosen, missing = select(cloud.list_servers(label_selector), names)
    images = cloud.find_images(f"{MANAGED_BY}={MANAGED_BY_VALUE}")
    result = Selection()
    for name in missing:
        result.rows.append(_row(name, None, "failed", "not_found", f"no server named {name!r}"))
    candidates = []
    for server in chosen:
        mine = [i for i in images if snapshot_of(i, server.id)]
        newest = newest_available(mine)
        if newest is None:
            why = "no available hsnap snapshot to prove yet"
            result.rows.append(_row(server.name, server.id, "skipped", "no_snapshot", why))
        else:
            candidates.append(Candidate(server, newest, last_proven(mine)))
    picked = rotation(candidates, options.max_servers)
    for later in [c for c in candidates if c not in picked]:
        why = f"proven {later.last_proven or 'never'}; left for a later run (max_servers)"
        result.rows.append(_row(later.server.name, later.server.id, "skipped", "deferred", why))
    if picked:
        catalog = (cloud.server_types(), cloud.pricing())
        for candidate in picked:
            planned = _plan_one(cloud, candidate, options, catalog)
            if isinstance(planned, DrillPlan):
                result.plans.append(planned)
            else:
                result.rows.append(planned)
    return result


def _plan_one(
    cloud: Cloud,
    candidate: Candidate,
    options: DrillOptions,
    catalog: tuple[list[ServerTypeInfo], PriceList],
) -> DrillPlan | DrillOutcome:
    """The drill of one candidate, or its failed row when no offered type fits its image."""
    server, image = candidate.server, candidate.image
    types, prices = catalog
    details = cloud.server_details(server.id)
    disk = image.disk_size if image.disk_size is not None else details.disk_gb
    fit = cheapest_fit(
        types, prices, architecture=image.architecture, disk_gb=disk, location=details.location
    )
    if fit is None:
        why = (
            f"no server type offered in {details.location} fits image {image.id} "
            f"({image.architecture}, {disk:g} GB disk)"
        )
        return _row(server.name, server.id, "failed", "no_server_type", why, image=image)
    return DrillPlan(
        server_id=server.id,
        server=server.name,
        location=details.location,
        image_id=image.id,
        image_created=image.created,
        server_type=fit.server_type,
        hourly=str(fit.hourly),
        currency=fit.currency,
        run_id=options.run_id,
        boot_timeout_s=options.boot_timeout_s,
        delete_timeout_s=options.delete_timeout_s,
    )


def _row(
    name: str,
    server_id: int | None,
    result: DrillResult,
    code: str,
    error: str,
    *,
    image: ImageRef | None = None,
) -> DrillOutcome:
    created: datetime | None = image.created if image else None
    return DrillOutcome(
        server=name,
        server_id=server_id,
        result=result,
        image_id=image.id if image else None,
        image_created=created.isoformat() if created else None,
        error_code=code,
        error=error,
    )
