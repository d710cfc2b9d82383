"""The fleet flow: one snapshot run per Hetzner project, on any worker of the pool; one report."""

from __future__ import annotations

import time
from typing import Annotated, Any
from uuid import UUID

from prefect import State, flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
from prefect.settings import get_current_settings
from prefect.states import Completed, Failed
from pydantic import Field

from hsnap.deployment.trigger import report_rows
from hsnap.errors import ConfigError
from hsnap.projects.fleet import FLEET_COLUMNS, ChildRun, fleet_row, fleet_verdict
from hsnap.projects.registry import check_name, project_names

#: the deployment each project's run goes through: no deployment-wide limit (the projects run
#: side by side); the per-project limit inside the snapshot flow keeps one run per project
MEMBER_DEPLOYMENT = "snapshot-servers/fleet-member"
POLL_S = 1.0  # one cheap API read for all project runs


@flow(name="snapshot-fleet", validate_parameters=True)
def snapshot_fleet(
    projects: list[str] | None = None,
    run_parameters: dict[str, Any] | None = None,
    deployment: str = MEMBER_DEPLOYMENT,
    timeout_minutes: Annotated[float, Field(gt=0, le=7 * 24 * 60)] = 24 * 60.0,
) -> State[Any]:
    """Snapshot every Hetzner project (or the given ones): one run per project, one fleet report.

    Each project's run is a deployment run any worker of the pool can take; they run side by
    side, at most one per project. A project that fails (a bad token, a failed server, a worker
    that died) fails alone; the fleet ends Failed naming it and its servers.

    Args:
        projects: HetznerProject block names; default every project.
        run_parameters: snapshot flow parameters for every project's run (e.g. label_selector,
            lock_wait_minutes, retention); ``project`` is set per run.
        deployment: the snapshot deployment each project's run goes through.
        timeout_minutes: how long to wait for the project runs; one still running then fails.
    """
    log = get_run_logger()
    names = sorted(set(projects)) if projects is not None else project_names()
    for name in names:
        check_name(name)
    if not names:
        log.warning(fleet_verdict([]))
        return _publish([])
    started = {name: _start(deployment, name, run_parameters or {}) for name in names}
    log.info("started %d project run(s) on %s", len(started), deployment)
    runs = _wait_all(list(started.values()), timeout_minutes * 60)
    return _publish([_child(name, run_id, runs.get(run_id)) for name, run_id in started.items()])


def _start(deployment: str, project: str, parameters: dict[str, Any]) -> UUID:
    """Start the project's run and return at once (a worker picks it up)."""
    try:
        run: Any = run_deployment(
            deployment,
            parameters={**parameters, "project": project},
            timeout=0,
            tags=["hsnap", f"project:{project}"],
        )
    except ObjectNotFound:
        raise ConfigError(f"no deployment {deployment!r}: run hsnap setup first") from None
    get_run_logger().info("project %s: flow run %s (%s)", project, run.name, run.id)
    return UUID(str(run.id))


def _wait_all(ids: list[UUID], timeout_s: float) -> dict[UUID, FlowRun]:
    """Poll the runs until every one is final or the time is up; their last known states."""
    deadline = time.monotonic() + timeout_s
    while True:
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)), limit=len(ids)
            )
        by_id = {run.id: run for run in runs}
        done = all(r.state is not None and r.state.is_final() for r in by_id.values())
        if (done and len(by_id) == len(ids)) or time.monotonic() > deadline:
            return by_id
        time.sleep(POLL_S)


def _child(project: str, run_id: UUID, run: FlowRun | None) -> ChildRun:
    state = run.state if run else None
    final = bool(state and state.is_final())
    name = (state.name or state.type.value) if state else "not started"
    ui = get_current_settings().ui_url
    return ChildRun(
        project=project,
        state=name if final or not state else f"still {name}",
        message=state.message if state else None,
        rows=report_rows(str(run_id)) if final else [],
        link=f"{ui}/runs/flow-run/{run_id}" if ui else str(run_id),
    )


def _publish(children: list[ChildRun]) -> State[Any]:
    """The fleet-report table; Failed naming project and server when any project failed."""
    verdict = fleet_verdict(children)
    table = [fleet_row(c) for c in children]
    create_table_artifact(table=table, key="fleet-report", description=verdict)
    get_run_logger().info(verdict)
    data = {"projects": table, "columns": list(FLEET_COLUMNS)}
    if any(not c.ok for c in children):
        return Failed(message=verdict, data=data)
    return Completed(message=verdict, data=data)


if __name__ == "__main__":
    # Needs PREFECT_API_URL, hsnap setup and a worker on the hsnap pool.
    print(snapshot_fleet(return_state=True))
