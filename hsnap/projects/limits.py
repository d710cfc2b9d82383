"""One snapshot run per Hetzner project at a time, whichever deployment or worker started it.

Two runs on one project would wait on each other's snapshot locks and share one rate budget.
Prefect's global concurrency limit ``hsnap-project-<name>`` (one slot) serialises them on the
server, so it holds across deployments (nightly, on-demand, the fleet's children), workers and
machines. The slot is leased: a run that dies without a goodbye (its worker was killed) frees its
project when the lease runs out, ``LEASE_S`` after the last renewal (the server's repossessor
service reclaims it). A server that lost its leases (a restart) or runs no repossessor keeps the
slot taken: ``free_project_slot`` (or ``prefect gcl update hsnap-project-<name> --active-slots
0``) frees it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager, suppress

log = logging.getLogger(__name__)

LIMIT_PREFIX = "hsnap-project-"
#: seconds a slot outlives a run that stopped renewing it (Prefect renews it while the run lives)
LEASE_S = 60.0


def limit_name(project: str) -> str:
    """The name of the project's global concurrency limit."""
    return f"{LIMIT_PREFIX}{project}"


def ensure_project_limit(project: str) -> bool:
    """The project's limit exists with one slot; True if it was created or changed."""
    from prefect.client.orchestration import get_client  # noqa: PLC0415 -- Prefect loads slowly
    from prefect.client.schemas.actions import (  # noqa: PLC0415
        GlobalConcurrencyLimitCreate,
        GlobalConcurrencyLimitUpdate,
    )
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound  # noqa: PLC0415

    name = limit_name(project)
    with get_client(sync_client=True) as client:
        try:
            current = client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            try:
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=1, active=True)
                )
            except ObjectAlreadyExists:  # another run created it just now
                return False
            return True
        if current.limit == 1 and current.active:
            return False
        # more slots would let two runs race on one project's locks and budget
        client.update_global_concurrency_limit(
            name, GlobalConcurrencyLimitUpdate(limit=1, active=True)
        )
        return True


@contextmanager
def project_slot(project: str) -> Iterator[None]:
    """Hold the project's only slot while the block runs (waits while another run holds it).

    Without a configured Prefect server (``hsnap run`` on Prefect's temporary server) there is
    no slot: no deployment or worker shares that server, and it runs no service that would
    reclaim the slot of a run that was killed, so one killed run would block every later one.
    """
    from prefect.concurrency.sync import concurrency  # noqa: PLC0415
    from prefect.settings import get_current_settings  # noqa: PLC0415

    if not get_current_settings().api.url:
        yield
        return
    ensure_project_limit(project)
    log.info("taking project %s's run slot (limit %s)", project, limit_name(project))
    with concurrency(
        limit_name(project),
        occupy=1,
        strict=True,  # a limit that vanished must not let two runs race
        lease_duration=LEASE_S,
        # a lost renewal (an API blip) must not kill a run that is half-way through its servers
        raise_on_lease_renewal_failure=False,
    ):
        yield


def remove_project_limit(project: str) -> None:
    """Delete the project's limit, when it has one (its block is being removed)."""
    from prefect.client.orchestration import get_client  # noqa: PLC0415 -- Prefect loads slowly
    from prefect.exceptions import ObjectNotFound  # noqa: PLC0415

    with get_client(sync_client=True) as client, suppress(ObjectNotFound):
        client.delete_global_concurrency_limit_by_name(limit_name(project))


def free_project_slot(project: str) -> None:
    """Mark the project's slot free (for a holder known to be dead whose lease nobody reclaims)."""
    from prefect.client.orchestration import get_client  # noqa: PLC0415
    from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate  # noqa: PLC0415

    with get_client(sync_client=True) as client:
        client.update_global_concurrency_limit(
            limit_name(project), GlobalConcurrencyLimitUpdate(active_slots=0)
        )
