"""Retention commands: plan (what a run would snapshot and prune) and prune."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from hsnap.cli.common import (
    AsJson,
    DryRun,
    Excludes,
    LabelSelector,
    Project,
    ServerNames,
    TokenSecret,
    Verbose,
    app,
    err,
    fail,
    out,
    quiet_prefect_console,
)
from hsnap.console import rows_table
from hsnap.errors import ConfigError, HsnapError
from hsnap.settings import DEFAULT_TOKEN_SECRET
from hsnap.snapshot import report as reporting

Count = Annotated[int, typer.Option(min=0)]


def _policy(**counts: Any) -> Any:
    from hsnap.retention.policy import RetentionPolicy  # noqa: PLC0415

    try:
        return RetentionPolicy(**counts)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _print_prune(rows: list[dict[str, str]], verdict: str, as_json: bool, data: Any) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        out.print(rows_table(rows, title=f"retention: {verdict}", columns=reporting.PRUNE_COLUMNS))


@app.command(rich_help_panel="Retention")
def prune(
    dry_run: DryRun = False,
    keep_last: Annotated[int, typer.Option(min=0, help="Keep the N newest.")] = 0,
    hourly: Annotated[int, typer.Option(min=0, help="Keep one a hour, N hours.")] = 0,
    daily: Annotated[int, typer.Option(min=0, help="Keep one a day, N days.")] = 7,
    weekly: Annotated[int, typer.Option(min=0, help="Keep one a week, N weeks.")] = 4,
    monthly: Annotated[int, typer.Option(min=0, help="Keep one a month, N months.")] = 6,
    yearly: Annotated[int, typer.Option(min=0, help="Keep one a year, N years.")] = 0,
    min_keep: Annotated[int, typer.Option(min=1, help="Always keep N per server.")] = 1,
    max_deletions: Annotated[int, typer.Option(min=0, help="Delete at most N per run.")] = 50,
    delete_orphans: Annotated[
        bool, typer.Option("--delete-orphans", help="Prune snapshots of deleted servers too.")
    ] = False,
    timezone: Annotated[str, typer.Option(help="Calendar for days/weeks/months.")] = "UTC",
    token_secret: TokenSecret = DEFAULT_TOKEN_SECRET,
    project: Project = None,
    as_json: AsJson = False,
    verbose: Verbose = False,
) -> None:
    """Delete hsnap's old snapshots by a retention policy (never an image hsnap did not make)."""
    try:
        policy = _policy(
            keep_last=keep_last,
            hourly=hourly,
            daily=daily,
            weekly=weekly,
            monthly=monthly,
            yearly=yearly,
            min_keep=min_keep,
            max_deletions=max_deletions,
            keep_orphans=not delete_orphans,
        )
        from flows.prune_snapshots import run_locally  # noqa: PLC0415 -- imports Prefect: slow

        with quiet_prefect_console(verbose):
            rows = run_locally(
                retention=policy,
                timezone=timezone,
                dry_run=dry_run,
                token_secret=token_secret,
                project=project,
            )
    except HsnapError as exc:
        fail(exc)
    data = {"pruned": [r.to_dict() for r in rows]}
    _print_prune(reporting.prune_rows(rows), reporting.prune_verdict(rows), as_json, data)
    raise typer.Exit(1 if any(r.result == "failed" for r in rows) else 0)


@app.command(rich_help_panel="Retention")
def plan(
    label_selector: LabelSelector = None,
    server: ServerNames = None,
    exclude: Excludes = None,
    daily: Annotated[int, typer.Option(min=0, help="Retention: one a day, N days.")] = 7,
    weekly: Annotated[int, typer.Option(min=0, help="Retention: one a week, N weeks.")] = 4,
    monthly: Annotated[int, typer.Option(min=0, help="Retention: one a month, N months.")] = 6,
    keep_last: Annotated[int, typer.Option(min=0, help="Retention: the N newest.")] = 0,
    timezone: Annotated[str, typer.Option(help="Calendar for days/weeks/months.")] = "UTC",
    token_secret: TokenSecret = DEFAULT_TOKEN_SECRET,
    project: Project = None,
    as_json: AsJson = False,
    verbose: Verbose = False,
) -> None:
    """What a run would snapshot and then prune, without changing anything (read-only token OK)."""
    try:
        policy = _policy(daily=daily, weekly=weekly, monthly=monthly, keep_last=keep_last)
        from flows.snapshot_servers import run_locally  # noqa: PLC0415

        with quiet_prefect_console(verbose):
            result = run_locally(
                label_selector=label_selector,
                servers=server,
                exclude=exclude,
                dry_run=True,
                retention=policy,
                timezone=timezone,
                token_secret=token_secret,
                project=project,
            )
    except HsnapError as exc:
        fail(exc)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        out.print(rows_table(reporting.rows(result), title=reporting.verdict(result)))
        _print_prune(
            reporting.prune_rows(result.pruned), reporting.prune_verdict(result.pruned), False, None
        )
    if result.prune_error:
        err.print(f"[red]hsnap: retention failed: {result.prune_error}[/red]", highlight=False)
    raise typer.Exit(reporting.exit_code(result))
