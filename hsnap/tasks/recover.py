"""The Prefect task that restores power to servers an interrupted consistent run left off."""

from __future__ import annotations

from uuid import UUID

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound
from prefect.runtime import flow_run

from hsnap.cloud.client import Cloud
from hsnap.cloud.waiting import ServerRun
from hsnap.models import ServerRef
from hsnap.policy import RESTART_LABEL
from hsnap.settings import load_settings
from hsnap.snapshot.recovery import Recovery, recover
from hsnap.tasks.retry import retry_if_transient

POWER_ON_TIMEOUT_S = 3600.0


def run_is_active(run_id: str) -> bool:
    """True when ``run_id`` is another flow run that has not finished (it will restore itself)."""
    if not run_id or run_id == str(flow_run.id):
        return False
    try:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(UUID(run_id)).state
    except (ValueError, ObjectNotFound):
        return False  # not a run this Prefect knows: nobody else will restore the server
    return state is not None and not state.is_final()


@task(
    name="recover-servers",
    cache_policy=NO_CACHE,
    retries=1,
    retry_delay_seconds=10,
    retry_condition_fn=retry_if_transient,
)
def recover_servers(
    token_secret: str | None,
    project: str | None = None,
    after_run: bool = False,
    skip: list[int] | None = None,
) -> list[Recovery]:
    """Find servers marked ``hsnap/restart`` by a run that is no longer active and power them on.

    Args:
        after_run: the check at the end of a snapshot run: only marked servers that do not run
            (a running one keeps its mark: its guest got a shutdown it may still act on).
        skip: ids of servers already reported left off (no second hour of trying).
    """
    log = get_run_logger()
    settings = load_settings(token_secret, project)
    cloud = Cloud(settings)
    marked = cloud.list_servers(RESTART_LABEL)
    if after_run:
        marked = [s for s in marked if s.status != "running" and s.id not in (skip or [])]
    if not marked:
        return []
    log.warning("%d server(s) still marked for restart by a run", len(marked))

    def server_run(server: ServerRef) -> ServerRun:
        # one client per thread: recovery handles every server at once
        return ServerRun(Cloud(settings, cloud.clock), server, log)

    results = recover(server_run, marked, run_is_active, POWER_ON_TIMEOUT_S)
    for r in results:
        log.warning("%s (id %s): recovery %s %s", r.server, r.server_id, r.result, r.detail)
    return results
