"""The Prefect task that applies a retention policy to hsnap's own snapshots."""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from hsnap.cloud.client import Cloud
from hsnap.models import PruneRow
from hsnap.observe.events import emit_pruned
from hsnap.retention.policy import RetentionPolicy
from hsnap.retention.prune import execute, plan_prune
from hsnap.settings import load_settings
from hsnap.tasks.retry import retry_if_transient


@task(
    name="prune-snapshots",
    cache_policy=NO_CACHE,
    # once, at once (reads already retried with backoff), only for what is transient: a refused
    # token fails at once, and Prefect then logs no traceback for it (it does without retries)
    retries=1,
    retry_delay_seconds=0,
    retry_condition_fn=retry_if_transient,
)
def prune(
    policy: RetentionPolicy,
    timezone: str,
    only_servers: list[int] | None,
    failed_servers: list[int],
    dry_run: bool,
    token_secret: str | None,
    project: str | None = None,
) -> list[PruneRow]:
    """Plan retention over hsnap's snapshots and delete what it says (nothing when dry_run)."""
    log = get_run_logger()
    cloud = Cloud(load_settings(token_secret, project))
    rows = plan_prune(
        cloud,
        policy,
        now=datetime.now(UTC),
        timezone=timezone,
        only_servers=only_servers,
        failed_servers=failed_servers,
    )
    deleting = sum(1 for r in rows if r.action == "delete")
    log.info(
        "retention: %d managed snapshot(s), %d to delete%s",
        len(rows),
        deleting,
        " (dry run: nothing is deleted)" if dry_run else "",
    )
    done = execute(cloud, rows, dry_run=dry_run)
    for row in done:
        emit_pruned(row, project=cloud.settings.project, flow_run_id=_flow_run_id())
    return done


def _flow_run_id() -> str | None:
    return str(flow_run.id) if flow_run.id else None
