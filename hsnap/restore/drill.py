"""One restore drill: boot a throwaway server from a snapshot, time it, delete it whatever happens.

The throwaway server carries ``managed-by=hsnap``, ``hsnap/drill=<run id>`` and
``hsnap/drill-of=<server id>`` and nothing else, and is quarantined from its first boot: no
public IPv4, no private network, hsnap's quarantine firewall applied in the create request itself
(``restore.quarantine``): a copy of production must not run production's jobs against the world.
On every path (success, boot failure, timeout, error, and so before
a Prefect retry) the servers of this run for this original are looked up by those labels (which
also finds one whose create answer was lost) and deleted, and their absence is confirmed. A drill
server left by a killed run is deleted by the next drill or ``hsnap recover`` (``clean_leftovers``)
once its run is no longer active.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from hsnap.clock import Deadline
from hsnap.cloud.client import Cloud
from hsnap.cloud.convert import NewServer
from hsnap.cloud.waiting import Log, ServerRun, fmt
from hsnap.errors import GoneError, HsnapError
from hsnap.models import ServerRef
from hsnap.restore.policy import (
    ANY_DRILL_SELECTOR,
    DRILL_LABEL,
    VERIFIED_LABEL,
    billed_cost,
    drill_labels,
    drill_name,
    drill_selector,
    is_drill_server,
    leftovers,
)
from hsnap.restore.quarantine import ensure_firewall
from hsnap.restore.servers import delete_and_confirm, wait_running

log = logging.getLogger(__name__)
DrillResult = Literal["proven", "failed", "skipped"]


@dataclass(frozen=True)
class DrillPlan:
    """One server's drill, decided before anything is created (plain values)."""

    server_id: int
    server: str
    location: str
    image_id: int
    image_created: datetime | None
    server_type: str
    hourly: str
    currency: str
    run_id: str
    boot_timeout_s: float
    delete_timeout_s: float = 600.0


@dataclass(frozen=True)
class DrillOutcome:
    """A row of the drill report."""

    server: str
    server_id: int | None
    result: DrillResult
    image_id: int | None = None
    image_created: str | None = None
    server_type: str | None = None
    time_to_running_s: float | None = None
    cost: str | None = None
    currency: str | None = None
    drill_server_id: int | None = None
    error_code: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class DrillError(Exception):
    """A drill did not prove its snapshot; ``outcome`` is its report row."""

    def __init__(self, outcome: DrillOutcome, transient: bool) -> None:
        super().__init__(f"{outcome.server}: {outcome.error}")
        self.outcome = outcome
        self.transient = transient

    def __reduce__(self) -> tuple[type[DrillError], tuple[DrillOutcome, bool]]:
        return (type(self), (self.outcome, self.transient))


def run_drill(cloud: Cloud, plan: DrillPlan, out: Log | None = None) -> DrillOutcome:
    """Boot a throwaway server from ``plan.image_id``; DrillError with the row if it failed."""
    original = ServerRun(cloud, ServerRef(plan.server_id, plan.server, "running"), out or log)
    started = cloud.clock.now()
    error: HsnapError | None = None
    running_s: float | None = None
    made: int | None = None
    try:
        spec = NewServer(  # quarantined: no IPv4, no network, hsnap's labels, its firewall
            name=drill_name(plan.server_id, plan.run_id),
            server_type=plan.server_type,
            image_id=plan.image_id,
            location=plan.location,
            labels=drill_labels(plan.run_id, plan.server_id),
            ipv4=False,
            firewall_ids=(ensure_firewall(cloud),),
        )
        created, action = cloud.create_server(spec)
        made = created.id
        original.say(
            "creating", "drill server %s (id %s) from image %s", created.name, made, plan.image_id
        )
        boot = Deadline(cloud.clock, plan.boot_timeout_s)
        wait_running(ServerRun(cloud, created.ref, original.log), action, boot, "create_server")
        running_s = cloud.clock.now() - started
        original.say("creating", "image %s booted in %s", plan.image_id, fmt(running_s))
        _mark_verified(cloud, plan.image_id, original.log)
    except HsnapError as exc:
        error = exc
    finally:
        deleted, cleanup_error = _delete_throwaways(cloud, plan, made, original.log)
    cost = billed_cost(Decimal(plan.hourly), cloud.clock.now() - started) if deleted else None
    if cleanup_error is not None:  # a server left behind is the more urgent news
        error = HsnapError(
            f"{error}; {cleanup_error}" if error else str(cleanup_error), code="left_behind"
        )
    outcome = _outcome(plan, running_s, cost, made, error)
    if error is not None:
        original.log.error("%s (id %s): drill failed: %s", plan.server, plan.server_id, error)
        raise DrillError(outcome, error.transient and cleanup_error is None)
    return outcome


def _outcome(
    plan: DrillPlan,
    running_s: float | None,
    cost: Decimal | None,
    made: int | None,
    error: HsnapError | None,
) -> DrillOutcome:
    return DrillOutcome(
        server=plan.server,
        server_id=plan.server_id,
        result="failed" if error is not None else "proven",
        image_id=plan.image_id,
        image_created=plan.image_created.isoformat() if plan.image_created else None,
        server_type=plan.server_type,
        time_to_running_s=round(running_s, 1) if running_s is not None else None,
        cost=f"{cost:.4f}" if cost is not None else None,
        currency=plan.currency,
        drill_server_id=made,
        error_code=error.code if error is not None else None,
        error=str(error) if error is not None else None,
    )


def _mark_verified(cloud: Cloud, image_id: int, out: Log) -> None:
    """Label the image ``hsnap/verified=<today>``; a failure here does not undo the proof."""
    today = datetime.now(UTC).date().isoformat()
    try:
        labels = cloud.get_image(image_id).labels
        cloud.set_image_labels(image_id, {**labels, VERIFIED_LABEL: today})
    except HsnapError as exc:
        out.warning("image %s booted but could not be labelled %s: %s", image_id, today, exc)


def _delete_throwaways(
    cloud: Cloud, plan: DrillPlan, made: int | None, out: Log
) -> tuple[int, HsnapError | None]:
    """Delete this run's drill servers for this original; (how many existed, first error)."""
    try:
        found = {s.id: s for s in cloud.list_servers(drill_selector(plan.run_id, plan.server_id))}
    except HsnapError as exc:
        found = {}
        out.warning("listing drill servers of %s failed: %s", plan.server, exc)
    if made is not None and made not in found:
        found[made] = ServerRef(made, drill_name(plan.server_id, plan.run_id), "unknown")
    problem: HsnapError | None = None
    for server in found.values():
        try:
            delete_and_confirm(
                ServerRun(cloud, server, out), Deadline(cloud.clock, plan.delete_timeout_s)
            )
            out.info("drill server %s (id %s) deleted", server.name, server.id)
        except HsnapError as exc:
            problem = problem or HsnapError(
                f"LEFT BEHIND: drill server {server.name} (id {server.id}) could not be "
                f"deleted ({exc}); the next drill or hsnap recover deletes it",
                code="left_behind",
            )
            out.error("%s", problem)
    return len(found), problem


CleanupResult = Literal["deleted", "failed", "skipped"]


@dataclass(frozen=True)
class Cleanup:
    """A drill server left behind by an earlier run, and what became of it."""

    server: str
    server_id: int
    run_id: str
    result: CleanupResult
    detail: str = ""


def clean_leftovers(
    cloud: Cloud,
    is_active: Callable[[str], bool],
    current_run: str | None,
    timeout_s: float = 600.0,
    out: Log | None = None,
) -> list[Cleanup]:
    """Delete drill servers whose run is neither ``current_run`` nor active (``is_active``)."""
    logger = out or log
    results: list[Cleanup] = []
    for server in leftovers(cloud.list_servers(ANY_DRILL_SELECTOR), is_active, current_run):
        run_id = server.labels[DRILL_LABEL]
        try:
            now = cloud.get_server(server.id)  # read again: delete only what still is a drill's
            if not is_drill_server(now.labels) or now.labels[DRILL_LABEL] != run_id:
                results.append(Cleanup(server.name, server.id, run_id, "skipped", "relabelled"))
                continue
            logger.warning(
                "drill server %s (id %s) of run %s left behind: deleting it",
                server.name,
                server.id,
                run_id,
            )
            delete_and_confirm(ServerRun(cloud, now, logger), Deadline(cloud.clock, timeout_s))
        except GoneError:
            results.append(Cleanup(server.name, server.id, run_id, "skipped", "already gone"))
            continue
        except HsnapError as exc:
            results.append(Cleanup(server.name, server.id, run_id, "failed", str(exc)))
            continue
        results.append(Cleanup(server.name, server.id, run_id, "deleted"))
    return results
