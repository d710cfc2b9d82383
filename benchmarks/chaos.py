"""Chaos soak: the real ``hsnap run`` CLI against a faulty simulator, killed at random moments.

    python benchmarks/chaos.py --trials 500 --seed 1 [--jobs 2] [--time-scale 300]

Each trial is drawn from its own seeded generator: a fleet of 10 to 50 servers (snapshots of 1 to
10 simulated minutes, some locked by a running action, some whose snapshot action ends in error,
some deleted mid-run, some slow to go down), plain or consistent mode, and a random set of faults
(5xx and 504 bursts, dropped connections, answers delayed past the client's timeout, 429s). Half
of the trials SIGKILL the run at a random moment and start a second run. The CLI runs as a
subprocess (``python -m hsnap.cli run --json``) against one Prefect server, as a user would run it.

After every run and every trial the invariants are checked against the simulator's ground truth:

- every server ends with at least one new available snapshot, or the last run names it failed;
- no run leaves two snapshots of one server (an extra one it removed again does not count);
- no server that was running is left off after a run that exits 0 (after one that exits 1, such
  a server is named in the report);
- no traceback reaches the user (stdout and stderr of every run, the killed ones included);
- no run outlives its deadlines (the sum of the waits its options and hsnap's constants allow).

Prints one JSON line per trial with ``--verbose`` and a summary (figures) at the end; exits 1 if
any invariant was violated.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere: import the checkout's packages
    sys.path.insert(0, str(ROOT))

from benchmarks.chaos_trials import HTTP_TIMEOUT_S, SCALE, Trial, draw  # noqa: E402
from hcloud_sim import SimulatorServer  # noqa: E402 -- after the path fix above

OPTIONS = {  # minutes, as the CLI takes them
    "--lock-wait-minutes": 10,
    "--snapshot-wait-minutes": 30,
    "--shutdown-wait-minutes": 5,
    "--poweron-wait-minutes": 10,
}
_BLOCKS = threading.Lock()
#: real seconds a run may spend outside simulated waits (Python and Prefect start, task overhead)
FIXED_OVERHEAD_S = 90.0


@dataclass
class Run:
    exit_code: int
    wall_s: float
    killed: bool
    report: dict[str, Any] | None


@dataclass
class Result:
    trial: Trial
    runs: list[Run] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    snapshots: int = 0
    removed: int = 0
    fired: dict[str, int] = field(default_factory=dict)  # how often each fault kind struck


def run_trial(trial: Trial, prefect_url: str, scale: float) -> Result:
    """Run a trial (one run, or a killed run and a second one) and check the invariants."""
    result = Result(trial)
    with (
        SimulatorServer(trial.scenario, time_scale=scale) as sim,
        _project(trial, sim.url) as project,
    ):
        running = {s["id"] for s in sim.state.ground_truth()["servers"] if s["status"] == "running"}
        env = _env(prefect_url, scale)
        if trial.kill_after_s is not None:
            killed = _run_cli(trial, env, scale, project, kill_after_s=trial.kill_after_s)
            result.runs.append(killed)
            _check_run(result, killed, sim, running)
            if killed.killed:
                _free_slot(project)
        present = {s["id"] for s in sim.state.ground_truth()["servers"]}
        final = _run_cli(trial, env, scale, project, kill_after_s=None)
        result.runs.append(final)
        _check_run(result, final, sim, running)
        _check_trial(result, final, sim, present)
        rules = sim.state.ground_truth()["faults"]  # in the order of the trial's kinds
        result.fired = {k: r["fired"] for k, r in zip(trial.faults, rules, strict=True)}
    return result


@contextlib.contextmanager
def _project(trial: Trial, endpoint: str) -> Iterator[str]:
    """A Hetzner project (block) per trial: each has its own run slot, as separate projects do.

    The block and its slot are removed when the trial ends, as its simulator is.
    """
    from hsnap.projects.block import HetznerProject  # noqa: PLC0415 -- needs the Prefect API
    from hsnap.projects.registry import remove_project  # noqa: PLC0415

    name = f"chaos-{trial.seed}-{trial.index}"
    with _BLOCKS:  # the first save registers the block type: two at once would both try
        HetznerProject(token="sim-token", endpoint=endpoint).save(name, overwrite=True)
    try:
        yield name
    finally:
        remove_project(name)


def _free_slot(project: str) -> None:
    """What an operator does for a killed run's slot (docs/reliability.md): free it now."""
    from prefect.exceptions import ObjectNotFound  # noqa: PLC0415 -- Prefect loads slowly

    from hsnap.projects.limits import free_project_slot  # noqa: PLC0415 -- needs the Prefect API

    with contextlib.suppress(ObjectNotFound):  # killed before its run made the limit: no slot
        free_project_slot(project)


def _env(prefect_url: str, scale: float) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HCLOUD_", "HSNAP_"))}
    return {
        **env,
        "PREFECT_API_URL": prefect_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # the runs' logs stay on their own stderr (checked for tracebacks); shipping them to the
        # one shared Prefect server too only slows the soak down
        "PREFECT_LOGGING_TO_API_ENABLED": "false",
        "HSNAP_TIME_SCALE": f"{scale:g}",
        "HSNAP_HTTP_TIMEOUT": f"{HTTP_TIMEOUT_S:g}",
        "COLUMNS": "200",
    }


def deadline_s(scale: float) -> float:
    """Real seconds a run may take: every wait its options and hsnap's constants allow, once."""
    from hsnap.snapshot.reconcile import LATE_ANSWER_S  # noqa: PLC0415 -- the product's own
    from hsnap.snapshot.recovery import ABANDONED_AFTER_S  # noqa: PLC0415
    from hsnap.tasks.recover import POWER_ON_TIMEOUT_S  # noqa: PLC0415
    from hsnap.tasks.snapshot_server import RETRIES, RETRY_DELAYS_S  # noqa: PLC0415

    minutes = OPTIONS
    shutdown = minutes["--shutdown-wait-minutes"] * 60
    attempt = (
        minutes["--lock-wait-minutes"] * 60
        + 2 * LATE_ANSWER_S
        + 3 * shutdown  # settle, ACPI, forced
        + minutes["--snapshot-wait-minutes"] * 60
        + minutes["--poweron-wait-minutes"] * 60
    )
    recoveries = 2 * (POWER_ON_TIMEOUT_S + ABANDONED_AFTER_S)  # before and after the snapshots
    api = recoveries + (RETRIES + 1) * attempt + sum(RETRY_DELAYS_S)
    return api / scale + FIXED_OVERHEAD_S


def _run_cli(
    trial: Trial, env: dict[str, str], scale: float, project: str, kill_after_s: float | None
) -> Run:
    args = [sys.executable, "-m", "hsnap.cli", "run", "--json", "--project", project]
    args += [part for name, value in OPTIONS.items() for part in (name, str(value))]
    if trial.consistent:
        args.append("--consistent")
    started = time.monotonic()
    child = subprocess.Popen(  # noqa: S603 -- this interpreter, fixed arguments
        args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    limit = kill_after_s if kill_after_s is not None else deadline_s(scale)
    try:
        out, err = child.communicate(timeout=limit)
        killed = False
    except subprocess.TimeoutExpired:
        child.send_signal(signal.SIGKILL)
        out, err = child.communicate()
        killed = True
    wall = time.monotonic() - started
    code = child.returncode
    run = Run(code, wall, killed and kill_after_s is not None, _report(out))
    run_text = out + err
    if killed and kill_after_s is None:
        run.report = {"violation": f"outlived its deadline of {limit:.0f} s"}
    if "Traceback (most recent call last)" in run_text:
        run.report = {**(run.report or {}), "traceback": _traceback(run_text)}
    return run


def _report(stdout: str) -> dict[str, Any] | None:
    start = stdout.find("{")
    if start < 0:
        return None
    try:
        data: dict[str, Any] = json.loads(stdout[start:])
    except ValueError:
        return None
    return data


def _traceback(text: str) -> str:
    """Where the traceback starts, and how it ends (the exception)."""
    at = text.find("Traceback (most recent call last)")
    return text[at : at + 500] + " ... " + text[-1500:]


def _check_run(result: Result, run: Run, sim: SimulatorServer, running: set[int]) -> None:
    report = run.report or {}
    if "violation" in report:
        result.violations.append(f"run {len(result.runs)}: {report['violation']}")
    if "traceback" in report:
        result.violations.append(f"run {len(result.runs)}: traceback: {report['traceback']}")
    if run.killed:
        return
    if run.exit_code not in (0, 1):
        result.violations.append(f"run {len(result.runs)}: exit code {run.exit_code}")
        return
    servers = {s["id"]: s for s in sim.state.ground_truth()["servers"]}
    off = {
        s["name"] for i in running if (s := servers.get(i)) is not None and s["status"] != "running"
    }
    named = {
        row["server"]
        for row in report.get("servers", [])
        if row["status"] in ("failed", "left-off")
    }
    if run.exit_code == 0 and off:
        result.violations.append(f"run {len(result.runs)} exited 0 with {sorted(off)} not running")
    elif off - named:
        result.violations.append(f"run {len(result.runs)} left {sorted(off - named)} off, unnamed")


def _check_trial(result: Result, final: Run, sim: SimulatorServer, present: set[int]) -> None:
    truth = sim.state.ground_truth()
    images = truth["images"]
    hsnap = [i for i in images if i["labels"].get("managed-by") == "hsnap"]
    per_run = Counter(
        (i["labels"].get("hsnap/server-id"), i["labels"].get("hsnap/flow-run"))
        for i in hsnap
        if i["status"] != "unavailable"
    )
    result.violations += [
        f"{n} snapshots of server {server} from run {run}"
        for (server, run), n in per_run.items()
        if n > 1
    ]
    existing = {i["id"] for i in images}
    result.removed = sum(1 for i in truth["created_images"] if i not in existing)
    done = {int(i["labels"]["hsnap/server-id"]) for i in hsnap if i["status"] == "available"}
    result.snapshots = len(done)
    rows = (final.report or {}).get("servers", [])
    named = {row["server_id"] for row in rows if row["status"] in ("failed", "left-off")}
    # a server deleted before the last run listed the fleet is no longer part of it
    vanished = set(truth["deleted_servers"]) - {row["server_id"] for row in rows}
    unaccounted = sorted(present - done - named - vanished)
    if unaccounted and final.report is not None:
        result.violations.append(f"no new snapshot and no named failure: {unaccounted}")
    elif final.report is None and not final.killed:
        result.violations.append(f"the last run printed no report (exit {final.exit_code})")


def soak(
    trials: int,
    seed: int,
    prefect_url: str,
    *,
    jobs: int = 2,
    scale: float = SCALE,
    max_servers: int = 50,
    verbose: bool = False,
) -> list[Result]:
    """Run ``trials`` trials of soak ``seed``, ``jobs`` at a time; the results in trial order."""

    def one(index: int) -> Result:
        result = run_trial(draw(index, seed, scale, max_servers), prefect_url, scale)
        if verbose:
            print(json.dumps(_line(result)), flush=True)
        return result

    with ThreadPoolExecutor(max(1, jobs)) as pool:
        return list(pool.map(one, range(trials)))


def _line(result: Result) -> dict[str, Any]:
    trial = result.trial
    return {
        "trial": trial.index,
        "servers": trial.servers,
        "mode": "consistent" if trial.consistent else "plain",
        "faults": trial.faults,
        "killed_at_s": round(trial.kill_after_s, 1) if trial.kill_after_s else None,
        "exit_codes": [r.exit_code for r in result.runs],
        "wall_s": [round(r.wall_s, 1) for r in result.runs],
        "extra_removed": result.removed,
        "violations": result.violations,
    }


def figures(results: list[Result], wall_s: float) -> dict[str, Any]:
    """The soak's summary: what ran, what it met, what broke."""
    runs = [r for res in results for r in res.runs]
    kinds = Counter(k for res in results for k in res.trial.faults)
    violations = [f"trial {res.trial.index}: {v}" for res in results for v in res.violations]
    return {
        "trials": len(results),
        "servers": sum(res.trial.servers for res in results),
        "consistent_trials": sum(res.trial.consistent for res in results),
        "killed_runs": sum(r.killed for r in runs),
        "runs": len(runs),
        "exit_codes": dict(Counter(str(r.exit_code) for r in runs if not r.killed)),
        "hostile_trials": sum(res.trial.hostile for res in results),
        "fault_kinds": dict(kinds),
        "faults_fired": dict(sum((Counter(res.fired) for res in results), Counter())),
        "extra_images_removed": sum(res.removed for res in results),
        "max_run_s": round(max((r.wall_s for r in runs if not r.killed), default=0.0), 1),
        "deadline_s": round(deadline_s(SCALE), 1),
        "violations": len(violations),
        "violation_list": violations[:50],
        "wall_s": round(wall_s, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2, help="trials at the same time")
    parser.add_argument("--time-scale", type=float, default=SCALE)
    parser.add_argument("--verbose", action="store_true", help="one JSON line per trial")
    args = parser.parse_args()
    from prefect.settings import PREFECT_API_URL  # noqa: PLC0415 -- Prefect loads slowly
    from prefect.testing.utilities import prefect_test_harness  # noqa: PLC0415

    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    started = time.monotonic()
    with prefect_test_harness(server_startup_timeout=120):
        url = str(PREFECT_API_URL.value())
        results = soak(
            args.trials,
            args.seed,
            url,
            jobs=args.jobs,
            scale=args.time_scale,
            verbose=args.verbose,
        )
    summary = figures(results, time.monotonic() - started)
    print(json.dumps(summary, indent=2))
    return 1 if summary["violations"] else 0


if __name__ == "__main__":
    sys.exit(main())
