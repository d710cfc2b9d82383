"""Many projects on many workers: the fleet flow on a PostgreSQL-backed Prefect server.

Real components only: PostgreSQL (Debian's package) started here, ``prefect server start`` on it,
``hsnap setup``, two process workers on the pool, and the simulator with three projects (each its
own tokens, servers and rate bucket) plus a fourth project whose token was revoked. The tests run
in order, each building on the world the previous one left.
"""

from __future__ import annotations

import contextvars
import os
import re
import signal
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment
from pydantic import SecretStr

from hcloud_sim import SimulatorServer
from hsnap.deployment.trigger import report_rows
from hsnap.flows.snapshot_fleet import snapshot_fleet
from hsnap.projects.block import HetznerProject
from tests.e2e.conftest import (
    REPO,
    STARTUP_TIMEOUT_S,
    base_env,
    free_port,
    healthy,
    run_hsnap,
    sent_before_exit,
    start_prefect_server,
    start_worker,
    stop,
    wait_until,
)
from tests.e2e.postgres import postgres_server
from tests.hsnap.world import projects_world

SCALE = 100.0
PROJECTS = ("alpha", "beta", "gamma")
SERVERS = 3
SNAPSHOT_S = 600  # simulated: 6 real seconds, long enough to kill a worker mid-run
FLEET_TIMEOUT_S = 300.0
#: heartbeats every 30 s (Prefect's minimum): a run whose worker died is Crashed ~90 s later
HEARTBEAT_S = "30"


@dataclass
class Fleet:
    env: dict[str, str]
    sim: SimulatorServer
    logs: Path
    workers: dict[str, subprocess.Popen[Any]] = field(default_factory=dict)

    def hsnap(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_hsnap(self.env, *args, stdin=stdin)

    def add_worker(self, name: str) -> None:
        self.workers[name] = start_worker(self.env, name, self.logs / f"{name}.log", "--limit", "1")

    def worker_of(self, flow_run_id: str) -> str | None:
        """The worker that submitted the run, from the workers' own logs."""
        for name in self.workers:
            if f"submitting flow run '{flow_run_id}'" in (self.logs / f"{name}.log").read_text():
                return name
        return None


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """PostgreSQL, a Prefect server on it, setup, projects, two workers; all stopped after."""
    from prefect.settings import PREFECT_API_URL, temporary_settings  # noqa: PLC0415

    home = tmp_path_factory.mktemp("fleet-home")
    logs = home / "logs"
    logs.mkdir()
    world = projects_world(*PROJECTS, servers=SERVERS, snapshot_s=SNAPSHOT_S)
    with SimulatorServer(world, time_scale=SCALE) as sim, postgres_server() as database_url:
        env = base_env(home)
        env.update(
            PREFECT_API_DATABASE_CONNECTION_URL=database_url,
            # runs start only when a test starts them: a nightly schedule firing mid-test (02:30
            # Berlin) would add snapshots of its own
            PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false",
            PREFECT_FLOWS_HEARTBEAT_FREQUENCY=HEARTBEAT_S,
            HSNAP_TIME_SCALE=f"{SCALE:g}",
            HCLOUD_ENDPOINT=sim.url,
        )
        stack = Fleet(env, sim, logs)
        port = free_port()
        api_url = f"http://127.0.0.1:{port}/api"
        server = start_prefect_server(env, port, logs / "server.log")
        try:  # workers and server stop before PostgreSQL does
            wait_until(lambda: healthy(api_url), "the Prefect server", STARTUP_TIMEOUT_S)
            env["PREFECT_API_URL"] = api_url
            with temporary_settings(updates={PREFECT_API_URL: api_url}), sent_before_exit():
                _set_up(stack)
                yield stack
        finally:
            for process in stack.workers.values():
                stop(process)
            stop(server)


def _set_up(stack: Fleet) -> None:
    """hsnap setup, the three projects, one with a revoked token, two workers online."""
    setup = stack.hsnap("setup", "--token-stdin", "--project-dir", str(REPO), stdin="alpha-rw\n")
    assert setup.returncode == 0, setup.stdout + setup.stderr
    for name in PROJECTS:
        added = stack.hsnap("project", "add", name, "--token-stdin", stdin=f"{name}-rw\n")
        assert added.returncode == 0, added.stdout + added.stderr
    # a project whose token was revoked after it was added
    HetznerProject(token=SecretStr("revoked-token"), endpoint=stack.sim.url).save("revoked")
    stack.add_worker("worker-a")
    stack.add_worker("worker-b")
    wait_until(lambda: online_workers() >= {"worker-a", "worker-b"}, "two workers", 120)


# -- reading the world back ---------------------------------------------------------------------


def fleet_rows(flow_run_id: UUID) -> dict[str, dict[str, str]]:
    """The fleet-report table of a fleet run, by project."""
    return {row["project"]: row for row in report_rows(str(flow_run_id), key="fleet-report")}


def child_id(row: dict[str, str]) -> str:
    found = re.search(r"[0-9a-f-]{36}$", row["run"])
    assert found, row
    return found.group(0)


def snapshots(sim: SimulatorServer, project: str) -> Counter[tuple[str, int]]:
    """(flow run, server id) of every snapshot hsnap made in the project."""
    truth = sim.state.ground_truth(project)
    made = set(truth["created_images"])
    return Counter(
        (i["labels"].get("hsnap/flow-run", ""), i["created_from"]["id"])
        for i in truth["images"]
        if i["id"] in made
    )


def server_ids(sim: SimulatorServer, project: str) -> set[int]:
    return {s["id"] for s in sim.state.ground_truth(project)["servers"]}


def online_workers() -> set[str]:
    with get_client(sync_client=True) as client:
        workers = client.read_workers_for_work_pool("hsnap")
    return {w.name for w in workers if w.status and w.status.value == "ONLINE"}


def flow_run_state(flow_run_id: str) -> Any:
    with get_client(sync_client=True) as client:
        return client.read_flow_run(UUID(flow_run_id)).state


def run_fleet(**parameters: Any) -> Any:
    return snapshot_fleet(**parameters, return_state=True)


# -- the tests ----------------------------------------------------------------------------------


def test_fleet_snapshots_every_project_once_and_a_bad_token_fails_alone(fleet: Fleet) -> None:
    state = run_fleet()

    rows = fleet_rows(state.state_details.flow_run_id)
    assert state.is_failed()
    assert "revoked" in (state.message or "")
    assert sorted(rows) == [*PROJECTS, "revoked"]
    assert rows["revoked"]["state"] == "Failed"
    assert "invalid" in rows["revoked"]["failed servers"]
    for name in PROJECTS:
        row = rows[name]
        assert (row["state"], row["servers"], row["succeeded"], row["failed"]) == (
            "Completed",
            str(SERVERS),
            str(SERVERS),
            "0",
        )
        made = snapshots(fleet.sim, name)
        assert made == Counter({(child_id(row), sid): 1 for sid in server_ids(fleet.sim, name)})
    workers = {fleet.worker_of(child_id(row)) for row in rows.values()}
    assert workers == {"worker-a", "worker-b"}, "the children did not spread over both workers"


def test_a_worker_killed_mid_run_leaves_its_child_crashed_and_the_report_says_so(
    fleet: Fleet,
) -> None:
    before = {name: set(snapshots(fleet.sim, name)) for name in PROJECTS}
    result: dict[str, Any] = {}
    context = contextvars.copy_context()  # the thread talks to the same Prefect server
    runner = threading.Thread(
        target=context.run,
        args=(lambda: result.update(state=run_fleet(projects=list(PROJECTS))),),
        daemon=True,
    )
    runner.start()

    def alpha_run_mid_snapshot() -> str | None:
        new = {run for run, _ in snapshots(fleet.sim, "alpha")} - {r for r, _ in before["alpha"]}
        return next(iter(new), None)

    alpha_run = wait_until(alpha_run_mid_snapshot, "alpha's run to start its snapshots", 120)
    victim = wait_until(lambda: fleet.worker_of(alpha_run), "the worker running alpha", 30)
    os.killpg(fleet.workers[victim].pid, signal.SIGKILL)
    fleet.workers[victim].wait(timeout=30)
    fleet.add_worker("worker-c")  # the pool gets its second worker back for the next test
    runner.join(timeout=FLEET_TIMEOUT_S)
    assert "state" in result, "the fleet run did not end"

    state = result["state"]
    rows = fleet_rows(state.state_details.flow_run_id)
    assert state.is_failed()
    assert rows["alpha"]["state"] == "Crashed"
    assert "alpha" in (state.message or "")
    assert "Crashed" in (state.message or "")
    for name in PROJECTS:
        row = rows[name]
        assert flow_run_state(child_id(row)).name == row["state"]
        if fleet.worker_of(child_id(row)) != victim:  # the other worker's runs were not touched
            assert row["state"] == "Completed", row
        else:  # the victim's runs crashed with it, unless they had ended before
            assert row["state"] in ("Crashed", "Completed"), row


def test_running_it_again_converges_without_a_duplicate(fleet: Fleet) -> None:
    removed = fleet.hsnap("project", "remove", "revoked")
    assert removed.returncode == 0, removed.stderr

    run = run_deployment(
        "snapshot-fleet/nightly-fleet",
        parameters={"run_parameters": {}},
        timeout=FLEET_TIMEOUT_S,
    )

    assert run.state is not None
    assert run.state.name == "Completed", run.state.message
    rows = fleet_rows(run.id)
    assert sorted(rows) == list(PROJECTS)
    for name in PROJECTS:
        made = snapshots(fleet.sim, name)
        assert all(count == 1 for count in made.values()), f"a duplicate snapshot in {name}"
        this_run = {sid for run_id, sid in made if run_id == child_id(rows[name])}
        assert this_run == server_ids(fleet.sim, name)
