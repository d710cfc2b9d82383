"""Restore commands: snapshots (list), restore (new server or in place), drill."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any, NoReturn

import typer

from hsnap.cli.common import (
    AsJson,
    LabelSelector,
    Project,
    ServerNames,
    TokenSecret,
    Verbose,
    app,
    fail,
    out,
    run_flow,
    say,
)
from hsnap.console import rows_table
from hsnap.errors import ConfigError, HsnapError
from hsnap.settings import DEFAULT_TOKEN_SECRET

ServerArg = Annotated[str, typer.Argument(help="Server name.")]
PANEL = "Restore"
#: error codes that mean bad input or credentials: exit 2
_INPUT_CODES = frozenset({"config", "unauthorized", "token_readonly", "forbidden", "invalid_input"})


def _code(exc: HsnapError) -> int:
    """Exit 2 for bad input or credentials, else 1."""
    return 2 if exc.code in _INPUT_CODES else 1


def _fail(exc: HsnapError) -> NoReturn:
    fail(exc, code=_code(exc))


@app.command(rich_help_panel=PANEL)
def snapshots(
    server: ServerArg,
    timezone: Annotated[str, typer.Option(help="Calendar retention counts in.")] = "UTC",
    token_secret: TokenSecret = DEFAULT_TOKEN_SECRET,
    project: Project = None,
    as_json: AsJson = False,
) -> None:
    """A server's snapshots and Hetzner Backups: maker, retention reason, last proven by a drill."""
    from hsnap.cloud.client import Cloud  # noqa: PLC0415 -- keeps --help fast
    from hsnap.policy import check_timezone  # noqa: PLC0415
    from hsnap.restore.catalog import TABLE_COLUMNS, list_snapshots, table_rows  # noqa: PLC0415
    from hsnap.retention.policy import RetentionPolicy  # noqa: PLC0415
    from hsnap.settings import load_settings  # noqa: PLC0415

    try:
        check_timezone(timezone)
        cloud = Cloud(load_settings(token_secret, project))
        found, rows = list_snapshots(
            cloud, server, RetentionPolicy(), timezone=timezone, now=datetime.now(UTC)
        )
    except HsnapError as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in rows], indent=2))
        return
    kept = sum(1 for r in rows if r.maker == "backup")
    title = f"{found.name} (id {found.id}): {len(rows) - kept} snapshot(s), {kept} backup(s)"
    cells = table_rows(rows, datetime.now(UTC))
    out.print(rows_table(cells, title=title, columns=TABLE_COLUMNS))


@app.command(rich_help_panel=PANEL)
def restore(
    server: ServerArg,
    new_name: Annotated[
        str | None, typer.Option("--as", help="Restore into a new server of this name.")
    ] = None,
    in_place: Annotated[
        bool, typer.Option("--in-place", help="Rebuild SERVER itself (destroys its disk).")
    ] = False,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace", help="SERVER is gone: create it again as it was (addresses, networks...)."
        ),
    ] = False,
    image: Annotated[
        int | None, typer.Option("--image", help="Image id (default: the newest snapshot).")
    ] = None,
    server_type: Annotated[str | None, typer.Option(help="With --as: server type.")] = None,
    location: Annotated[str | None, typer.Option(help="With --as: location.")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Really rebuild in place.")] = False,
    no_safety_snapshot: Annotated[
        bool, typer.Option("--no-safety-snapshot", help="In place: skip the safety snapshot.")
    ] = False,
    boot_wait_minutes: Annotated[float, typer.Option(help="Minutes to wait for it to run.")] = 30,
    open_: Annotated[
        bool,
        typer.Option("--open", help="With --as: the original's networks, firewalls and labels."),
    ] = False,
    allow: Annotated[
        list[str] | None,
        typer.Option("--allow", help="With --as, quarantined: SSH in from this CIDR (repeat)."),
    ] = None,
    token_secret: TokenSecret = DEFAULT_TOKEN_SECRET,
    project: Project = None,
    as_json: AsJson = False,
    verbose: Verbose = False,
) -> None:
    """Restore a server from its newest snapshot: --as NEW_NAME, --in-place --yes, or --replace."""
    parameters: dict[str, Any] = {
        "server": server,
        "new_name": new_name,
        "in_place": in_place,
        "replace": replace,
        "image_id": image,
        "server_type": server_type,
        "location": location,
        "confirm": yes,
        "safety_snapshot": not no_safety_snapshot,
        "boot_wait_minutes": boot_wait_minutes,
        "quarantine": not open_,
        "allow": allow or [],
        "token_secret": token_secret,
        "project": project,
    }
    _check_isolation(parameters)
    if in_place and not yes:
        try:
            _refuse_unconfirmed(parameters)
        except HsnapError as exc:
            _fail(exc)
    from hsnap.flows.restore_server import run_locally, summary  # noqa: PLC0415 -- slow import
    from hsnap.restore.replace import ReplaceResult  # noqa: PLC0415

    result = run_flow(run_locally, verbose=verbose, code_of=_code, **parameters)
    if isinstance(result, ReplaceResult):
        _show_replace(result, as_json)
    elif as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        out.print(summary(result), highlight=False)


def _check_isolation(parameters: dict[str, Any]) -> None:
    """--open and --allow are checked before anything starts (exit 2 on bad input)."""
    from hsnap.restore.restore import RestoreRequest  # noqa: PLC0415

    if parameters["allow"] or not parameters["quarantine"]:
        if parameters["new_name"] is None:
            _fail(ConfigError("--open and --allow go with --as NEW_NAME (a new server)"))
        try:
            RestoreRequest(
                server=parameters["server"],
                new_name=parameters["new_name"],
                quarantine=parameters["quarantine"],
                allow=tuple(parameters["allow"]),
            )
        except HsnapError as exc:
            _fail(exc)


def _show_replace(result: Any, as_json: bool) -> None:
    """Changed addresses first and loudly, then a row per step; exit 1 unless it is as it was."""
    from hsnap.restore.replace import replaced  # noqa: PLC0415

    for line in result.warnings:
        say(line, style="bold red")
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        cells = [
            {k: "" if v is None else str(v) for k, v in asdict(r).items()} for r in result.rows
        ]
        columns = ("step", "target", "status", "detail")
        out.print(rows_table(cells, title=replaced(result), columns=columns))
    for row in result.failed:  # on stderr too, for whoever reads only that
        say(f"hsnap: {row.step} {row.target}: {row.detail}")
    if result.failed or result.changed:
        raise typer.Exit(1)


def _refuse_unconfirmed(parameters: dict[str, Any]) -> NoReturn:
    """Check the in-place request (reads only), say what it would destroy, exit 2."""
    from hsnap.cloud.client import Cloud  # noqa: PLC0415
    from hsnap.restore.restore import RestoreRequest, plan_restore  # noqa: PLC0415
    from hsnap.settings import load_settings  # noqa: PLC0415

    request = RestoreRequest(
        server=parameters["server"],
        in_place=True,
        image_id=parameters["image_id"],
        server_type=parameters["server_type"],
        location=parameters["location"],
        safety_snapshot=parameters["safety_snapshot"],
    )
    plan = plan_restore(
        Cloud(load_settings(parameters["token_secret"], parameters["project"])), request
    )
    raise ConfigError(f"nothing changed: {plan.destroys()}. Add --yes to do it")


@app.command(rich_help_panel=PANEL)
def drill(
    label_selector: LabelSelector = None,
    server: ServerNames = None,
    max_servers: Annotated[int, typer.Option(min=1, help="At most N drills this run.")] = 5,
    max_concurrency: Annotated[int, typer.Option(min=1, help="Throwaway servers at once.")] = 2,
    boot_wait_minutes: Annotated[float, typer.Option(help="Minutes a server may take.")] = 10,
    token_secret: TokenSecret = DEFAULT_TOKEN_SECRET,
    project: Project = None,
    as_json: AsJson = False,
    verbose: Verbose = False,
) -> None:
    """Prove snapshots boot: restore each into a throwaway server, time it, delete it."""
    from hsnap.flows.verify_snapshots import run_locally  # noqa: PLC0415 -- imports Prefect: slow
    from hsnap.restore import report  # noqa: PLC0415

    outcomes = run_flow(
        run_locally,
        verbose=verbose,
        code_of=_code,
        label_selector=label_selector,
        servers=server,
        max_servers=max_servers,
        max_concurrency=max_concurrency,
        boot_wait_minutes=boot_wait_minutes,
        token_secret=token_secret,
        project=project,
    )
    if as_json:
        typer.echo(json.dumps([o.to_dict() for o in outcomes], indent=2))
    else:
        now = datetime.now(UTC)
        title = f"drill: {report.verdict(outcomes)}"
        columns = report.table_columns(report.currency_of(outcomes))
        out.print(rows_table(report.rows(outcomes, now), title=title, columns=columns))
    failed = report.failed(outcomes)
    credentials = failed and all(o.error_code in _INPUT_CODES for o in failed)
    raise typer.Exit(2 if credentials else 1 if failed else 0)
