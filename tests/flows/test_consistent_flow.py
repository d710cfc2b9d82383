"""Consistent snapshots as whole flow runs under the session's Prefect harness.

Power and marks are read from the simulator's ground truth; ``no_server_left_off`` (autouse, from
the core tests) checks at teardown that no server that was running at the start is left off or
marked. One test runs the flow in a subprocess and SIGKILLs it while its server is off.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import time
from typing import Any
from uuid import UUID

from prefect import flow as prefect_flow
from prefect.client.orchestration import get_client
from prefect.states import Running
from typer.testing import CliRunner

from hcloud_sim import SimulatorServer
from hsnap.cli import app
from hsnap.cloud.client import READ_ATTEMPTS
from hsnap.events import ProgressEvent
from hsnap.flows.recover_servers import run_locally as recover_locally
from hsnap.flows.snapshot_servers import snapshot_servers
from hsnap.policy import CONSISTENT_LABEL, RESTART_LABEL
from hsnap.projects.limits import free_project_slot
from tests.flows.conftest import (
    SCALE,
    HsnapEnv,
    artifacts_of,
    logs_of,
    start_flow_process,
    task_runs_of,
)
from tests.flows.test_snapshot_flow import flow_run_id, report_of, rows
from tests.hsnap.test_consistent import (
    POWERON,
    is_off,
    no_server_left_off,
    posts,
    running_action,
    snapshot_started,
)
from tests.hsnap.world import add_fault, connect, on_event

__all__ = ["no_server_left_off"]  # autouse: every test here keeps running servers running

NOT_A_RUN = "not-a-prefect-run"  # a mark whose run Prefect does not know: nobody will restore it


def fleet(*servers: dict[str, Any], snapshot: float = 60) -> dict[str, Any]:
    return {
        "name": "consistent",
        "projects": [
            {
                "name": "consistent",
                "action_durations": {"create_image": snapshot},
                "servers": list(servers) or [{"name": "srv-1"}],
            }
        ],
    }


def truth(sim: SimulatorServer) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in sim.state.ground_truth()["servers"]}


def assert_running_unmarked(sim: SimulatorServer, *names: str) -> None:
    servers = truth(sim)
    for name in names or tuple(servers):
        assert servers[name]["status"] == "running", servers[name]
        assert RESTART_LABEL not in servers[name]["labels"], servers[name]["labels"]


def table_of(state: Any) -> dict[str, dict[str, str]]:
    table = artifacts_of(flow_run_id(state))["snapshot-report"]
    data: Any = json.loads(table.data) if isinstance(table.data, str) else table.data
    return {row["server"]: row for row in data}


# -- the happy path, and the report ---------------------------------------------------------------


def test_consistent_run_shuts_down_snapshots_and_powers_on(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env(
        fleet(
            {"name": "app-1"},
            {"name": "app-2", "labels": {"role": "db"}},
            {"name": "cold-1", "status": "off"},
        )
    )
    state = snapshot_servers(consistent=True, return_state=True)

    assert state.is_completed(), state.message
    found = rows(report_of(state))
    for name in ("app-1", "app-2"):
        row = found[name]
        assert row.status == "succeeded", row
        assert (row.shut_down, row.running_again) == (True, True)
        assert row.off_s > 50  # off for at least the one-minute snapshot
    cold = found["cold-1"]
    assert (cold.status, cold.shut_down, cold.running_again) == ("succeeded", False, None)
    assert_running_unmarked(sim, "app-1", "app-2")
    assert truth(sim)["app-2"]["labels"] == {"role": "db"}
    assert truth(sim)["cold-1"]["status"] == "off"
    assert posts(sim, "shutdown") == 2
    assert posts(sim, "poweron") == 2

    table = table_of(state)
    assert (table["app-1"]["shut down"], table["app-1"]["running again"]) == ("yes", "yes")
    assert table["app-1"]["off for"].endswith("s")
    assert table["app-1"]["off for"] != "0s"
    assert (table["cold-1"]["shut down"], table["cold-1"]["off for"]) == ("", "")
    assert table["cold-1"]["running again"] == ""


def test_consistent_label_opts_one_server_in(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env(
        fleet({"name": "db-1", "labels": {CONSISTENT_LABEL: "true"}}, {"name": "web-1"})
    )
    state = snapshot_servers(return_state=True)  # consistent=False

    assert state.is_completed(), state.message
    found = rows(report_of(state))
    assert (found["db-1"].shut_down, found["db-1"].running_again) == (True, True)
    assert (found["web-1"].shut_down, found["web-1"].running_again) == (False, None)
    assert posts(sim, "shutdown") == 1
    assert_running_unmarked(sim)


# -- power on impossible: LEFT OFF, the run fails ----------------------------------------------


def test_power_on_impossible_fails_the_run_and_says_left_off(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env(fleet({"name": "srv-1"}, {"name": "srv-2", "status": "off"}))
    with on_event(
        snapshot_started,
        lambda _: add_fault(sim, method="POST", path=POWERON, code="unavailable"),  # no end
    ):
        state = snapshot_servers(
            servers=["srv-1"], consistent=True, poweron_wait_minutes=2, return_state=True
        )

    assert state.is_failed()
    assert "srv-1" in (state.message or "")
    row = rows(report_of(state))["srv-1"]
    assert (row.status, row.error_code, row.running_again) == ("left-off", "left_off", False)
    assert "LEFT OFF" in (row.error or "")
    assert row.attempts == 1, "a server left off is not retried"
    assert table_of(state)["srv-1"]["running again"] == "NO"
    summary = str(artifacts_of(flow_run_id(state))["snapshot-summary"].data)
    assert "LEFT POWERED OFF" in summary
    alerts = [
        log
        for log in logs_of(flow_run_id(state))
        if log.level >= logging.ERROR and "LEFT OFF" in log.message
    ]
    assert alerts, "LEFT OFF was not logged at error level"
    server = truth(sim)["srv-1"]
    assert server["status"] == "off"
    assert server["labels"][RESTART_LABEL] == str(flow_run_id(state))  # the mark stays

    # the API recovers: the recover flow finds the mark of the finished run and powers it on
    with sim.state.lock:
        sim.state.project().faults.clear()
    results = recover_locally()
    assert [(r.server, r.result) for r in results] == [("srv-1", "restarted")]
    assert_running_unmarked(sim, "srv-1")
    assert truth(sim)["srv-2"]["status"] == "off"  # not marked: not hsnap's to start


# -- a Prefect retry after the shutdown --------------------------------------------------------


def test_task_retry_powers_on_first_then_resumes_the_image(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env(fleet({"name": "srv-1"}))
    at_retry: list[dict[str, Any]] = []

    def fail_last_read(_: ProgressEvent) -> None:
        # the snapshot's last read (its image, in the run's batched GET /images) fails more often
        # than hsnap's read retries: the attempt fails transiently after the shutdown, and
        # Prefect retries the task
        add_fault(sim, method="GET", path="/images", code="unavailable", count=READ_ATTEMPTS)

    def retrying(event: ProgressEvent) -> bool:
        return event.phase == "retrying"

    with (
        on_event(snapshot_started, fail_last_read),
        on_event(retrying, lambda _: at_retry.append(truth(sim)["srv-1"])),
    ):
        state = snapshot_servers(consistent=True, return_state=True)

    assert state.is_completed(), state.message
    # when the attempt gave up, the server was already running again and unmarked
    [before_retry] = at_retry
    assert before_retry["status"] == "running"
    assert RESTART_LABEL not in before_retry["labels"]
    row = rows(report_of(state))["srv-1"]
    assert (row.status, row.attempts, row.resumed) == ("succeeded", 2, True)
    assert len(sim.state.ground_truth()["created_images"]) == 1  # no duplicate
    assert posts(sim, "shutdown") == 1
    [task_run] = [t for t in task_runs_of(flow_run_id(state)) if t.name.startswith("snapshot-")]
    assert task_run.run_count == 2
    assert_running_unmarked(sim)


# -- recovery of what an interrupted run left off -----------------------------------------------


def test_snapshot_run_first_recovers_a_server_left_off(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env(
        fleet(
            {"name": "srv-1", "status": "off", "labels": {RESTART_LABEL: NOT_A_RUN}},
            {"name": "srv-2", "status": "off"},
        )
    )
    state = snapshot_servers(consistent=True, return_state=True)

    assert state.is_completed(), state.message
    found = rows(report_of(state))
    # powered on before snapshotting, so consistent mode shut it down and brought it back
    assert (found["srv-1"].shut_down, found["srv-1"].running_again) == (True, True)
    assert (found["srv-2"].shut_down, found["srv-2"].running_again) == (False, None)
    assert_running_unmarked(sim, "srv-1")
    assert truth(sim)["srv-2"]["status"] == "off"


def test_hsnap_recover_powers_on_a_marked_server(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env(
        fleet(
            {"name": "srv-1", "status": "off", "labels": {RESTART_LABEL: NOT_A_RUN, "x": "y"}},
            {"name": "srv-2", "status": "off"},
        )
    )
    result = CliRunner().invoke(app, ["recover", "--json"])

    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert (row["server"], row["result"], row["run_id"]) == ("srv-1", "restarted", NOT_A_RUN)
    servers = truth(sim)
    assert (servers["srv-1"]["status"], servers["srv-1"]["labels"]) == ("running", {"x": "y"})
    assert servers["srv-2"]["status"] == "off"

    again = CliRunner().invoke(app, ["recover"])
    assert again.exit_code == 0, again.output
    assert "no server is marked for restart" in again.stdout


# -- SIGKILL while the server is off ----------------------------------------------------------

KILL_SCRIPT = (
    "from hsnap.flows.snapshot_servers import snapshot_servers; "
    "snapshot_servers(consistent=True, return_state=True)"
)


def test_sigkill_while_off_is_recovered_by_the_next_run(hsnap_env: HsnapEnv) -> None:
    # a snapshot of an hour (six seconds here) leaves time to kill the run while the server is off
    sim = hsnap_env(fleet({"name": "srv-1"}, snapshot=3600))
    child = start_flow_process(sim, KILL_SCRIPT)
    try:
        killed_while = wait_until_snapshotting_off(sim, "srv-1", child, timeout_s=60)
    finally:
        child.send_signal(signal.SIGKILL)
        output = child.communicate(timeout=30)[0].decode(errors="replace")
    assert killed_while is not None, output[-3000:]
    assert child.returncode == -signal.SIGKILL
    killed_run = killed_while["labels"][RESTART_LABEL]
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(UUID(killed_run)).state
    assert state is not None
    assert state.is_running()  # what Prefect still believes: nobody reported the kill
    # a real server's repossessor reclaims the killed run's project slot when its lease ends;
    # the test harness runs none
    free_project_slot("default")
    # the killed run's snapshot goes on at Hetzner, and ends; nobody powers the server on
    sim.state.finish_action(running_action(sim, "create_image"))
    assert truth(sim)["srv-1"]["status"] == "off"

    results = recover_locally()

    assert [(r.server, r.result, r.run_id) for r in results] == [("srv-1", "restarted", killed_run)]
    assert_running_unmarked(sim, "srv-1")


def wait_until_snapshotting_off(
    sim: SimulatorServer, name: str, child: subprocess.Popen[bytes], timeout_s: float
) -> dict[str, Any] | None:
    """Poll the simulator (bounded) until ``name`` is off, marked and being snapshotted."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and child.poll() is None:
        world = sim.state.ground_truth()
        [server] = [s for s in world["servers"] if s["name"] == name]
        snapshotting = any(
            a["command"] == "create_image" and a["status"] == "running" for a in world["actions"]
        )
        if server["status"] == "off" and RESTART_LABEL in server["labels"] and snapshotting:
            return dict(server)
        time.sleep(0.02)
    return None


def test_the_mark_names_the_flow_run(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env(fleet({"name": "srv-1"}))
    seen: list[dict[str, Any]] = []
    with on_event(is_off, lambda _: seen.append(truth(sim)["srv-1"])):
        state = snapshot_servers(consistent=True, return_state=True)
    assert state.is_completed(), state.message
    [off] = seen
    assert off["status"] == "off"
    assert off["labels"][RESTART_LABEL] == str(flow_run_id(state))
    assert_running_unmarked(sim)


# -- a run killed mid-shutdown, then the next run ------------------------------------------------


@prefect_flow(name="snapshot-servers")
def _killed_run() -> None:
    """Stands for a run killed where nobody reported it: Prefect shows it Running for ever."""


def zombie_run() -> str:
    with get_client(sync_client=True) as client:
        return str(client.create_flow_run(_killed_run, state=Running()).id)


def killed_mid_shutdown(sim: SimulatorServer, name: str, run_id: str) -> None:
    """What the killed run left: ``name`` marked by it, its guest going down after the ACPI."""
    cloud = connect(sim, scale=SCALE)
    server = cloud.find_server(name)
    assert server is not None
    cloud.set_labels(server.id, {**server.labels, RESTART_LABEL: run_id})
    cloud.power(server.id, "shutdown")
    sim.state.clock.advance(10)  # the ACPI signal arrived; the guest is going down
    assert truth(sim)[name]["status"] == "stopping"


def test_run_after_a_kill_mid_shutdown_does_not_end_well_with_a_server_off(
    hsnap_env: HsnapEnv,
) -> None:
    sim = hsnap_env(
        fleet(
            {"name": "web-01"},
            {"name": "web-02"},
            # a guest that takes 40 minutes to go down: still going down when the next run
            # looks at it (the flow takes a few simulated minutes to start)
            {"name": "web-03", "shutdown_delay": 2400},
        )
    )
    killed_mid_shutdown(sim, "web-03", zombie_run())

    state = snapshot_servers(consistent=True, shutdown_wait_minutes=60, return_state=True)

    assert state.is_completed(), state.message
    found = rows(report_of(state))
    assert {r.status for r in found.values()} == {"succeeded"}
    assert (found["web-03"].shut_down, found["web-03"].running_again) == (True, True)
    assert_running_unmarked(sim)


def test_run_fails_naming_a_server_an_earlier_run_left_off_that_will_not_start(
    hsnap_env: HsnapEnv,
) -> None:
    sim = hsnap_env(fleet({"name": "web-01"}, {"name": "web-03", "shutdown_delay": 120}))
    killed_mid_shutdown(sim, "web-03", NOT_A_RUN)
    add_fault(sim, method="POST", path=POWERON, code="unavailable")  # never starts again

    state = snapshot_servers(servers=["web-01"], return_state=True)

    assert state.is_failed()
    assert "web-03" in (state.message or "")
    found = rows(report_of(state))
    assert found["web-01"].status == "succeeded"
    assert (found["web-03"].status, found["web-03"].error_code) == ("left-off", "left_off")
    assert NOT_A_RUN in (found["web-03"].error or "")
    with sim.state.lock:
        sim.state.project().faults.clear()
    recover_locally()  # so that the teardown check finds every server running
    assert_running_unmarked(sim)


def test_a_guest_slower_than_the_shutdown_wait_ends_running_and_unmarked(
    hsnap_env: HsnapEnv,
) -> None:
    # slow-1's guest takes longer than the run allows: that server fails; its guest goes down
    # while hsnap restores power, so hsnap waits for it, powers it on and removes the mark
    sim = hsnap_env(fleet({"name": "web-01"}, {"name": "slow-1", "shutdown_delay": 120}))
    state = snapshot_servers(consistent=True, shutdown_wait_minutes=1, return_state=True)

    assert state.is_failed()
    found = rows(report_of(state))
    assert (found["slow-1"].status, found["slow-1"].error_code) == ("failed", "shutdown_timeout")
    assert found["slow-1"].running_again is True
    assert found["web-01"].status == "succeeded"
    assert posts(sim, "poweron") == 2
    assert_running_unmarked(sim)
