"""What every hsnap command shares: the app, consoles, option types, running and failing."""

from __future__ import annotations

import getpass
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console

from hsnap.console import LiveProgress, report_table
from hsnap.errors import ConfigError, HsnapError
from hsnap.snapshot import report as reporting

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
Project = Annotated[
    str | None,
    typer.Option(
        "--project", "-P", help="Hetzner project (a HetznerProject block; see hsnap project list)."
    ),
]
TokenSecret = Annotated[
    str, typer.Option(help="Prefect Secret block holding the token when HCLOUD_TOKEN is unset.")
]


def read_token(from_stdin: bool) -> str:
    """The Hetzner token from --token-stdin, HCLOUD_TOKEN or a hidden prompt; never echoed."""
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


def parse_labels(pairs: list[str] | None) -> dict[str, str]:
    labels: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--label {pair!r}: use KEY=VALUE")
        labels[key] = value
    return labels


@contextmanager
def quiet_prefect_console(verbose: bool) -> Iterator[None]:
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


def execute(parameters: dict[str, Any], *, as_json: bool, verbose: bool) -> None:
    """Run the snapshot flow locally, render its report, exit 0 / 1 / 2."""
    from prefect.exceptions import ParameterTypeError  # noqa: PLC0415 -- Prefect loads slowly

    from flows.snapshot_servers import run_locally  # noqa: PLC0415

    try:
        with quiet_prefect_console(verbose), LiveProgress(err, enabled=err.is_terminal):
            result = run_locally(**parameters)
    except (ConfigError, ValidationError, ParameterTypeError) as exc:
        fail(exc)
    except HsnapError as exc:  # the run stopped before it could report on any server
        fail(exc, code=2 if exc.code in reporting.CREDENTIAL_CODES else 1)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        out.print(report_table(result))
    raise typer.Exit(reporting.exit_code(result))


def fail(exc: BaseException, code: int = 2) -> NoReturn:
    """Say what went wrong and what to do; exit 2 (bad input or credentials) or ``code``."""
    err.print(f"[red]hsnap: {exc}[/red]", highlight=False)
    raise typer.Exit(code)


def start_prefect() -> None:
    """Bring up Prefect's API (a temporary local server when none is configured)."""
    from prefect.client.orchestration import get_client  # noqa: PLC0415 -- Prefect loads slowly

    with get_client(sync_client=True) as client:
        client.hello()
