"""hsnap's deployments on a real Prefect server, run by a real process worker.

Setup from ``prefect.yaml``, programmatic and CLI triggers, lock waits visible in task-run logs,
a failing run visible as Failed, the nightly schedule, and no token anywhere it should not be.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import StateType

from hsnap.deployment.trigger import report_rows, trigger_snapshot
from tests.e2e.conftest import REPO, Stack, wait_until

RUN_TIMEOUT_S = 180.0


def _logs(flow_run_id: str) -> list[Any]:
    with get_client(sync_client=True) as client:
        return client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[UUID(flow_run_id)])),
            limit=200,
        )


def _state(flow_run_id: str) -> Any:
    with get_client(sync_client=True) as client:
        return client.read_flow_run(UUID(flow_run_id)).state


def _final_state(flow_run_id: str) -> Any:
    return wait_until(
        lambda: (s := _state(flow_run_id)) is not None and s.is_final() and s,
        f"flow run {flow_run_id} to finish",
        RUN_TIMEOUT_S,
    )


def test_setup_created_everything_once_and_a_second_run_changes_nothing(stack: Stack) -> None:
    first = stack.first_setup.stdout  # type: ignore[attr-defined]
    assert "changed" in first
    assert "snapshot-servers/nightly" in first
    assert "snapshot-servers/on-demand" in first

    again = stack.run("setup", "--token-stdin", "--project-dir", str(REPO), stdin="sim-token\n")

    assert again.returncode == 0, again.stderr
    lines = [line for line in again.stdout.splitlines() if line.startswith("  ")]
    # work pool, token, projects, deployments, crash watch, webhook block, six alerts
    assert len(lines) == 12
    assert all("unchanged" in line for line in lines), again.stdout
    inspect = subprocess.run(
        [sys.executable, "-m", "prefect", "deployment", "inspect", "snapshot-servers/nightly"],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    for text in (first, again.stdout, again.stderr, inspect.stdout):
        assert "sim-token" not in text


def test_on_demand_run_waits_out_a_lock_and_reports_every_server(stack: Stack) -> None:
    web_1 = stack.sim.state.server_by_name("web-1")
    holder = stack.sim.state.lock_server(web_1.id, command="change_server_type", duration=None)

    started = trigger_snapshot({"lock_wait_minutes": 60}, wait=False)
    assert not started.final

    wait_until(
        lambda: any(
            f"locked by change_server_type action {holder}" in log.message
            for log in _logs(started.flow_run_id)
        ),
        "the lock-wait line in the task-run logs",
        RUN_TIMEOUT_S,
    )
    stack.sim.state.finish_action(holder)
    state = _final_state(started.flow_run_id)

    assert state.type == StateType.COMPLETED, state.message
    rows = report_rows(started.flow_run_id)
    assert sorted(r["server"] for r in rows) == sorted(
        s["name"] for s in stack.sim.state.ground_truth()["servers"]
    )
    assert {r["status"] for r in rows} == {"succeeded"}
    waits = [log for log in _logs(started.flow_run_id) if "still locked by" in log.message]
    assert waits, "no lock-wait lines in the run's logs"
    assert all(log.task_run_id is not None and "web-1" in log.message for log in waits)


def test_a_failing_run_ends_failed_and_says_which_server(stack: Stack) -> None:
    web_2 = stack.sim.state.server_by_name("web-2")
    stack.sim.state.lock_server(web_2.id, command="rebuild_server", duration=None)

    answer = stack.run(
        "trigger",
        "--param",
        'servers=["web-2","web-3"]',
        "--param",
        "lock_wait_minutes=1",
        "--wait",
        "--timeout",
        str(RUN_TIMEOUT_S),
        "--json",
    )

    assert answer.returncode == 1, answer.stdout + answer.stderr
    result = json.loads(answer.stdout)
    assert result["state"] == "Failed"
    assert "web-2" in result["message"]
    assert "web-3" not in result["message"]
    rows = {r["server"]: r for r in result["servers"]}
    assert rows["web-2"]["status"] == "failed"
    assert "still locked by rebuild_server" in rows["web-2"]["error"]
    assert rows["web-3"]["status"] == "succeeded"
    assert _state(result["flow_run_id"]).type == StateType.FAILED  # as the API shows it
    notice = wait_until(
        lambda: [b for b in stack.webhook.received if result["flow_run_name"] in b.get("body", "")],
        "the failure notification webhook",
        60,
    )
    assert notice[0]["subject"] == "hsnap: snapshot-servers run failed (project default)"
    assert "ended Failed" in notice[0]["body"]
    assert "web-2" in notice[0]["text"]


@pytest.mark.usefixtures("stack")
def test_nightly_schedule_yields_scheduled_runs_at_half_past_two_berlin() -> None:
    def scheduled() -> list[Any]:
        with get_client(sync_client=True) as client:
            return client.read_flow_runs(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["nightly"])),
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(
                        type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])
                    )
                ),
            )

    runs = wait_until(scheduled, "scheduled runs of the nightly deployment", 60)

    berlin = [r.expected_start_time.astimezone(ZoneInfo("Europe/Berlin")) for r in runs]
    assert all((t.hour, t.minute) == (2, 30) for t in berlin), berlin
    assert len({t.date() for t in berlin}) == len(berlin)  # one a night


def test_parameters_are_validated_by_the_deployment(stack: Stack) -> None:
    answer = stack.run("trigger", "--param", "max_concurrency=0", "--json")

    assert answer.returncode == 2, answer.stdout + answer.stderr
    assert "max_concurrency" in answer.stderr


@pytest.mark.usefixtures("stack")
def test_drills_ship_inactive_and_restore_has_no_schedule() -> None:
    with get_client(sync_client=True) as client:
        drill = client.read_deployment_by_name("verify-snapshots/weekly-drill")
        restore = client.read_deployment_by_name("restore-server/restore")
        scheduled = client.read_flow_runs(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["weekly-drill"]))
        )
    assert [(s.active, getattr(s.schedule, "timezone", None)) for s in drill.schedules] == [
        (False, "Europe/Berlin")
    ]
    assert scheduled == []  # nobody is billed by surprise
    assert restore.schedules == []
