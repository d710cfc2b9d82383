"""Snapshot commands: run, demo, status, recover."""

from __future__ import annotations

import json
import os
from typing import Annotated

import typer

from hsnap.checks import check_snapshot_parameters
from hsnap.cli.common import (
    AsJson,
    Concurrency,
    DryRun,
    Excludes,
    Labels,
    LabelSelector,
    LockWait,
    Project,
    Reserve,
    ServerNames,
    SnapshotWait,
    Template,
    TokenSecret,
    Verbose,
    app,
    check_locally,
    err,
    execute,
    exit_code,
    fail,
    out,
    parse_labels,
    run_flow,
    show_prefect_info,
    start_prefect,
)
from hsnap.errors import ConfigError, HsnapError
from hsnap.policy import DEFAULT_MAX_CONCURRENCY
from hsnap.settings import DEFAULT_TOKEN_SECRET, MAX_TIME_SCALE
from hsnap.tables import Column, FittedTable

RECOVER_COLUMNS = (
    Column("server", drop=0),
    Column("id", drop=1, right=True),
    Column("result", drop=0),
    Column("detail", below=True),
)


@app.command(rich_help_panel="Snapshots")
def run(
    label_selector: LabelSelector = None,
    server: ServerNames = None,
    exclude: Excludes = None,
    dry_run: DryRun = False,
    as_json: AsJson = False,
    lock_wait_minutes: LockWait = 30.0,
    snapshot_wait_minutes: SnapshotWait = 120.0,
    max_concurrency: Concurrency = DEFAULT_MAX_CONCURRENCY,
    description_template: Template = "{server}-{timestamp}",
    label: Labels = None,
    token_secret: TokenSecret = DEFAULT_TOKEN_SECRET,
    project: Project = None,
    reserve: Reserve = None,
    verbose: Verbose = False,
    consistent: Annotated[
        bool, typer.Option("--consistent", help="Shut each server down first; power it on after.")
    ] = False,
    force_poweroff: Annotated[
        bool,
        typer.Option(
            "--force-poweroff", help="With --consistent: force off a guest that ignores ACPI."
        ),
    ] = False,
    shutdown_wait_minutes: Annotated[
        float, typer.Option(help="Minutes for a guest to power off.")
    ] = 10.0,
    poweron_wait_minutes: Annotated[
        float, typer.Option(help="Minutes to keep trying to power a server on again.")
    ] = 60.0,
) -> None:
    """Snapshot servers now (HCLOUD_TOKEN, HCLOUD_ENDPOINT), waiting out locks."""
    try:
        labels = parse_labels(label)
    except ConfigError as exc:
        fail(exc)
    execute(
        {
            "label_selector": label_selector,
            "servers": server,
            "exclude": exclude,
            "dry_run": dry_run,
            "lock_wait_minutes": lock_wait_minutes,
            "snapshot_wait_minutes": snapshot_wait_minutes,
            "max_concurrency": max_concurrency,
            "description_template": description_template,
            "labels": labels,
            "token_secret": token_secret,
            "consistent": consistent,
            "force_poweroff": force_poweroff,
            "shutdown_wait_minutes": shutdown_wait_minutes,
            "poweron_wait_minutes": poweron_wait_minutes,
            "project": project,
            "reserve": reserve,
        },
        as_json=as_json,
        verbose=verbose,
    )


@app.command(rich_help_panel="Snapshots")
def demo(
    scenario: Annotated[str, typer.Option(help="Built-in scenario (demo, faults) or a file.")] = (
        "demo"
    ),
    time_scale: Annotated[
        float | None, typer.Option(help="Simulated seconds per real second (default: scenario's).")
    ] = None,
    lock_wait_minutes: LockWait = 5.0,
    as_json: AsJson = False,
    verbose: Verbose = False,
) -> None:
    """Snapshot a simulated fleet: starts hcloud_sim and runs the same flow against it."""
    from hcloud_sim import ScenarioError, SimulatorServer  # noqa: PLC0415 -- demo only
    from hcloud_sim.scenarios import load_scenario  # noqa: PLC0415

    try:  # all input first: a mistake must not cost a Prefect start
        check_snapshot_parameters({"lock_wait_minutes": lock_wait_minutes})
        if time_scale is not None and not 0 < time_scale <= MAX_TIME_SCALE:  # False for NaN
            raise ConfigError(f"--time-scale {time_scale}: use a number > 0, at most 1e6")
        fleet = load_scenario(scenario)
    except (ConfigError, ScenarioError, ValueError) as exc:
        fail(exc)
    show_prefect_info(verbose)
    start_prefect()  # before the simulated clock starts, so the demo's locks are still held
    sim = SimulatorServer(fleet, time_scale=time_scale)
    scale = sim.state.clock.scale
    token = sim.state.scenario.projects[0].tokens[0].token
    os.environ.update(HCLOUD_ENDPOINT=sim.url, HCLOUD_TOKEN=token, HSNAP_TIME_SCALE=f"{scale:g}")
    count = len(sim.state.project().servers)
    err.print(
        f"hsnap demo: simulated Hetzner project [bold]{sim.state.scenario.name}[/bold] with "
        f"{count} servers at {sim.url} (time x{scale:g}: one real second is {scale:g} API seconds)"
    )
    with sim:
        execute(
            {"lock_wait_minutes": lock_wait_minutes},
            as_json=as_json,
            verbose=verbose,
        )


@app.command(rich_help_panel="Snapshots")
def status(
    server: Annotated[str, typer.Argument(help="Server name.")],
    token_secret: TokenSecret = DEFAULT_TOKEN_SECRET,
    project: Project = None,
    as_json: AsJson = False,
) -> None:
    """Say whether a server is locked, and by which running actions."""
    from hsnap.cloud.client import Cloud  # noqa: PLC0415 -- keeps --help fast
    from hsnap.settings import load_settings  # noqa: PLC0415

    try:
        cloud = Cloud(load_settings(token_secret, project, may_start_prefect=False))
        found = cloud.find_server(server)
        if found is None:
            raise ConfigError(f"no server named {server!r} in this project")
        holders = cloud.running_actions(found.id)
    except HsnapError as exc:
        fail(exc, code=exit_code(exc))
    if as_json:
        actions = [{"id": a.id, "command": a.command, "progress": a.progress} for a in holders]
        shown = {"server": found.name, "id": found.id, "status": found.status}
        typer.echo(json.dumps(shown | {"locked": bool(holders), "actions": actions}, indent=2))
        return
    if not holders:
        out.print(f"{found.name} (id {found.id}, {found.status}): not locked")
        return
    out.print(f"{found.name} (id {found.id}, {found.status}): locked by")
    for action in holders:
        out.print(f"  {action.command} action {action.id}, {action.progress}% done")


@app.command(rich_help_panel="Snapshots")
def recover(
    token_secret: TokenSecret = DEFAULT_TOKEN_SECRET,
    project: Project = None,
    as_json: AsJson = False,
    verbose: Verbose = False,
) -> None:
    """Power on servers an interrupted run left off; delete drill servers a killed drill left."""
    check_locally({"token_secret": token_secret, "project": project})
    from hsnap.flows.recover_servers import run_locally  # noqa: PLC0415 -- imports Prefect: slow

    results = run_flow(run_locally, verbose=verbose, token_secret=token_secret, project=project)
    if as_json:
        typer.echo(json.dumps([r.__dict__ for r in results], indent=2))
    elif not results:
        out.print("no server is marked for restart")
    else:
        rows = [
            {"server": r.server, "id": str(r.server_id), "result": r.result, "detail": r.detail}
            for r in results
        ]
        failed = sum(1 for r in results if r.result == "failed")
        title = f"recover: {len(results)} server(s), {failed} failed"
        out.print(FittedTable(rows, RECOVER_COLUMNS, title=title, style_key="result"))
    raise typer.Exit(1 if any(r.result == "failed" for r in results) else 0)
