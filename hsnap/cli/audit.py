"""The audit command: has every server a snapshot younger than the RPO, and what does it cost?"""

from __future__ import annotations

import json
import textwrap
from typing import Annotated

import typer

from hsnap.cli.common import (
    AsJson,
    Project,
    TokenSecret,
    Verbose,
    app,
    fail,
    out,
    run_flow,
)
from hsnap.console import rows_table
from hsnap.errors import ConfigError
from hsnap.observe.audit import DEFAULT_RPO_HOURS
from hsnap.observe.audit_report import table_columns
from hsnap.settings import DEFAULT_TOKEN_SECRET


@app.command(rich_help_panel="Snapshots")
def audit(
    rpo_hours: Annotated[
        float, typer.Option(help="Recovery point objective: the oldest a newest snapshot may be.")
    ] = DEFAULT_RPO_HOURS,
    token_secret: TokenSecret = DEFAULT_TOKEN_SECRET,
    project: Project = None,
    as_json: AsJson = False,
    verbose: Verbose = False,
) -> None:
    """Each server's newest snapshot, its age against the RPO, what snapshots cost a month,
    and what they do not cover (volumes, addresses lost on delete, recipe, backups).

    Exit 0 when every server meets the RPO, 1 naming those that do not, 2 on bad input or
    credentials. A read-only token is enough.
    """
    if not 0 < rpo_hours <= 24 * 366:
        fail(ConfigError(f"--rpo-hours {rpo_hours:g}: use a number of hours above 0"))
    from hsnap.flows.audit_snapshots import run_locally  # noqa: PLC0415 -- imports Prefect: slow

    data = run_flow(
        run_locally,
        verbose=verbose,
        rpo_hours=rpo_hours,
        token_secret=token_secret,
        project=project,
    )
    if as_json:
        typer.echo(json.dumps(data["report"], indent=2))
    else:
        columns = table_columns(data["report"]["currency"])
        title = f"hsnap audit: {data['verdict']}"
        out.print(rows_table(data["table"], title=title, columns=columns))
        for line in data["uncovered"]:  # wrapped, not cut: the names are the point
            out.print(
                textwrap.fill(
                    line,
                    out.width,
                    subsequent_indent="    ",
                    break_long_words=False,
                    break_on_hyphens=False,
                ),
                highlight=False,
            )
    raise typer.Exit(1 if data["report"]["breaches"] else 0)
