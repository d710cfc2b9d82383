"""The snapshot flow: select servers, snapshot each (waiting out locks), report, fail if any did."""

from __future__ import annotations

import time
import uuid
from contextlib import nullcontext
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from prefect import State, flow, get_run_logger
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.runtime import flow_run
from prefect.states import Completed, Failed

from hsnap.checks import Concurrency, Minutes, Reserve, check_snapshot_parameters
from hsnap.errors import HsnapError
from hsnap.flows.fan_out import each_completed
from hsnap.flows.local_run import refuse, run_and_read
from hsnap.flows.prune_snapshots import publish_prune_plan
from hsnap.models import PruneRow, RunReport, ServerRef, SnapshotOutcome
from hsnap.observe.cost import ProjectCost
from hsnap.observe.events import emit_outcome
from hsnap.policy import (
    CONSISTENT_LABEL,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_TEMPLATE,
    describe,
    ownership_labels,
)
from hsnap.projects.limits import project_slot
from hsnap.retention.policy import RetentionPolicy
from hsnap.settings import DEFAULT_TOKEN_SECRET, load_settings
from hsnap.snapshot import report as reporting
from hsnap.snapshot.recipe import Recipe, to_labels
from hsnap.snapshot.recipe import summary as recipe_summary
from hsnap.snapshot.recovery import still_off, unchecked
from hsnap.snapshot.session import run_session, say_pacing
from hsnap.snapshot.take import SnapshotError, SnapshotPlan
from hsnap.tasks.audit import snapshot_cost
from hsnap.tasks.prune import prune
from hsnap.tasks.recover import recover_servers
from hsnap.tasks.select_servers import record_recipes, select_servers
from hsnap.tasks.snapshot_server import RETRY_DELAYS_S, snapshot_server

#: labels a recipe may take before it is written without names (ids are enough to restore)
MAX_RECIPE_LABELS = 16
#: real seconds between two updates of the run's progress artifact
PROGRESS_EVERY_S = 1.0


@flow(name="snapshot-servers", validate_parameters=True)
def snapshot_servers(
    label_selector: str | None = None,
    servers: list[str] | None = None,
    exclude: list[str] | None = None,
    description_template: str = DEFAULT_TEMPLATE,
    labels: dict[str, str] | None = None,
    lock_wait_minutes: Minutes = 30.0,
    snapshot_wait_minutes: Minutes = 120.0,
    max_concurrency: Concurrency = DEFAULT_MAX_CONCURRENCY,
    dry_run: bool = False,
    token_secret: str = DEFAULT_TOKEN_SECRET,
    retention: RetentionPolicy | None = None,
    timezone: str = "UTC",
    consistent: bool = False,
    force_poweroff: bool = False,
    shutdown_wait_minutes: Minutes = 10.0,
    poweron_wait_minutes: Minutes = 60.0,
    project: str | None = None,
    reserve: Reserve | None = None,
) -> State[Any]:
    """Snapshot Hetzner Cloud servers, waiting out locks, and report what happened to each one.

    Args:
        label_selector: only servers matching it (Hetzner syntax, e.g. ``env=prod,role!=db``);
            a selection that matches no server fails the run.
        servers: only these server names (a name that does not exist is reported as failed).
        exclude: never these server names.
        description_template: snapshot description; plain placeholders {server}, {server_id},
            {timestamp}, {date}, {time}, {run} (no conversion or format spec), at most 255
            characters.
        labels: extra labels for every snapshot (hsnap adds its ownership labels).
        lock_wait_minutes: how long to wait for a locked server before failing it.
        snapshot_wait_minutes: how long to wait for a snapshot to become available.
        max_concurrency: servers handled at the same time.
        dry_run: list what would be snapshotted; change nothing.
        token_secret: Prefect Secret block with the API token, used when HCLOUD_TOKEN is not set.
        retention: when set, prune hsnap's older snapshots of the servers whose snapshot
            succeeded in this run, as the last step (with dry_run: publish the plan only).
        timezone: the calendar (IANA name) retention counts days, weeks, months and years in.
        consistent: shut every server down before its snapshot and power it on again after
            (servers labelled ``hsnap/consistent=true`` get this even when it is off).
        force_poweroff: in consistent mode, force a server off when its guest ignores the ACPI
            shutdown for ``shutdown_wait_minutes``; otherwise that server fails, still running.
        shutdown_wait_minutes: how long a guest may take to power off after the ACPI shutdown.
        poweron_wait_minutes: how long to keep trying to power a server on again.
        project: the Hetzner project (a HetznerProject block: token, endpoint, default
            label selector) instead of HCLOUD_TOKEN / token_secret. One snapshot run per
            project at a time: a second one waits for the first.
        reserve: requests of the project's budget (3600 an hour) left to its other clients
            (Kubernetes controllers, Terraform, the console): at the reserve hsnap paces itself
            to the refill. Default: the project block's, else a quarter of the budget; 0: none.
    """
    log = get_run_logger()
    try:  # bad input or credentials: the run ends Failed with the message, no traceback
        check_snapshot_parameters(
            {
                "label_selector": label_selector,
                "description_template": description_template,
                "labels": labels,
                "timezone": timezone,
                "reserve": reserve,
            }
        )
        settings = load_settings(token_secret, project)
        if label_selector is None and settings.label_selector:
            label_selector = settings.label_selector  # the project's default selector
            check_snapshot_parameters({"label_selector": label_selector})
    except HsnapError as exc:
        return refuse(exc)
    source = (token_secret, project)
    run_id = str(flow_run.id or uuid.uuid4())
    # one snapshot run per project at a time; a dry run changes nothing and need not wait
    with (
        nullcontext() if dry_run else project_slot(settings.project),
        run_session(run_id, settings, reserve, say_pacing(log)) as session,
    ):
        scaled = [d / settings.time_scale for d in RETRY_DELAYS_S]
        try:
            chosen, missing = _select(label_selector, servers, exclude, source, scaled, run_id)
        except HsnapError as exc:
            return refuse(exc)
        if not dry_run:
            # power back what an interrupted run left off, before any server is snapshotted
            # (and before consistent mode reads whether it was running)
            recover_servers(*source)
        not_found = [_not_found(name, label_selector) for name in missing]
        recipes = _recipes(chosen, source, scaled, run_id)
        now = datetime.now(UTC)
        plans = [
            SnapshotPlan(
                server=server,
                description=describe(description_template, server, now, run_id),
                labels={
                    **(labels or {}),
                    **recipe_labels(recipes.get(server.id)),
                    **ownership_labels(server.id, run_id),
                },
                run_id=run_id,
                lock_timeout_s=lock_wait_minutes * 60,
                snapshot_timeout_s=snapshot_wait_minutes * 60,
                consistent=consistent or server.labels.get(CONSISTENT_LABEL) == "true",
                force_poweroff=force_poweroff,
                shutdown_timeout_s=shutdown_wait_minutes * 60,
                poweron_timeout_s=poweron_wait_minutes * 60,
            )
            for server in chosen
        ]
        if dry_run:
            log.info("dry run: %d server(s) would be snapshotted", len(plans))
            outcomes = [_planned(p) for p in plans]
        else:
            task = snapshot_server.with_options(retry_delay_seconds=scaled)
            outcomes = _snapshot_all(task, plans, source, max_concurrency, settings.project)
            outcomes = _check_power(outcomes, source)
        pruned: list[PruneRow] = []
        prune_error: str | None = None
        if retention is not None:
            pruned, prune_error = _prune_succeeded(retention, timezone, outcomes, dry_run, source)
        rows = tuple(sorted([*outcomes, *not_found], key=_by_name))
        cost = snapshot_cost(*source)
        budget = session.pacing.describe()
        if budget:
            log.info("request budget: %s", budget)
        report = RunReport(run_id, dry_run, rows, tuple(pruned), prune_error, budget)
        return _publish(report, cost)


def _recipes(
    chosen: list[ServerRef],
    source: tuple[str, str | None],
    retry_delays: list[float],
    run_id: str,
) -> dict[int, Recipe]:
    """Each server's recipe, published as an artifact; none (logged) if they cannot be read.

    A snapshot is worth more than its recipe: failing to read recipes never stops a snapshot.
    """
    if not chosen:
        return {}
    task = record_recipes.with_options(retry_delay_seconds=retry_delays)
    try:
        recipes: dict[int, Recipe] = task([s.id for s in chosen], *source, run_id)
    except Exception as exc:  # noqa: BLE001 -- the snapshots matter more than their recipes
        get_run_logger().error("recipes not recorded (snapshots go on without them): %s", exc)
        return {}
    create_table_artifact(
        table=[recipe_summary(r) for r in recipes.values()],
        key="snapshot-recipes",
        description="what each snapshot records to become its server again (restore --replace)",
    )
    return recipes


def recipe_labels(recipe: Recipe | None) -> dict[str, str]:
    """The recipe as labels; the server's resource names are dropped if it is unusually long."""
    if recipe is None:
        return {}
    labels = to_labels(recipe)
    return labels if len(labels) <= MAX_RECIPE_LABELS else to_labels(recipe, names=False)


def _prune_succeeded(
    retention: RetentionPolicy,
    timezone: str,
    outcomes: list[SnapshotOutcome],
    dry_run: bool,
    source: tuple[str, str | None],
) -> tuple[list[PruneRow], str | None]:
    """Retention over the servers whose snapshot succeeded (planned, in a dry run) in this run.

    Returns the plan's rows, and what went wrong if the retention step failed as a whole.
    """
    ok = ("succeeded", "planned")  # a left-off or failed server keeps all its snapshots
    done = [o.server_id for o in outcomes if o.status in ok and o.server_id is not None]
    failed = [o.server_id for o in outcomes if o.status not in ok and o.server_id is not None]
    if not done:
        get_run_logger().info("retention skipped: no server was snapshotted in this run")
        return [], None
    try:
        return prune(retention, timezone, done, failed, dry_run, *source), None
    except Exception as exc:  # noqa: BLE001 -- the snapshots exist: still publish their report
        get_run_logger().error("retention failed: %s", exc)
        return [], f"{type(exc).__name__}: {exc}"


def _check_power(
    outcomes: list[SnapshotOutcome], source: tuple[str, str | None]
) -> list[SnapshotOutcome]:
    """Never end well while a server this run or an earlier one shut down is still off.

    Marked servers that do not run are brought back (waiting for a guest still going down, or
    for a killed run's snapshot to end); those that cannot be fail the run, named.
    """
    known = sorted(o.server_id for o in outcomes if o.status == "left-off" and o.server_id)
    try:
        results = recover_servers(*source, after_run=True, skip=known)
    except Exception as exc:  # noqa: BLE001 -- the snapshots exist: still publish their report
        get_run_logger().error("could not check that every server runs again: %s", exc)
        return [*outcomes, unchecked(str(exc))]
    return still_off(outcomes, results)


def _snapshot_all(
    task: Any,
    plans: list[SnapshotPlan],
    source: tuple[str, str | None],
    max_concurrency: int,
    project: str,
) -> list[SnapshotOutcome]:
    """Run the task for every plan, at most ``max_concurrency`` at once; wait for all of them.

    Each server's outcome becomes a Prefect event (``hsnap.snapshot.*``) as soon as it is known.
    """
    if not plans:
        return []
    progress_id: UUID = create_progress_artifact(  # type: ignore[assignment]
        progress=0.0, key="snapshot-progress", description="servers done (snapshotted or failed)"
    )
    outcomes: list[SnapshotOutcome] = []
    arguments = {"token_secret": source[0], "project": source[1]}
    shown, at = 0.0, 0.0
    for plan, value in each_completed(task, plans, arguments, max_concurrency):
        outcomes.append(_outcome(plan, value))
        emit_outcome(outcomes[-1], project=project, flow_run_id=plan.run_id)
        done = 100.0 * len(outcomes) / len(plans)
        # a synchronous API call on the flow's own thread: once a second at most, and at 100 %
        # (one per server cost a 1000-server run seconds of its critical path)
        if done == 100.0 or (done > shown and time.monotonic() - at >= PROGRESS_EVERY_S):
            update_progress_artifact(progress_id, done)
            shown, at = done, time.monotonic()
    return outcomes


def _outcome(plan: SnapshotPlan, value: object) -> SnapshotOutcome:
    if isinstance(value, SnapshotOutcome):
        return value
    if isinstance(value, SnapshotError):
        return value.outcome
    # anything else (a crash, a bug): still a row, with what we know
    return SnapshotOutcome(
        server=plan.server.name,
        server_id=plan.server.id,
        status="failed",
        description=plan.description,
        error_code="crashed",
        error=f"{type(value).__name__}: {value}",
    )


def _planned(plan: SnapshotPlan) -> SnapshotOutcome:
    return SnapshotOutcome(
        server=plan.server.name,
        server_id=plan.server.id,
        status="planned",
        description=plan.description,
        attempts=0,
    )


def _select(
    label_selector: str | None,
    servers: list[str] | None,
    exclude: list[str] | None,
    source: tuple[str, str | None],
    retry_delays: list[float],
    run_id: str,
) -> tuple[list[ServerRef], list[str]]:
    """The servers to snapshot and the requested names not found; no match at all is an error."""
    chosen, missing = select_servers.with_options(retry_delay_seconds=retry_delays)(
        label_selector, servers or [], exclude or [], *source, run_id
    )
    if not chosen and not missing:
        if label_selector or servers or exclude:
            raise HsnapError(no_match(label_selector, servers), code="no_match")
        get_run_logger().warning("the project has no server: nothing to snapshot")
    return chosen, missing


def no_match(label_selector: str | None, servers: list[str] | None) -> str:
    """What to say when the selection matched no server (a typo must not pass as success)."""
    asked = [f"label selector {label_selector!r}"] if label_selector else []
    asked += [f"server name(s) {', '.join(servers)}"] if servers else []
    what = " and ".join(asked) or "the selection (after exclusions)"
    return f"no server matches {what}: nothing was snapshotted; check the spelling"


def _not_found(name: str, label_selector: str | None) -> SnapshotOutcome:
    where = f" matching label selector {label_selector!r}" if label_selector else ""
    return SnapshotOutcome(
        server=name,
        server_id=None,
        status="failed",
        attempts=0,
        error_code="not_found",
        error=f"no server named {name!r}{where} in this project; check the name",
    )


def _by_name(outcome: SnapshotOutcome) -> str:
    return outcome.server


def _publish(result: RunReport, cost: ProjectCost | str) -> State[Any]:
    """Publish the table and summary artifacts; Failed (with the report) if any server failed."""
    create_table_artifact(
        table=reporting.artifact_rows(result),
        key="snapshot-report",
        description=reporting.verdict(result),
    )
    cost_line = cost if isinstance(cost, str) else cost.describe()
    create_markdown_artifact(markdown=reporting.markdown(result, cost_line), key="snapshot-summary")
    message = reporting.verdict(result)
    if result.pruned:
        publish_prune_plan(list(result.pruned))
        message += "; retention: " + reporting.prune_verdict(result.pruned)
    if result.prune_error:
        message += f"; retention failed: {result.prune_error}"
    get_run_logger().info(message)
    data = result.to_dict()
    if result.failed or result.prune_failed or result.prune_error:
        return Failed(message=message, data=data)
    return Completed(message=message, data=data)


def run_locally(**parameters: Any) -> RunReport:
    """Run the flow in this process and return its report, whether or not servers failed.

    Raises the flow's error when it stopped before it could report (bad input or credentials).
    """
    return RunReport.from_dict(run_and_read(snapshot_servers, **parameters))


if __name__ == "__main__":
    # Runs against HCLOUD_ENDPOINT with HCLOUD_TOKEN (or the Secret block): a dry run by default.
    print(snapshot_servers(dry_run=True, return_state=True).result())
