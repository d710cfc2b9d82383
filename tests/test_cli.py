"""The ``hsnap`` command line: in-process under the session's Prefect harness, plus two demos.

The in-process tests drive ``hsnap.cli.app`` with typer's ``CliRunner`` against a simulator (the
flow runs in this process, against the harness's Prefect server). The two ``hsnap demo`` tests run
the real console entry point in a subprocess with a fresh ``PREFECT_HOME``: each starts Prefect's
temporary server (~10 s), so there are only these two.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from hsnap.cli import app
from tests.flows.conftest import HsnapEnv, hsnap_env, prefect_harness

__all__ = ["hsnap_env", "prefect_harness"]  # fixtures shared with the flow tests

DEMO_SERVERS = 12


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def report_of(stdout: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(stdout)
    return data


def by_server(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["server"]: row for row in report["servers"]}


# -- hsnap run --------------------------------------------------------------------------------


def test_run_json_reports_every_server_and_exits_0(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env("demo")
    result = invoke("run", "--json", "--label-selector", "role=web", "--exclude", "web-2")

    assert result.exit_code == 0, result.output
    report = report_of(result.stdout)
    assert sorted(by_server(report)) == ["arm-1", "staging-1", "web-1", "web-3"]
    assert (report["total"], report["succeeded"], report["failed"]) == (4, 4, 0)
    assert report["dry_run"] is False
    assert len(sim.state.ground_truth()["created_images"]) == 4


def test_run_with_a_failing_server_exits_1(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env("demo")
    sim.state.clock.advance(600)  # the demo's own locks end
    sim.state.lock_server(sim.state.server_by_name("web-3").id, duration=None)

    result = invoke(
        "run", "--json", "--server", "web-1", "--server", "web-3", "--lock-wait-minutes", "1"
    )

    assert result.exit_code == 1, result.output
    rows = by_server(report_of(result.stdout))
    assert rows["web-1"]["status"] == "succeeded"
    assert (rows["web-3"]["status"], rows["web-3"]["error_code"]) == ("failed", "lock_timeout")


def test_run_table_output_names_the_failed_server(hsnap_env: HsnapEnv) -> None:
    hsnap_env("demo")
    result = invoke("run", "--server", "web-1", "--server", "ghost")

    assert result.exit_code == 1, result.output
    assert "1 of 2 server(s) failed: ghost" in result.stdout


def test_malformed_label_selector_exits_2_with_a_message(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env("demo")
    result = invoke("run", "--json", "--label-selector", "env in (prod")

    assert result.exit_code == 2
    assert "malformed label selector" in result.stderr
    assert result.stdout == ""
    assert sim.state.request_counts() == []


def test_invalid_token_exits_2_with_a_message(hsnap_env: HsnapEnv) -> None:
    hsnap_env("demo", token="not-a-valid-token")
    result = invoke("run", "--json")

    assert result.exit_code == 2
    assert "API token is invalid" in result.stderr
    assert "not-a-valid-token" not in result.output


def test_read_only_token_exits_2(hsnap_env: HsnapEnv) -> None:
    hsnap_env("demo", token="sim-readonly")
    result = invoke("run", "--json", "--server", "web-1")

    assert result.exit_code == 2, result.output
    [row] = report_of(result.stdout)["servers"]
    assert row["error_code"] == "token_readonly"
    assert "create a Read & Write API token" in row["error"]


def test_bad_label_option_exits_2(hsnap_env: HsnapEnv) -> None:
    hsnap_env("demo")
    result = invoke("run", "--label", "no-equals-sign")

    assert result.exit_code == 2
    assert "KEY=VALUE" in result.stderr


def test_out_of_range_option_exits_2(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env("demo")
    result = invoke("run", "--max-concurrency", "0")

    assert result.exit_code == 2
    assert "max_concurrency" in result.stderr
    assert sim.state.request_counts() == []


def test_dry_run_plans_every_server_and_changes_nothing(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env("demo")
    result = invoke("run", "--dry-run", "--json")

    assert result.exit_code == 0, result.output
    report = report_of(result.stdout)
    assert report["dry_run"] is True
    assert len(report["servers"]) == DEMO_SERVERS
    assert {row["status"] for row in report["servers"]} == {"planned"}
    assert sim.state.ground_truth()["created_images"] == []


# -- hsnap status -----------------------------------------------------------------------------


def test_status_of_a_locked_server_names_the_lock_holder(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env("demo")
    server = sim.state.server_by_name("web-3")
    action_id = sim.state.lock_server(server.id, command="rebuild_server", duration=None)

    result = invoke("status", "web-3")

    assert result.exit_code == 0, result.output
    assert f"web-3 (id {server.id}, running): locked by" in result.stdout
    assert f"rebuild_server action {action_id}" in result.stdout


def test_status_of_an_unlocked_server(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env("demo")
    server = sim.state.server_by_name("web-1")
    result = invoke("status", "web-1")

    assert result.exit_code == 0, result.output
    assert f"web-1 (id {server.id}, running): not locked" in result.stdout


def test_status_of_an_unknown_server_exits_2(hsnap_env: HsnapEnv) -> None:
    hsnap_env("demo")
    result = invoke("status", "ghost")

    assert result.exit_code == 2
    assert "no server named 'ghost'" in result.stderr


# -- hsnap demo, end to end in a subprocess ---------------------------------------------------


def demo_env(home: Path) -> dict[str, str]:
    """This process's environment without Prefect or Hetzner settings, with a fresh Prefect home."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "HCLOUD_", "HSNAP_"))
    }
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    return env


def run_demo(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hsnap.cli", "demo", "--json", *args],
        env=demo_env(home),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_demo_snapshots_the_whole_fleet(tmp_path: Path) -> None:
    done = run_demo(tmp_path, "--time-scale", "60")

    assert done.returncode == 0, done.stderr[-3000:]
    report = report_of(done.stdout)
    assert report["total"] == DEMO_SERVERS
    assert {row["status"] for row in report["servers"]} == {"succeeded"}, report


def test_demo_of_the_faults_scenario_reports_what_failed(tmp_path: Path) -> None:
    done = run_demo(
        tmp_path, "--scenario", "faults", "--time-scale", "60", "--lock-wait-minutes", "2"
    )

    assert done.returncode == 1, done.stderr[-3000:]
    rows = by_server(report_of(done.stdout))
    assert (rows["stuck-1"]["status"], rows["stuck-1"]["error_code"]) == ("failed", "lock_timeout")
    assert (rows["broken-snap"]["status"], rows["broken-snap"]["error_code"]) == (
        "failed",
        "action_failed",
    )
    others = {name: row["status"] for name, row in rows.items()}
    del others["stuck-1"], others["broken-snap"]
    assert set(others.values()) == {"succeeded"}, rows
