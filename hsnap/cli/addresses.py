"""The keep-addresses command: Primary IPs that outlive their servers (opt-in)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from hsnap.cli.common import AsJson, Excludes, LabelSelector, Project, TokenSecret, app, fail, out
from hsnap.console import rows_table
from hsnap.errors import HsnapError
from hsnap.settings import DEFAULT_TOKEN_SECRET

COLUMNS = ("server", "primary ip", "address", "auto_delete")


@app.command("keep-addresses", rich_help_panel="Restore")
def keep_addresses(
    servers: Annotated[
        list[str] | None, typer.Argument(help="Server names (default: every server).")
    ] = None,
    label_selector: LabelSelector = None,
    exclude: Excludes = None,
    token_secret: TokenSecret = DEFAULT_TOKEN_SECRET,
    project: Project = None,
    as_json: AsJson = False,
) -> None:
    """Keep the selected servers' Primary IPs when a server is deleted (auto_delete off).

    A restore can then take the same addresses back. Changes nothing else; an address kept is
    billed while no server holds it. Exit 2 on bad input or a read-only token (nothing changed).
    """
    from hsnap.cloud.client import Cloud  # noqa: PLC0415 -- keeps --help fast
    from hsnap.restore.addresses import keep_addresses as keep  # noqa: PLC0415
    from hsnap.settings import load_settings  # noqa: PLC0415

    try:
        cloud = Cloud(load_settings(token_secret, project))
        rows = keep(cloud, servers or [], label_selector, exclude)
    except HsnapError as exc:
        fail(exc, code=1 if exc.transient else 2)
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in rows], indent=2))
        return
    changed = sum(1 for r in rows if r.result == "kept now")
    cells = [
        {
            "server": r.server,
            "primary ip": str(r.primary_ip_id),
            "address": r.ip,
            "auto_delete": "on -> OFF (kept now)" if r.result == "kept now" else "off (already)",
        }
        for r in rows
    ]
    title = f"keep-addresses: {changed} Primary IP(s) changed, {len(rows) - changed} already kept"
    out.print(rows_table(cells, title=title, columns=COLUMNS))
