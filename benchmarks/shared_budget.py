"""hsnap sharing its project's request budget with another client of the same project.

    python benchmarks/shared_budget.py                       # 1000 servers, then 2000
    python benchmarks/shared_budget.py --servers 1000 --start-remaining 3600

Another client (think of the Kubernetes cloud-controller-manager) holds its own token of the same
Hetzner project and, for the whole length of an hsnap run on defaults, makes one request every
5 s plus a burst of 100 every 10 minutes (the first at the run's start, with hsnap's own burst of
creates). It must never get a 429; hsnap must still finish, within 1.1 x ideal at 1000 servers.

The 2000-server case starts with the bucket at 2000 of 3600 (``--start-remaining``; another
tool, a Terraform apply say, spent the rest just before the nightly run): then hsnap's start
cannot fit above its reserve (a quarter, 900) and it must pace, which its report says.

Prints one JSON line per case: wall / ideal, the other client's requests and 429s, hsnap's 429s,
requests per server, and the report's budget line. Times are simulated seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

HERE = Path(__file__).resolve().parent
OTHER_TOKEN = "other-client-token"  # noqa: S105 -- a simulator token, not a secret
EVERY_S = 5.0
BURST = 100
BURST_EVERY_S = 600.0


class OtherClient(threading.Thread):
    """1 request every 5 s and a burst of 100 every 10 minutes (simulated), until stopped."""

    def __init__(self, base: str, scale: float) -> None:
        super().__init__(name="other-client", daemon=True)
        self.url = f"{base}/v1/locations"
        self.scale = scale
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {OTHER_TOKEN}"
        self.stop = threading.Event()
        self.sent = 0
        self.limited = 0
        self.lowest: int | None = None

    def _one(self) -> None:
        answer = self.session.get(self.url, timeout=30)
        self.sent += 1
        self.limited += answer.status_code == 429
        left = int(answer.headers.get("RateLimit-Remaining", "0"))
        self.lowest = left if self.lowest is None else min(self.lowest, left)

    def run(self) -> None:
        start = time.monotonic()
        next_burst = 0.0
        tick = 0
        while not self.stop.is_set():
            now = (time.monotonic() - start) * self.scale
            if now >= next_burst:
                for _ in range(BURST):
                    self._one()
                next_burst += BURST_EVERY_S
            self._one()
            tick += 1
            self.stop.wait(max(0.0, start + tick * EVERY_S / self.scale - time.monotonic()))


def run_case(servers: int, scale: float, start_remaining: int, locked: float) -> dict[str, Any]:
    from benchmarks.fleet import Simulator, by_endpoint, servers_of  # noqa: PLC0415

    specs, ideal = servers_of(servers, instant=False, locked=locked, seed=7)
    scenario = {
        "name": f"shared-{servers}",
        "projects": [
            {
                "name": "bench",
                "tokens": [{"token": "sim-token"}, {"token": OTHER_TOKEN}],
                "servers": specs,
            }
        ],
    }
    with tempfile.TemporaryDirectory() as tmp:
        sim = Simulator(scenario, scale, Path(tmp))
        try:
            env = {
                **os.environ,
                "HCLOUD_ENDPOINT": f"{sim.base}/v1",
                "HCLOUD_TOKEN": "sim-token",
                "HSNAP_TIME_SCALE": str(scale),
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "PREFECT_HOME": str(HERE / ".prefect-home"),
                "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
            }
            env.pop("PREFECT_API_URL", None)
            command = [sys.executable, __file__, "--child", sim.base, "--time-scale", str(scale)]
            command += ["--start-remaining", str(start_remaining)]
            child = subprocess.run(  # noqa: S603 -- this script, as the flow process
                command, env=env, capture_output=True, text=True, timeout=7200, check=False
            )
            if child.returncode != 0:
                raise RuntimeError(f"hsnap child failed:\n{child.stderr[-3000:]}")
            result = json.loads(child.stdout.strip().splitlines()[-1])
            stats = sim.control("GET", "stats")["requests"]
        finally:
            sim.stop()
    all_429 = sum(r["count"] for r in stats if r["status"] == 429)
    other = result.pop("other")
    hsnap_total = sum(r["count"] for r in stats) - other["sent"]
    line = {
        "servers": servers,
        "locked_pct": locked,
        "start_remaining": start_remaining,
        "time_scale": scale,
        "ideal_s": ideal,
        "wall_s": round(result["wall_s"], 1),
        "wall_over_ideal": round(result["wall_s"] / ideal, 3),
        "failed": result["failed"],
        "other_client": other,
        "hsnap_429": all_429 - other["responses_429"],
        "hsnap_requests_per_server": round(hsnap_total / servers, 2),
        "budget": result["budget"],
        "requests_per_server_by_endpoint": by_endpoint(stats, servers),
    }
    line["targets"] = {
        "other client 0 x 429": other["responses_429"] == 0,
        "finished, 0 failed": result["failed"] == 0,
    }
    if servers <= 1000:
        line["targets"]["wall <= 1.1 x ideal"] = line["wall_over_ideal"] <= 1.1
    else:
        line["targets"]["pacing reported"] = bool(result["budget"])
    line["load_avg_1_5_15"] = [round(x, 2) for x in os.getloadavg()]
    return line


def child(base: str, scale: float, start_remaining: int) -> None:
    from prefect.client.orchestration import get_client  # noqa: PLC0415

    from benchmarks.fleet import Simulator  # noqa: PLC0415
    from hsnap.flows.snapshot_servers import run_locally  # noqa: PLC0415

    sim = Simulator.__new__(Simulator)
    sim.base = base
    with get_client(sync_client=True) as client:
        client.hello()
    sim.control("POST", "reset")
    sim.control("POST", "rate_limit", remaining=start_remaining)
    other = OtherClient(base, scale)
    start = sim.now()
    other.start()
    report = run_locally()  # defaults: the reserve is a quarter of the bucket
    wall = sim.now() - start
    other.stop.set()
    other.join(timeout=60)
    print(
        json.dumps(
            {
                "wall_s": wall,
                "failed": len(report.failed),
                "budget": report.budget,
                "other": {
                    "sent": other.sent,
                    "responses_429": other.limited,
                    "lowest_remaining_seen": other.lowest,
                },
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, nargs="+", default=[1000, 2000])
    parser.add_argument("--time-scale", type=float, default=10.0)
    parser.add_argument("--locked", type=float, default=10.0)
    parser.add_argument(
        "--start-remaining",
        type=int,
        help="the bucket at the start (default: 3600 up to 1000 servers, 2000 above)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.time_scale, args.start_remaining)
        return
    for n in args.servers:
        start = args.start_remaining or (3600 if n <= 1000 else 2000)
        print(json.dumps(run_case(n, args.time_scale, start, args.locked)), flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    main()
