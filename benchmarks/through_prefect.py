"""The fleet case of the benchmark, the production way: PostgreSQL, Prefect server, 2 workers.

Every piece is the real one and starts from nothing: PostgreSQL (Debian's package) in a temporary
directory, ``prefect server start`` on it, ``hsnap setup``, ``hsnap project add`` for each
project, two process workers on the pool; then the ``nightly-fleet`` deployment runs with
``run_parameters={}`` (the snapshot flow's defaults: no retention, no override). Wall time is
simulated time from the trigger to the fleet run's end, so it includes the workers picking up
the runs and starting their processes. The helpers are the end-to-end tests' own.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.fleet import Simulator, servers_of
from tests.e2e import conftest as e2e
from tests.e2e.postgres import postgres_server

WORKERS = 2


def fleet_scenario(projects: int, servers: int, locked: float) -> tuple[dict[str, Any], float]:
    """P projects of N servers each (own tokens ``p<k>-rw``); the ideal is the slowest server."""
    specs, ideal = [], 0.0
    for k in range(1, projects + 1):
        servers_k, ideal_k = servers_of(
            servers, instant=False, locked=locked, seed=k, prefix=f"p{k}-node"
        )
        ideal = max(ideal, ideal_k)
        specs.append({"name": f"p{k}", "tokens": [{"token": f"p{k}-rw"}], "servers": servers_k})
    return {"name": f"fleet-{projects}x{servers}", "projects": specs}, ideal


def run_fleet_case(projects: int, servers: int, scale: float, locked: float) -> dict[str, Any]:
    """Run the case; one result line (the same keys as the single-project cases)."""
    scenario, ideal = fleet_scenario(projects, servers, locked)
    started: list[Any] = []
    with tempfile.TemporaryDirectory() as tmp, postgres_server() as database_url:
        sim = Simulator(scenario, scale, Path(tmp))
        try:
            env = _prefect(Path(tmp), database_url, sim, scale, started)
            for k in range(1, projects + 1):
                added = e2e.run_hsnap(
                    env, "project", "add", f"p{k}", "--token-stdin", stdin=f"p{k}-rw"
                )
                if added.returncode:
                    raise RuntimeError(added.stderr)
            for i in range(WORKERS):
                started.append(e2e.start_worker(env, f"bench-{i}", Path(tmp) / f"worker-{i}.log"))
            state, wall, real, failed = _run_fleet(env, sim)
            stats = sim.control("GET", "stats")["requests"]
        finally:
            for process in reversed(started):
                e2e.stop(process)
            sim.stop()
    total_servers = projects * servers
    return {
        "tool": "hsnap",
        "projects": projects,
        "servers": total_servers,
        "locked_pct": locked,
        "budget": 3600,
        "instant_actions": False,
        "time_scale": scale,
        "ideal_s": ideal,
        "wall_s": round(wall, 1),
        "wall_over_ideal": round(wall / ideal, 3),
        "requests_per_server": round(sum(r["count"] for r in stats) / total_servers, 2),
        "responses_429": sum(r["count"] for r in stats if r["status"] == 429),
        "failed": failed,
        "fleet_state": state,
        "real_s": round(real, 1),
    }


def _prefect(
    home: Path, database_url: str, sim: Simulator, scale: float, started: list[Any]
) -> Any:
    """A Prefect server on PostgreSQL with hsnap set up; the environment to talk to it."""
    port = e2e.free_port()
    env = e2e.base_env(home)
    env.update(
        PREFECT_API_DATABASE_CONNECTION_URL=database_url,
        PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false",  # only the run the benchmark starts
        HSNAP_TIME_SCALE=f"{scale:g}",
        HCLOUD_ENDPOINT=f"{sim.base}/v1",
    )
    started.append(e2e.start_prefect_server(env, port, home / "server.log"))
    api_url = f"http://127.0.0.1:{port}/api"
    e2e.wait_until(lambda: e2e.healthy(api_url), "the Prefect server", 120)
    env["PREFECT_API_URL"] = api_url
    setup = e2e.run_hsnap(
        env, "setup", "--token-stdin", "--project-dir", str(e2e.REPO), stdin="p1-rw"
    )
    if setup.returncode:
        raise RuntimeError(setup.stdout + setup.stderr)
    return env


def _run_fleet(env: dict[str, str], sim: Simulator) -> tuple[str, float, float, int]:
    """Trigger nightly-fleet, wait; (state, simulated wall, real seconds, failed servers)."""
    os.environ["PREFECT_API_URL"] = env["PREFECT_API_URL"]
    from prefect.deployments import run_deployment  # noqa: PLC0415

    from hsnap.deployment.trigger import report_rows  # noqa: PLC0415

    sim.control("POST", "reset")  # the locks start now, as the run does
    start, real = sim.now(), time.monotonic()
    run: Any = run_deployment(
        "snapshot-fleet/nightly-fleet",
        parameters={"run_parameters": {}},
        timeout=3600,
        poll_interval=0.5,  # the default 5 s would add up to 50 simulated s at time scale 10
    )
    wall, real = sim.now() - start, time.monotonic() - real
    rows = report_rows(str(run.id), key="fleet-report")
    failed = sum(int(r["failed"] or 0) for r in rows) + sum(1 for r in rows if not r["servers"])
    return (run.state.name if run.state else "unknown"), wall, real, failed
