"""The restore drill: prove that snapshots boot, by booting them in throwaway servers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from prefect import State, flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run
from prefect.states import Completed, Failed
from pydantic import Field

from hsnap.flows.fan_out import each_completed
from hsnap.flows.local_run import run_and_read
from hsnap.observe.events import emit_server_event
from hsnap.policy import check_selector
from hsnap.restore import report
from hsnap.restore.drill import DrillError, DrillOutcome, DrillPlan
from hsnap.restore.selection import DrillOptions
from hsnap.settings import DEFAULT_TOKEN_SECRET, load_settings
from hsnap.tasks.restore import DRILL_RETRY_DELAYS_S, clean_drill_leftovers, drill, select


@flow(name="verify-snapshots", validate_parameters=True)
def verify_snapshots(
    label_selector: str | None = None,
    servers: list[str] | None = None,
    max_servers: Annotated[int, Field(ge=1, le=100)] = 5,
    max_concurrency: Annotated[int, Field(ge=1, le=20)] = 2,
    boot_wait_minutes: Annotated[float, Field(gt=0, le=24 * 60)] = 10.0,
    delete_wait_minutes: Annotated[float, Field(gt=0, le=24 * 60)] = 10.0,
    token_secret: str = DEFAULT_TOKEN_SECRET,
    project: str | None = None,
) -> State[Any]:
    """Restore drill: boot each server's newest hsnap snapshot in a throwaway server; delete it.

    Proves at most max_servers snapshots a run, those proven longest ago first; each throwaway
    server is the cheapest type that fits, is labelled hsnap/drill, is quarantined from its
    first boot (no IPv4, no network, hsnap's firewall), and is deleted on every path.
    Fails, naming the snapshots that did not boot; see the drill-report artifact (time and cost).

    Args:
        label_selector: only servers matching it (Hetzner syntax).
        servers: only these server names.
        max_servers: at most this many drills per run (the rotation covers the rest later).
        max_concurrency: throwaway servers alive at the same time.
        boot_wait_minutes: how long a throwaway server may take to run before the drill fails.
        delete_wait_minutes: how long deleting a throwaway server may take.
        token_secret: Prefect Secret block with the API token, used when HCLOUD_TOKEN is unset.
        project: a HetznerProject block (token and endpoint) instead of the two above.
    """
    check_selector(label_selector)
    settings = load_settings(token_secret, project)
    run_id = str(flow_run.id or uuid.uuid4())
    clean_drill_leftovers(token_secret, project)
    options = DrillOptions(
        run_id=run_id,
        max_servers=max_servers,
        boot_timeout_s=boot_wait_minutes * 60,
        delete_timeout_s=delete_wait_minutes * 60,
    )
    selection = select(options, label_selector, servers or [], token_secret, project)
    scaled = [d / settings.time_scale for d in DRILL_RETRY_DELAYS_S]
    task = drill.with_options(retry_delay_seconds=scaled)
    outcomes = _drill_all(task, selection.plans, (token_secret, project), max_concurrency)
    for outcome in outcomes:
        _emit(outcome, settings.project, run_id)
    rows = sorted([*outcomes, *selection.rows], key=lambda o: o.server)
    return _publish(rows)


def _drill_all(
    task: Any,
    plans: list[DrillPlan],
    source: tuple[str | None, str | None],
    max_concurrency: int,
) -> list[DrillOutcome]:
    """Every drill, at most ``max_concurrency`` at once; waits for all of them."""
    if not plans:
        return []
    arguments = {"token_secret": source[0], "project": source[1]}
    return [
        _outcome(plan, value)
        for plan, value in each_completed(task, plans, arguments, max_concurrency)
    ]


def _outcome(plan: DrillPlan, value: object) -> DrillOutcome:
    if isinstance(value, DrillOutcome):
        return value
    if isinstance(value, DrillError):
        return value.outcome
    return DrillOutcome(  # a crash or a bug: still a row, with what we know
        server=plan.server,
        server_id=plan.server_id,
        result="failed",
        image_id=plan.image_id,
        server_type=plan.server_type,
        error_code="crashed",
        error=f"{type(value).__name__}: {value}",
    )


def _emit(outcome: DrillOutcome, project: str, run_id: str) -> None:
    if outcome.server_id is None or outcome.result == "skipped":
        return
    emit_server_event(
        "hsnap.drill.succeeded" if outcome.result == "proven" else "hsnap.drill.failed",
        server_id=outcome.server_id,
        server_name=outcome.server,
        project=project,
        image_id=outcome.image_id,
        flow_run_id=run_id,
        payload={
            "server_type": outcome.server_type,
            "time_to_running_s": outcome.time_to_running_s,
            "cost": outcome.cost,
            "currency": outcome.currency,
            "error": outcome.error,
        },
    )


def _publish(outcomes: list[DrillOutcome]) -> State[Any]:
    """The drill-report table and drill-summary; Failed, naming what did not boot, if any."""
    now = datetime.now(UTC)
    message = report.verdict(outcomes)
    create_table_artifact(
        table=report.artifact_rows(outcomes, now), key="drill-report", description=message
    )
    create_markdown_artifact(markdown=report.markdown(outcomes, now), key="drill-summary")
    get_run_logger().info(message)
    data = {"drills": [o.to_dict() for o in outcomes]}
    if report.failed(outcomes):
        return Failed(message=message, data=data)
    return Completed(message=message, data=data)


def run_locally(**parameters: Any) -> list[DrillOutcome]:
    """Run the flow in this process; every row, also when drills failed."""
    return [DrillOutcome(**row) for row in run_and_read(verify_snapshots, **parameters)["drills"]]
