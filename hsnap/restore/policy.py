"""Pure decisions for restores and drills. No I/O: the caller passes what it read and ``now``.

- The throwaway server of a drill is the cheapest server type that fits the image: same
  architecture, a disk at least the image's disk size, offered in the location, priced there.
  Types and prices come from the API (``/server_types``, ``/pricing``), never from this file.
- A drill is billed per started hour of the throwaway server's life (the minimum is one hour).
- The servers whose snapshots were proven longest ago (never proven first) are drilled first, at
  most ``max_servers`` a run, so weekly runs rotate through the whole fleet.
- A cleanup deletes only servers labelled ``managed-by=hsnap`` and ``hsnap/drill=<run id>`` whose
  run is neither this one nor active.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from hsnap.models import ImageRef, PriceList, ServerRef, ServerTypeInfo
from hsnap.policy import MANAGED_BY, MANAGED_BY_VALUE, SERVER_ID_LABEL

#: on a throwaway server: the flow run of the drill that made it
DRILL_LABEL = "hsnap/drill"
#: on a throwaway server: the id of the server whose snapshot it proves
DRILL_OF_LABEL = "hsnap/drill-of"
#: on an image: the date (UTC, YYYY-MM-DD) a drill last booted a server from it
VERIFIED_LABEL = "hsnap/verified"
OWN_PREFIX = "hsnap/"
SECONDS_PER_HOUR = 3600


@dataclass(frozen=True)
class Fit:
    """The server type chosen for an image in a location, and its hourly price there."""

    server_type: str
    disk_gb: float
    hourly: Decimal
    currency: str


def cheapest_fit(
    types: Iterable[ServerTypeInfo],
    prices: PriceList,
    *,
    architecture: str,
    disk_gb: float,
    location: str,
) -> Fit | None:
    """The cheapest type that can boot the image in ``location``; None if no type fits.

    Ties go to the smaller disk, then the name, so the choice is stable from run to run.
    """
    fits = [
        Fit(t.name, t.disk_gb, Decimal(prices.hourly[(t.name, location)]), prices.currency)
        for t in types
        if t.architecture == architecture
        and t.disk_gb >= disk_gb
        and location in t.locations
        and not t.deprecated
        and (t.name, location) in prices.hourly
    ]
    if not fits:
        return None
    return min(fits, key=lambda f: (f.hourly, f.disk_gb, f.server_type))


def billed_cost(hourly: Decimal, seconds: float) -> Decimal:
    """What a server that lived ``seconds`` costs, billed per started hour (at least one)."""
    hours = max(1, math.ceil(max(0.0, seconds) / SECONDS_PER_HOUR))
    return hourly * hours


def drill_labels(run_id: str, server_id: int) -> dict[str, str]:
    """The labels of a throwaway drill server: hsnap's, this run's, the original's id."""
    return {MANAGED_BY: MANAGED_BY_VALUE, DRILL_LABEL: run_id, DRILL_OF_LABEL: str(server_id)}


def drill_selector(run_id: str, server_id: int) -> str:
    """Label selector for the throwaway servers of one run for one original server."""
    return ",".join(f"{k}={v}" for k, v in drill_labels(run_id, server_id).items())


#: label selector for every drill server of every run
ANY_DRILL_SELECTOR = f"{MANAGED_BY}={MANAGED_BY_VALUE},{DRILL_LABEL}"


def drill_name(server_id: int, run_id: str) -> str:
    """A server name unique per run and original (a valid hostname, well under 63 chars)."""
    short = "".join(c for c in run_id.lower() if c.isalnum())[:8] or "run"
    return f"hsnap-drill-{short}-{server_id}"


def restored_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """The original's labels without hsnap's own (a restored server is the user's, not hsnap's)."""
    return {
        k: v
        for k, v in labels.items()
        if not k.startswith(OWN_PREFIX) and not (k == MANAGED_BY and v == MANAGED_BY_VALUE)
    }


def is_drill_server(labels: Mapping[str, str]) -> bool:
    """True only for a server hsnap made for a drill (both labels, a run id)."""
    return labels.get(MANAGED_BY) == MANAGED_BY_VALUE and bool(labels.get(DRILL_LABEL))


def leftovers(
    servers: Iterable[ServerRef], is_active: Callable[[str], bool], current_run: str | None
) -> list[ServerRef]:
    """Drill servers a cleanup may delete: their run is not this one and not active."""
    return [
        s
        for s in servers
        if is_drill_server(s.labels)
        and s.labels[DRILL_LABEL] != current_run
        and not is_active(s.labels[DRILL_LABEL])
    ]


def verified_on(labels: Mapping[str, str]) -> date | None:
    """The date in an image's ``hsnap/verified`` label, or None (absent or unreadable)."""
    try:
        return date.fromisoformat(labels.get(VERIFIED_LABEL, ""))
    except ValueError:
        return None


def snapshot_of(image: ImageRef, server_id: int) -> bool:
    """True if hsnap made ``image`` of this server."""
    return (
        image.labels.get(MANAGED_BY) == MANAGED_BY_VALUE
        and image.labels.get(SERVER_ID_LABEL) == str(server_id)
        and image.image_type == "snapshot"
    )


def made_from(image: ImageRef, server_id: int) -> bool:
    """True if ``image`` is a snapshot of this server, by hsnap or anyone else."""
    return snapshot_of(image, server_id) or image.created_from_id == server_id


def newest_available(images: Iterable[ImageRef]) -> ImageRef | None:
    """The newest available image (one without a creation time counts as oldest)."""
    ready = [i for i in images if i.status == "available"]
    if not ready:
        return None
    return max(ready, key=lambda i: (i.created.timestamp() if i.created else -math.inf, i.id))


def last_proven(images: Iterable[ImageRef]) -> date | None:
    """When any of a server's snapshots was last proven by a drill."""
    dates = [d for d in (verified_on(i.labels) for i in images) if d is not None]
    return max(dates) if dates else None


@dataclass(frozen=True)
class Candidate:
    """A server a drill may prove: its newest available hsnap snapshot, and its last proof."""

    server: ServerRef
    image: ImageRef
    last_proven: date | None


def rotation(candidates: Sequence[Candidate], max_servers: int) -> list[Candidate]:
    """At most ``max_servers`` candidates, never proven first, then the longest ago; by name."""
    ordered = sorted(candidates, key=lambda c: (c.last_proven or date.min, c.server.name))
    return ordered[: max(0, max_servers)]
