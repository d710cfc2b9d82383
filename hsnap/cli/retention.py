"""Retention commands: plan (what a run would snapshot and prune) and prune."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hsnap.cli.common import (
    AsJson,
    DryRun,
    Excludes,
    LabelSelector,
    Project,
    Reserve,
    ServerNames,
    TokenSecret,
    Verbose,
    app,
    check_locally,
    fail,
    out,
    run_flow,
    say,
)
from hsnap.console import rows_table
from hsnap.errors import ConfigError
from hsnap.policy import check_timezone
from hsnap.retention.policy import RetentionPolicy
from hsnap.settings import DEFAULT_TOKEN_SECRET, load_settings
from hsnap.snapshot import report as reporting

if TYPE_CHECKING:
    from hsnap.snapshot.budget import BudgetPlan

_DEFAULT = RetentionPolicy()
#: a command's parameters that are not retention options
_NOT_POLICY = frozenset(
    {
        "dry_run",
        "label_selector",
        "server",
        "exclude",
        "as_json",
        "verbose",
        "parameters",
        "reserve",
    }
)
# One definition of each retention option: ``hsnap prune`` and ``hsnap plan`` offer the same names
# and defaults (the policy's own), so a plan shows exactly what the same prune would do.
KeepLast = Annotated[int, typer.Option(min=0, help="Keep the N newest.")]
Hourly = Annotated[int, typer.Option(min=0, help="Keep one a hour, N hours.")]
Daily = Annotated[int, typer.Option(min=0, help="Keep one a day, N days.")]
Weekly = Annotated[int, typer.Option(min=0, help="Keep one a week, N weeks.")]
Monthly = Annotated[int, typer.Option(min=0, help="Keep one a month, N months.")]
Yearly = Annotated[int, typer.Option(min=0, help="Keep one a year, N years.")]
MinKeep = Annotated[int, typer.Option(min=1, help="Always keep N per server.")]
MaxDeletions = Annotated[int, typer.Option(min=0, help="Delete at most N per run.")]
DeleteOrphans = Annotated[
    bool, typer.Option("--delete-orphans", help="Prune snapshots of deleted servers too.")
]
Timezone = Annotated[str, typer.Option(help="Calendar for days/weeks/months.")]


def _policy(
    timezone: str, token_secret: str, project: str | None, **options: Any
) -> RetentionPolicy:
    """The retention policy from the options, environment checked: before Prefect starts."""
    try:
        check_timezone(timezone)
        policy = RetentionPolicy(
            keep_orphans=not options.pop("delete_orphans"),
            max_deletions=options.pop("max_deletions"),
            **options,
        )
        load_settings(token_secret, project, may_start_prefect=False)
    except ValueError as exc:
        fail(ConfigError(str(exc)))
    except ConfigError as exc:
        fail(exc)
    return policy


def _print_prune(rows: list[dict[str, str]], verdict: str, as_json: bool, data: Any) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        title = f"retention: {verdict}"
        out.print(rows_table(rows, title=title, columns=reporting.PRUNE_TABLE_COLUMNS))


@app.command(rich_help_panel="Retention")
def prune(
    dry_run: DryRun = False,
    keep_last: KeepLast = _DEFAULT.keep_last,
    hourly: Hourly = _DEFAULT.hourly,
    daily: Daily = _DEFAULT.daily,
    weekly: Weekly = _DEFAULT.weekly,
    monthly: Monthly = _DEFAULT.monthly,
    yearly: Yearly = _DEFAULT.yearly,
    min_keep: MinKeep = _DEFAULT.min_keep,
    max_deletions: MaxDeletions = _DEFAULT.max_deletions or 0,
    delete_orphans: DeleteOrphans = not _DEFAULT.keep_orphans,
    timezone: Timezone = "UTC",
    token_secret: TokenSecret = DEFAULT_TOKEN_SECRET,
    project: Project = None,
    as_json: AsJson = False,
    verbose: Verbose = False,
) -> None:
    """Delete hsnap's old snapshots by a retention policy (never an image hsnap did not make)."""
    policy = _policy(**{k: v for k, v in locals().items() if k not in _NOT_POLICY})
    from hsnap.flows.prune_snapshots import run_locally  # noqa: PLC0415 -- imports Prefect: slow

    rows = run_flow(
        run_locally,
        verbose=verbose,
        retention=policy,
        timezone=timezone,
        dry_run=dry_run,
        token_secret=token_secret,
        project=project,
    )
    data = {"pruned": [r.to_dict() for r in rows]}
    _print_prune(reporting.prune_rows(rows), reporting.prune_verdict(rows), as_json, data)
    raise typer.Exit(1 if any(r.result == "failed" for r in rows) else 0)


def forecast(
    servers: int, token_secret: str, project: str | None, reserve: int | None
) -> BudgetPlan:
    """The requests a run over ``servers`` takes, against the budget the dry run last saw."""
    from hsnap.clock import Clock  # noqa: PLC0415
    from hsnap.cloud.governor import governor_for  # noqa: PLC0415 -- imports requests
    from hsnap.snapshot.budget import predict  # noqa: PLC0415

    settings = load_settings(token_secret, project)  # the dry run just read it: no surprise
    governor = governor_for(settings, Clock(settings.time_scale))  # this process's, as the run's
    left = governor.remaining()
    return predict(
        servers,
        remaining=None if left is None else int(left),
        limit=governor.limit,
        reserve=reserve if reserve is not None else settings.reserve,
    )


@app.command(rich_help_panel="Retention")
def plan(
    label_selector: LabelSelector = None,
    server: ServerNames = None,
    exclude: Excludes = None,
    keep_last: KeepLast = _DEFAULT.keep_last,
    hourly: Hourly = _DEFAULT.hourly,
    daily: Daily = _DEFAULT.daily,
    weekly: Weekly = _DEFAULT.weekly,
    monthly: Monthly = _DEFAULT.monthly,
    yearly: Yearly = _DEFAULT.yearly,
    min_keep: MinKeep = _DEFAULT.min_keep,
    max_deletions: MaxDeletions = _DEFAULT.max_deletions or 0,
    delete_orphans: DeleteOrphans = not _DEFAULT.keep_orphans,
    timezone: Timezone = "UTC",
    token_secret: TokenSecret = DEFAULT_TOKEN_SECRET,
    project: Project = None,
    reserve: Reserve = None,
    as_json: AsJson = False,
    verbose: Verbose = False,
) -> None:
    """What a run would snapshot and prune, and the requests it takes against the budget left.

    Changes nothing (a read-only token is enough). Warns when the run cannot finish without
    pacing at the reserve it leaves to the project's other clients.
    """
    parameters: dict[str, Any] = {
        "label_selector": label_selector,
        "servers": server,
        "exclude": exclude,
        "timezone": timezone,
        "token_secret": token_secret,
        "project": project,
        "reserve": reserve,
    }
    check_locally(parameters)
    policy = _policy(**{k: v for k, v in locals().items() if k not in _NOT_POLICY})
    from hsnap.flows.snapshot_servers import run_locally  # noqa: PLC0415 -- imports Prefect: slow

    result = run_flow(run_locally, verbose=verbose, **parameters, dry_run=True, retention=policy)
    budget = forecast(len(result.outcomes), token_secret, project, reserve)
    if as_json:
        typer.echo(json.dumps({**result.to_dict(), "requests": budget.to_dict()}, indent=2))
    else:
        out.print(rows_table(reporting.rows(result), title=reporting.verdict(result)))
        _print_prune(
            reporting.prune_rows(result.pruned), reporting.prune_verdict(result.pruned), False, None
        )
        for line in budget.describe():
            if line.startswith("warning"):
                say(f"hsnap: {line}", style="")
            else:
                out.print(line, highlight=False)
    if result.prune_error:
        say(f"hsnap: retention failed: {result.prune_error}")
    raise typer.Exit(reporting.exit_code(result))
