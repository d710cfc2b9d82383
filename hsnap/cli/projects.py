"""Project commands: hsnap project add / list / remove (HetznerProject blocks)."""

from __future__ import annotations

import json
import os
from typing import Annotated

import typer

from hsnap.cli.common import AsJson, Reserve, app, fail, out, read_token
from hsnap.console import rows_table
from hsnap.errors import HsnapError
from hsnap.settings import DEFAULT_ENDPOINT
from hsnap.tables import Column

PROJECT_COLUMNS = (
    Column("name", drop=0),
    Column("display name", short="shown as", drop=3),
    Column("endpoint", drop=2),
    Column("servers", drop=1, right=True),
    Column("access", drop=0),
)

project_app = typer.Typer(
    help="Hetzner projects (one API token each) that flows and commands take as --project.",
    no_args_is_help=True,
)
app.add_typer(project_app, name="project", rich_help_panel="Projects")


def _prefect_api() -> None:
    from hsnap.deployment.setup import prefect_api_url  # noqa: PLC0415 -- imports Prefect

    prefect_api_url()


@project_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Block name: lowercase letters, digits, dashes.")],
    token_stdin: Annotated[
        bool, typer.Option("--token-stdin", help="Read the token from standard input.")
    ] = False,
    endpoint: Annotated[
        str | None, typer.Option(help="API endpoint (default: HCLOUD_ENDPOINT or Hetzner's).")
    ] = None,
    label_selector: Annotated[
        str | None, typer.Option("--label-selector", "-l", help="Default label selector.")
    ] = None,
    display_name: Annotated[str, typer.Option(help="A name for people.")] = "",
    reserve: Reserve = None,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite an existing one.")] = False,
) -> None:
    """Store a project's token in a HetznerProject block, after one read that checks it.

    The token comes from HCLOUD_TOKEN, standard input (--token-stdin) or a hidden prompt; it is
    never an argument and never printed.
    """
    from hsnap.projects.registry import add_project  # noqa: PLC0415 -- imports Prefect: slow

    try:
        _prefect_api()
        servers = add_project(
            name,
            read_token(token_stdin),
            endpoint=endpoint or os.environ.get("HCLOUD_ENDPOINT") or DEFAULT_ENDPOINT,
            label_selector=label_selector,
            display_name=display_name,
            replace=replace,
            reserve=reserve,
        )
    except HsnapError as exc:
        fail(exc)
    out.print(f"project {name}: token checked ({servers} server(s)); stored in block {name!r}")


@project_app.command("list")
def list_(as_json: AsJson = False) -> None:
    """Every project: name, endpoint, number of servers, and whether its token is read-only."""
    from hsnap.projects.registry import describe_project, project_names  # noqa: PLC0415

    try:
        _prefect_api()
        infos = [describe_project(name) for name in project_names()]
    except HsnapError as exc:
        fail(exc)
    rows = [info.to_dict() for info in infos]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    elif not rows:
        out.print("no Hetzner project yet: add one with hsnap project add NAME")
    else:
        title = f"{len(rows)} Hetzner project(s)"
        out.print(rows_table(rows, title=title, columns=PROJECT_COLUMNS))


@project_app.command("remove")
def remove(name: Annotated[str, typer.Argument(help="The project's block name.")]) -> None:
    """Forget a project (deletes its block; nothing changes in the Hetzner project itself)."""
    from hsnap.projects.registry import remove_project  # noqa: PLC0415

    try:
        _prefect_api()
        remove_project(name)
    except HsnapError as exc:
        fail(exc)
    out.print(f"project {name} removed")
