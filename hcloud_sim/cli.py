"""``hcloud-sim``: run the Hetzner Cloud API simulator from the shell."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from hcloud_sim.clock import MAX_TIME_SCALE
from hcloud_sim.scenarios import BUILTINS, ScenarioError, load_scenario
from hcloud_sim.server import SimulatorServer

app = typer.Typer(
    help="A faithful, stateful simulator of the Hetzner Cloud API.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind (keep it on loopback).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.")] = 8780,
    scenario: Annotated[str, typer.Option(help="Built-in name or a YAML/JSON file.")] = "demo",
    time_scale: Annotated[
        float | None, typer.Option(help="Simulated seconds per real second (default: scenario's).")
    ] = None,
    control_token: Annotated[
        str | None,
        typer.Option(
            envvar="HCLOUD_SIM_CONTROL_TOKEN",
            help="Require 'Authorization: Bearer TOKEN' on the control API (/_sim).",
            show_default=False,
        ),
    ] = None,
    scenario_dir: Annotated[
        list[Path] | None,
        typer.Option(
            help="A directory whose scenario files POST /_sim/reset may load (repeatable).",
            exists=True,
            file_okay=False,
            show_default=False,
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every request.")] = False,
) -> None:
    """Serve the API at http://HOST:PORT/v1 and the control API at /_sim until Ctrl-C.

    The control API answers only requests addressed to a loopback Host (localhost, 127.0.0.1,
    [::1]); POST /_sim/reset loads built-ins, the --scenario file and files below --scenario-dir.
    """
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="%(asctime)s %(message)s"
    )
    try:
        loaded = load_scenario(scenario)
    except ScenarioError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if time_scale is not None and not 0 < time_scale <= MAX_TIME_SCALE:  # also refuses nan
        console.print(f"[red]error:[/red] --time-scale must be > 0 and at most {MAX_TIME_SCALE:g}")
        raise typer.Exit(2)
    if control_token is not None and not control_token.strip():
        console.print("[red]error:[/red] --control-token must not be empty")
        raise typer.Exit(2)
    try:
        if not ipaddress.ip_address(host).is_loopback:
            console.print(
                f"[yellow]warning:[/yellow] {host} is not a loopback address; the "
                "simulator has no real security"
            )
    except ValueError:
        pass  # a host name such as localhost
    try:
        server = SimulatorServer(
            scenario,
            host=host,
            port=port,
            time_scale=time_scale,
            control_token=control_token,
            scenario_dirs=scenario_dir or (),
        )
    except OSError as exc:  # the port is taken, or the address is not ours
        console.print(f"[red]error:[/red] cannot listen on {host}:{port}: {exc.strerror or exc}")
        raise typer.Exit(2) from None
    project = loaded.projects[0]
    tokens = ", ".join(f"{t.token}{' (read-only)' if t.readonly else ''}" for t in project.tokens)
    console.print(
        f"hcloud-sim: scenario [bold]{loaded.name}[/bold] ({len(server.state.project().servers)} "
        f"servers, time x{server.state.clock.scale:g})\n"
        f"  API      {server.url}\n  control  {server.base_url}/_sim"
        f"{' (control token required)' if control_token else ''}\n  tokens   {tokens}\n"
        f"  try      HCLOUD_ENDPOINT={server.url} HCLOUD_TOKEN={project.tokens[0].token} "
        "hcloud server list"
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        console.print("hcloud-sim: stopped")


@app.command()
def scenarios() -> None:
    """List the built-in scenarios."""
    for name in BUILTINS:
        loaded = load_scenario(name)
        count = sum(len(p.servers) for p in loaded.projects)
        typer.echo(f"{name:8} {count:4} server specs  {loaded.description}")


@app.command()
def check(path: str) -> None:
    """Validate a scenario file and say what it defines."""
    try:
        loaded = load_scenario(path)
        from hcloud_sim.state import Simulator  # noqa: PLC0415 -- only needed here

        sim = Simulator(loaded)
    except (ScenarioError, ValueError) as exc:
        console.print(f"[red]invalid:[/red] {exc}")
        raise typer.Exit(2) from None
    for name, project in sim.projects.items():
        typer.echo(
            f"project {name}: {len(project.servers)} servers, "
            f"{len(project.images)} images, {len(project.actions)} running actions, "
            f"{len(project.faults.rules())} fault rules"
        )


if __name__ == "__main__":
    app()
