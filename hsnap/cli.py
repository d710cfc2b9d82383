"""``hsnap``: the command line. Parse, call, render; no logic of its own."""

from __future__ import annotations

import getpass
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console

from hsnap import report as reporting
from hsnap.console import LiveProgress, report_table, rows_table
from hsnap.errors import ConfigError, HsnapError
from hsnap.settings import DEFAULT_TOKEN_SECRET

app = typer.Typer(
    help="Trustworthy snapshots of Hetzner Cloud servers, run and recorded by Prefect.",
    no_args_is_help=True,
    add_completion=False,
)
out = Console()
err = Console(stderr=True)

LabelSelector = Annotated[
    str | None, typer.Option("--label-selector", "-l", help="Only servers matching it.")
]
ServerNames = Annotated[
    list[str] | None, typer.Option("--server", "-s", help="Only this server (repeatable).")
]
Excludes = Annotated[list[str] | None, typer.Option("--exclude", "-x", help="Never this server.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Show what would be done; change nothing.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's log lines too.")]
LockWait = Annotated[float, typer.Option(help="Minutes to wait for a locked server.")]
SnapshotWait = Annotated[float, typer.Option(help="Minutes to wait for a snapshot.")]
Concurrency = Annotated[int, typer.Option(help="Servers handled at the same time.")]
Template = Annotated[str, typer.Option(help="Snapshot description template.")]
Labels = Annotated[
    list[str] | None, typer.Option("--label", help="Extra snapshot label KEY=VALUE (repeatable).")
]
TokenSecret = Annotated[
    str, typer.Option(help="Prefect Secret block holding the token when HCLOUD_TOKEN is unset.")
]


def _labels(pairs: list[str] | None) -> dict[str, str]:
    labels: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--label {pair!r}: use KEY=VALUE")
        labels[key] = value
    return labels


@contextmanager
def _quiet_prefect_console(verbose: bool) -> Iterator[None]:
    """Keep Prefect's console lines out of the live table (they still reach Prefect's API)."""
    from prefect.logging.handlers import PrefectConsoleHandler  # noqa: PLC0415 -- after setup

    handlers = [h for h in logging.getLogger().handlers if isinstance(h, PrefectConsoleHandler)]
    levels = [h.level for h in handlers]
    if not verbose:
        for handler in handlers:
            handler.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for handler, level in zip(handlers, levels, strict=True):
            handler.setLevel(level)


def _execute(parameters: dict[str, Any], *, as_json: bool, verbose: bool) -> None:
    """Run the snapshot flow locally, render its report, exit 0 / 1 / 2."""
    from prefect.exceptions import ParameterTypeError  # noqa: PLC0415 -- Prefect loads slowly

    from flows.snapshot_servers import run_locally  # noqa: PLC0415

    try:
        with _quiet_prefect_console(verbose), LiveProgress(err, enabled=err.is_terminal):
            result = run_locally(**parameters)
    except (ConfigError, ValidationError, ParameterTypeError) as exc:
        _fail(exc)
    except HsnapError as exc:  # the run stopped before it could report on any server
        _fail(exc, code=2 if exc.code in reporting.CREDENTIAL_CODES else 1)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        out.print(report_table(result))
    raise typer.Exit(reporting.exit_code(result))


def _fail(exc: BaseException, code: int = 2) -> NoReturn:
    """Say what went wrong and what to do; exit 2 (bad input or credentials) or ``code``."""
    err.print(f"[red]hsnap: {exc}[/red]", highlight=False)
    raise typer.Exit(code)


@app.command()
def run(
    label_selector: LabelSelector = None,
    server: ServerNames = None,
    exclude: Excludes = None,
    dry_run: DryRun = False,
    as_json: AsJson = False,
    lock_wait_minutes: LockWait = 30.0,
    snapshot_wait_minutes: SnapshotWait = 120.0,
    max_concurrency: Concurrency = 20,
    description_template: Template = "{server}-{timestamp}",
    label: Labels = None,
    token_secret: TokenSecret = DEFAULT_TOKEN_SECRET,
    verbose: Verbose = False,
) -> None:
    """Snapshot servers now (HCLOUD_TOKEN, HCLOUD_ENDPOINT), waiting out locks."""
    try:
        labels = _labels(label)
    except ConfigError as exc:
        _fail(exc)
    _execute(
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
        },
        as_json=as_json,
        verbose=verbose,
    )


@app.command()
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

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # the demo runs offline
    _start_prefect()  # before the simulated clock starts, so the demo's locks are still held
    try:
        sim = SimulatorServer(scenario, time_scale=time_scale)
    except (ScenarioError, ValueError) as exc:
        _fail(exc)
    scale = sim.state.clock.scale
    token = sim.state.scenario.projects[0].tokens[0].token
    os.environ.update(HCLOUD_ENDPOINT=sim.url, HCLOUD_TOKEN=token, HSNAP_TIME_SCALE=f"{scale:g}")
    count = len(sim.state.project().servers)
    err.print(
        f"hsnap demo: simulated Hetzner project [bold]{sim.state.scenario.name}[/bold] with "
        f"{count} servers at {sim.url} (time x{scale:g}: one real second is {scale:g} API seconds)"
    )
    with sim:
        _execute(
            {"lock_wait_minutes": lock_wait_minutes},
            as_json=as_json,
            verbose=verbose,
        )


@app.command()
def status(
    server: Annotated[str, typer.Argument(help="Server name.")],
    token_secret: TokenSecret = DEFAULT_TOKEN_SECRET,
) -> None:
    """Say whether a server is locked, and by which running actions."""
    from hsnap.cloud import Cloud  # noqa: PLC0415 -- keeps --help fast
    from hsnap.settings import load_settings  # noqa: PLC0415

    try:
        cloud = Cloud(load_settings(token_secret))
        found = cloud.find_server(server)
        if found is None:
            raise ConfigError(f"no server named {server!r} in this project")
        holders = cloud.running_actions(found.id)
    except HsnapError as exc:
        _fail(exc)
    if not holders:
        out.print(f"{found.name} (id {found.id}, {found.status}): not locked")
        return
    out.print(f"{found.name} (id {found.id}, {found.status}): locked by")
    for action in holders:
        out.print(f"  {action.command} action {action.id}, {action.progress}% done")


@app.command()
def setup(
    token_stdin: Annotated[
        bool, typer.Option("--token-stdin", help="Read the Hetzner token from standard input.")
    ] = False,
    token_secret: TokenSecret = DEFAULT_TOKEN_SECRET,
    project_dir: Annotated[
        Path, typer.Option(help="The hsnap checkout with prefect.yaml.")
    ] = Path(),
    check: Annotated[bool, typer.Option(help="Try the token against the API first.")] = True,
) -> None:
    """Work pool, token Secret block and deployments on your Prefect server; safe to run again.

    The token comes from HCLOUD_TOKEN, standard input (--token-stdin) or a hidden prompt; it is
    never a command-line argument and never printed. With HSNAP_NOTIFY_WEBHOOK set, a Prefect
    automation POSTs to that URL whenever a snapshot run fails or crashes.
    """
    from hsnap import deploy  # noqa: PLC0415 -- imports Prefect: slow

    try:
        api = deploy.prefect_api_url()
        token = _read_token(token_stdin)
        if check:
            _check_token(token)
        steps = [
            deploy.ensure_work_pool(),
            deploy.ensure_token_secret(token, token_secret),
            deploy.deploy(project_dir.resolve()),
        ]
        webhook = os.environ.get("HSNAP_NOTIFY_WEBHOOK", "").strip()
        if webhook:
            from hsnap.notify import ensure_failure_webhook  # noqa: PLC0415

            steps.append(ensure_failure_webhook(webhook))
    except HsnapError as exc:
        _fail(exc)
    out.print(f"Prefect API: {api}")
    for step in steps:
        mark = "[green]changed[/]" if step.changed else "[dim]unchanged[/]"
        out.print(f"  {step.what:12} {mark}  {step.detail}")
    out.print(f"Start a worker: prefect worker start --pool {deploy.WORK_POOL}")


def _read_token(from_stdin: bool) -> str:
    if from_stdin:
        token = sys.stdin.readline().strip()
    elif os.environ.get("HCLOUD_TOKEN"):
        token = os.environ["HCLOUD_TOKEN"].strip()
    elif sys.stdin.isatty():
        token = getpass.getpass("Hetzner Cloud API token (Read & Write; not echoed): ").strip()
    else:
        raise ConfigError("no token: set HCLOUD_TOKEN or pass --token-stdin")
    if not token:
        raise ConfigError("the Hetzner API token is empty")
    return token


def _check_token(token: str) -> None:
    """One cheap read with the token, so a typo fails here rather than at 2:30 at night."""
    from pydantic import SecretStr  # noqa: PLC0415

    from hsnap.cloud import Cloud  # noqa: PLC0415
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


@app.command()
def trigger(
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Flow parameter NAME=VALUE.")
    ] = None,
    deployment: Annotated[str, typer.Option(help="flow/deployment to run.")] = (
        "snapshot-servers/on-demand"
    ),
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the run to finish.")] = False,
    timeout: Annotated[float | None, typer.Option(help="Seconds to wait with --wait.")] = None,
    as_json: AsJson = False,
) -> None:
    """Start a run of a deployment (on-demand by default); with --wait, print its report."""
    from hsnap.trigger import trigger_snapshot  # noqa: PLC0415 -- imports Prefect: slow

    try:
        from hsnap import deploy  # noqa: PLC0415

        deploy.prefect_api_url()
        result = trigger_snapshot(_params(param), deployment=deployment, wait=wait, timeout=timeout)
    except HsnapError as exc:
        _fail(exc)
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


def _start_prefect() -> None:
    """Bring up Prefect's API (a temporary local server when none is configured)."""
    from prefect.client.orchestration import get_client  # noqa: PLC0415 -- Prefect loads slowly

    with get_client(sync_client=True) as client:
        client.hello()


def main() -> None:  # pragma: no cover -- console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
