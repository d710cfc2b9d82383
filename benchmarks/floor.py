"""hsnap's own cost per server against Prefect's floor, measured in the same run.

    python benchmarks/floor.py --servers 1000

The floor is what any flow that does hsnap's job through Prefect must pay: a flow that maps a
task over the same number of items on the same task runner and concurrency as hsnap, whose task
does what every hsnap task does through Prefect (its two log lines at the default level and
one Prefect event) and nothing else. hsnap's figure is its run on defaults against ``hcloud_sim``
with snapshots that take no time (``benchmarks/fleet.py``'s instant case), so what is left is its
own cost. Both run in a fresh process with Prefect's temporary server, one after the other.

Prints one JSON line per size: real ms per server for each, their ratio (target <= 2), and CPU
ms per server of the flow process (the temporary Prefect server is a separate process and not
counted), with the machine's load average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def floor_child(items: int) -> None:
    """The floor flow, in this process (Prefect's temporary server, like the hsnap child)."""
    from prefect import flow, get_run_logger, task  # noqa: PLC0415
    from prefect.cache_policies import NO_CACHE  # noqa: PLC0415
    from prefect.client.orchestration import get_client  # noqa: PLC0415
    from prefect.events import emit_event  # noqa: PLC0415

    from benchmarks.fleet import cpu_s  # noqa: PLC0415
    from hsnap.flows.fan_out import each_completed  # noqa: PLC0415
    from hsnap.policy import DEFAULT_MAX_CONCURRENCY  # noqa: PLC0415

    @task(name="floor-item", task_run_name="floor-{plan}", cache_policy=NO_CACHE)
    def one(plan: int) -> int:  # each_completed passes ``plan``, as to hsnap's task
        item = plan
        log = get_run_logger()
        log.info("node-%04d (id %d): creating snapshot: image %d, action %d", *[item] * 4)
        log.info("node-%04d (id %d): snapshot image %d is available", item, item, item)
        emit_event(
            event="hsnap.snapshot.succeeded",
            resource={"prefect.resource.id": f"hcloud.server.{item}"},
            payload={"image_id": item},
        )
        return item

    @flow(name="prefect-floor")
    def floor(count: int) -> int:
        done = 0
        for _plan, _value in each_completed(one, list(range(count)), {}, DEFAULT_MAX_CONCURRENCY):
            done += 1
        return done

    with get_client(sync_client=True) as client:
        client.hello()
    cpu, real = cpu_s(), time.monotonic()
    floor(items)
    print(json.dumps({"real_s": time.monotonic() - real, "cpu_s": cpu_s() - cpu}))


def run_floor(items: int) -> dict[str, Any]:
    env = {
        **os.environ,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_HOME": str(HERE / ".prefect-home"),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    }
    env.pop("PREFECT_API_URL", None)
    child = subprocess.run(  # noqa: S603 -- this script, as the flow process
        [sys.executable, __file__, "--child", str(items)],
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if child.returncode != 0:
        raise RuntimeError(f"floor child failed:\n{child.stderr[-3000:]}")
    return dict(json.loads(child.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, nargs="+", default=[1000])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        floor_child(args.child)
        return
    from benchmarks.fleet import run_case  # noqa: PLC0415

    for n in args.servers:
        floor = run_floor(n)
        hsnap = run_case("hsnap", n, 50.0, 3600, True)
        hsnap_ms, floor_ms = 1000 * hsnap["real_s"] / n, 1000 * floor["real_s"] / n
        line = {
            "servers": n,
            "hsnap_ms_per_server": round(hsnap_ms, 1),
            "floor_ms_per_server": round(floor_ms, 1),
            "ratio": round(hsnap_ms / floor_ms, 2),
            "hsnap_cpu_ms_per_server": round(1000 * hsnap["cpu_s"] / n, 1),
            "floor_cpu_ms_per_server": round(1000 * floor["cpu_s"] / n, 1),
            "hsnap_requests_per_server": hsnap["requests_per_server"],
            "hsnap_peak_rss_mb": hsnap["peak_rss_mb"],
            "targets": {"hsnap <= 2 x floor": hsnap_ms <= 2 * floor_ms},
            "load_avg_1_5_15": [round(x, 2) for x in os.getloadavg()],
        }
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    main()
