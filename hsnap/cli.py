"""``hsnap``: the command line. Parse, call, render; no logic of its own."""

from __future__ import annotations

from typing import Annotated

import typer

from hcloud_sim.cli import serve as serve_simulator

app = typer.Typer(
    help="Trustworthy snapshots of Hetzner Cloud servers.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command()
def demo(
    scenario: Annotated[str, typer.Option(help="Built-in scenario or file.")] = "demo",
    port: Annotated[int, typer.Option(help="Port for the simulator.")] = 8780,
) -> None:
    """Serve the simulator with the demo fleet (the snapshot flow is not built yet)."""
    serve_simulator(host="127.0.0.1", port=port, scenario=scenario, time_scale=None, verbose=False)
