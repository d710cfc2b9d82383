"""The Prefect task that snapshots one server: a thin adapter over ``hsnap.snapshot.take``."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run, task_run

from hsnap.cloud.client import Cloud
from hsnap.models import SnapshotOutcome
from hsnap.settings import load_settings
from hsnap.snapshot.session import session_of
from hsnap.snapshot.take import SnapshotPlan, take_snapshot
from hsnap.tasks.retry import retry_if_transient

RETRIES = 2
RETRY_DELAYS_S = [15.0, 60.0]


@task(
    name="snapshot-server",
    task_run_name="snapshot-{plan.server.name}",
    cache_policy=NO_CACHE,
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS_S,
    retry_condition_fn=retry_if_transient,
)
def snapshot_server(
    plan: SnapshotPlan, token_secret: str | None, project: str | None = None
) -> SnapshotOutcome:
    """Wait for the server to unlock, snapshot it once, wait until the image is available."""
    shared = session_of(plan.run_id)  # the run's one client; a task on its own builds one
    cloud = shared.cloud if shared is not None else Cloud(load_settings(token_secret, project))
    return take_snapshot(
        cloud,
        plan,
        images=shared.images if shared is not None else None,
        attempt=int(task_run.run_count or 1),
        may_resume=int(flow_run.run_count or 1) > 1,
        log=get_run_logger(),
    )
