"""The Prefect tasks of restores and drills: thin adapters over ``hsnap.restore``."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from hsnap.cloud.client import Cloud
from hsnap.restore.drill import Cleanup, DrillOutcome, DrillPlan, clean_leftovers, run_drill
from hsnap.restore.replace import ReplaceResult, replace
from hsnap.restore.replace_plan import plan_replace
from hsnap.restore.restore import RestoreRequest, RestoreResult, check_request, plan_restore
from hsnap.restore.restore import restore_in_place as rebuild_in_place
from hsnap.restore.restore import restore_new as create_restored
from hsnap.restore.selection import DrillOptions, Selection, select_drills
from hsnap.settings import load_settings
from hsnap.tasks.recover import run_is_active
from hsnap.tasks.retry import retry_if_transient

DRILL_RETRY_DELAYS_S = [30.0]


# no retries: a restore creates or rebuilds a server; a person decides whether to run it again
@task(name="restore-server", task_run_name="restore-{request.server}", cache_policy=NO_CACHE)
def restore(
    request: RestoreRequest, run_id: str, token_secret: str | None, project: str | None = None
) -> RestoreResult | ReplaceResult:
    """Check the request against the project, then restore (new server, in place, replace)."""
    cloud = Cloud(load_settings(token_secret, project))
    if request.replace:
        check_request(request)
        wanted = plan_replace(cloud, request.server, request.image_id, request.boot_timeout_s)
        return replace(cloud, wanted, get_run_logger())
    plan = plan_restore(cloud, request)
    if request.in_place:
        return rebuild_in_place(cloud, plan, run_id, get_run_logger())
    return create_restored(cloud, plan, get_run_logger())


@task(
    name="select-drills",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=[10.0, 30.0],
    retry_condition_fn=retry_if_transient,
)
def select(
    options: DrillOptions,
    label_selector: str | None,
    names: list[str],
    token_secret: str | None,
    project: str | None = None,
) -> Selection:
    """The servers this run drills (rotation), each with its snapshot and server type."""
    selection = select_drills(
        Cloud(load_settings(token_secret, project)), options, label_selector, names
    )
    get_run_logger().info(
        "%d drill(s) planned; %d server(s) not drilled this run",
        len(selection.plans),
        len(selection.rows),
    )
    return selection


@task(
    name="restore-drill",
    task_run_name="drill-{plan.server}",
    cache_policy=NO_CACHE,
    retries=1,
    retry_delay_seconds=DRILL_RETRY_DELAYS_S,
    retry_condition_fn=retry_if_transient,
)
def drill(plan: DrillPlan, token_secret: str | None, project: str | None = None) -> DrillOutcome:
    """Boot a throwaway server from the snapshot, time it, delete it (on every path)."""
    return run_drill(Cloud(load_settings(token_secret, project)), plan, get_run_logger())


@task(
    name="clean-drill-leftovers",
    cache_policy=NO_CACHE,
    retries=1,
    retry_delay_seconds=10,
    retry_condition_fn=retry_if_transient,
)
def clean_drill_leftovers(token_secret: str | None, project: str | None = None) -> list[Cleanup]:
    """Delete drill servers left behind by runs that are no longer active."""
    cloud = Cloud(load_settings(token_secret, project))
    results = clean_leftovers(cloud, run_is_active, str(flow_run.id), out=get_run_logger())
    for r in results:
        get_run_logger().warning(
            "drill server %s (id %s) of run %s: %s %s",
            r.server,
            r.server_id,
            r.run_id,
            r.result,
            r.detail,
        )
    return results
