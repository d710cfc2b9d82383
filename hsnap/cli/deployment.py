"""Deployment commands: setup (pool, token, deployments, notifications) and trigger."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from hsnap.cli.common import (
    AsJson,
    Project,
    TokenSecret,
    app,
    fail,
    out,
    read_token,
)
from hsnap.console import rows_table
from hsnap.errors import ConfigError, HsnapError
from hsnap.settings import DEFAULT_TOKEN_SECRET


@app.command(rich_help_panel="Prefect deployments")
def setup(
    token_stdin: Annotated[
        bool, typer.Option("--token-stdin", help="Read the Hetzner token from standard input.")
    ] = False,
    token_secret: TokenSecret = DEFAULT_TOKEN_SECRET,
    project_dir: Annotated[
        Path | None,
        typer.Option(
            help="Deploy from this checkout's prefect.yaml (its pull steps). Default: workers "
            "run the installed hsnap package, whatever the current directory."
        ),
    ] = None,
    check: Annotated[bool, typer.Option(help="Try the token against the API first.")] = True,
    notify: Annotated[
        list[str] | None,
        typer.Option(
            "--notify",
            metavar="BLOCK",
            help="Send every alert through this Prefect notification block (its name, or "
            "type/name). Repeat for several.",
        ),
    ] = None,
) -> None:
    """Set up the work pool, token, deployments and alerts on your Prefect server.

    Safe to run again: it changes only what differs. The token comes from HCLOUD_TOKEN,
    standard input (--token-stdin) or a hidden prompt; it is never an argument and never
    printed.

    Alerts (failed or crashed run, missed nightly run, stale server, failed drill, server
    left off) are Prefect automations, always created; they send through each --notify
    block, and through HSNAP_NOTIFY_WEBHOOK (saved as a custom webhook block) when set.
    Windows: HSNAP_MISSED_RUN_HOURS and HSNAP_RPO_HOURS (26 hours each). See docs/alerts.md.
    """
    from hsnap.deployment import setup as deploy  # noqa: PLC0415 -- imports Prefect: slow
    from hsnap.deployment.source import code_source  # noqa: PLC0415

    try:
        api = deploy.prefect_api_url()
        token = read_token(token_stdin)
        if check:
            _check_token(token)
        webhook = os.environ.get("HSNAP_NOTIFY_WEBHOOK", "").strip()
        from hsnap.deployment.alerts import ensure_alerts  # noqa: PLC0415
        from hsnap.deployment.crashes import ensure_crash_detection  # noqa: PLC0415
        from hsnap.deployment.notify import find_blocks, save_webhook_block  # noqa: PLC0415
        from hsnap.deployment.windows import windows_from_env  # noqa: PLC0415

        windows = windows_from_env()  # a bad window or block fails before anything is changed
        targets = find_blocks(notify or [])
        with code_source(project_dir) as source:  # a missing prefect.yaml fails before, too
            steps = [
                deploy.ensure_work_pool(),
                deploy.ensure_token_secret(token, token_secret),
                deploy.ensure_projects(),
                deploy.deploy(source),
            ]
        steps.append(ensure_crash_detection())
        if webhook:
            target, step = save_webhook_block(webhook)
            targets.append(target)
            steps.append(step)
        steps.extend(ensure_alerts(targets, windows))
    except HsnapError as exc:
        fail(exc)
    out.print(f"Prefect API: {api}")
    for step in steps:
        mark = "[green]changed[/]" if step.changed else "[dim]unchanged[/]"
        out.print(f"  {step.what:12} {mark}  {step.detail}")
    where = ", ".join(t.name for t in targets) if targets else "no block (hsnap health shows them)"
    out.print(f"Alerts go to: {where}")
    out.print(f"Start a worker: prefect worker start --pool {deploy.WORK_POOL}")


def _check_token(token: str) -> None:
    """One cheap read with the token, so a typo fails here rather than at 2:30 at night."""
    from pydantic import SecretStr  # noqa: PLC0415

    from hsnap.cloud.client import Cloud  # noqa: PLC0415
    from hsnap.settings import DEFAULT_ENDPOINT, Settings  # noqa: PLC0415

    endpoint = os.environ.get("HCLOUD_ENDPOINT") or DEFAULT_ENDPOINT
    Cloud(Settings(token=SecretStr(token), endpoint=endpoint)).find_server("hsnap-setup-probe")


def _params(pairs: list[str] | None) -> dict[str, Any]:
    """``k=v`` pairs; values are JSON when they parse as JSON (numbers, lists), else text."""
    parameters: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--param {pair!r}: use NAME=VALUE")
        try:
            parameters[key] = json.loads(value)
        except ValueError:
            parameters[key] = value
    return parameters


@app.command(rich_help_panel="Prefect deployments")
def trigger(
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Flow parameter NAME=VALUE.")
    ] = None,
    deployment: Annotated[str, typer.Option(help="flow/deployment to run.")] = (
        "snapshot-servers/on-demand"
    ),
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the run to finish.")] = False,
    timeout: Annotated[float | None, typer.Option(help="Seconds to wait with --wait.")] = None,
    project: Project = None,
    as_json: AsJson = False,
) -> None:
    """Start a run of a deployment (on-demand by default); with --wait, print its report."""
    from hsnap.deployment.trigger import trigger_snapshot  # noqa: PLC0415 -- imports Prefect: slow

    try:
        from hsnap.deployment import setup as deploy  # noqa: PLC0415

        deploy.prefect_api_url()
        parameters = _params(param) | ({"project": project} if project else {})
        result = trigger_snapshot(parameters, deployment=deployment, wait=wait, timeout=timeout)
    except HsnapError as exc:
        fail(exc)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        out.print(
            f"flow run {result.flow_run_name} ({result.flow_run_id}): {result.state}"
            + (f" - {result.message}" if result.message else "")
        )
        if result.rows:
            out.print(rows_table(result.rows))
    if not result.final:
        raise typer.Exit(0)
    raise typer.Exit(0 if result.succeeded else 1)
