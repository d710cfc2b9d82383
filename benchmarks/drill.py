"""Restore-drill benchmark: what a drill run costs in time, requests and money, on hcloud_sim.

    python benchmarks/drill.py [--servers 5] [--max-concurrency 2] [--time-scale 60]

Runs the drill flow in this process (on Prefect's temporary test server) against an in-process
simulator whose servers each have one hsnap snapshot, and prints one JSON line: simulated seconds
for the whole run, each drill's time to running (simulated), API requests, and the cost the drills
report from ``/pricing`` (the simulator's default catalog: Hetzner's list prices).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TYPES = ("cx22", "cx32", "cax11", "cx42", "ccx13")


def fleet(servers: int) -> dict[str, Any]:
    """Servers of mixed types (x86 and arm), each with one available hsnap snapshot."""
    specs = [{"name": f"node-{i}", "server_type": TYPES[i % len(TYPES)]} for i in range(servers)]
    images = [
        {
            "description": f"node-{i} nightly",
            "server": f"node-{i}",
            "age": "1d",
            "labels": {"managed-by": "hsnap", "hsnap/server-id": str(100001 + i)},
        }
        for i in range(servers)
    ]
    return {"name": "drill", "projects": [{"name": "bench", "servers": specs, "images": images}]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=5)
    parser.add_argument("--max-concurrency", type=int, default=2)
    parser.add_argument("--time-scale", type=float, default=60.0)
    args = parser.parse_args()
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect.testing.utilities import prefect_test_harness  # noqa: PLC0415 -- slow import

    from hcloud_sim import SimulatorServer  # noqa: PLC0415
    from hcloud_sim.spec import Scenario  # noqa: PLC0415

    with prefect_test_harness(server_startup_timeout=60):
        sim = SimulatorServer(
            Scenario.model_validate(fleet(args.servers)), time_scale=args.time_scale
        )
        with sim:
            os.environ.update(
                HCLOUD_ENDPOINT=sim.url,
                HCLOUD_TOKEN="sim-token",
                HSNAP_TIME_SCALE=f"{args.time_scale:g}",
            )
            from hsnap.flows.verify_snapshots import run_locally  # noqa: PLC0415

            started = time.monotonic()
            rows = run_locally(max_servers=args.servers, max_concurrency=args.max_concurrency)
            real = time.monotonic() - started
            requests = sum(c["count"] for c in sim.state.request_counts())
    print(
        json.dumps(
            {
                "servers": args.servers,
                "max_concurrency": args.max_concurrency,
                "run_s": round(real * args.time_scale),
                "real_s": round(real, 2),
                "time_to_running_s": [r.time_to_running_s for r in rows],
                "server_types": [r.server_type for r in rows],
                "results": [r.result for r in rows],
                "requests": requests,
                "cost": [r.cost for r in rows],
            }
        )
    )


if __name__ == "__main__":
    main()
