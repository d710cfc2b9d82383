"""Restore drills and restores as whole flow runs (and through the CLI) under the Prefect harness.

One test runs a drill in a subprocess and SIGKILLs it while its throwaway server exists; the
server stays while Prefect shows the run active, and goes once the run is seen to have crashed.
"""

from __future__ import annotations

import signal
import subprocess
import time
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.events.worker import EventsWorker
from prefect.states import Crashed
from typer.testing import CliRunner

from hcloud_sim import SimulatorServer
from hsnap.cli import app
from hsnap.errors import ConfigError
from hsnap.flows.recover_servers import run_locally as recover_locally
from hsnap.flows.restore_server import run_locally as restore_locally
from hsnap.flows.verify_snapshots import verify_snapshots
from hsnap.restore.drill import DrillOutcome
from hsnap.restore.policy import DRILL_LABEL, drill_labels
from tests.conftest import said
from tests.flows.conftest import HsnapEnv, artifacts_of, start_flow_process, task_runs_of
from tests.hsnap.world import add_fault, on_event

FIRST = 100001  # the first server's id in every scenario


def fleet(*servers: dict[str, Any], **project: Any) -> dict[str, Any]:
    """Servers ``{"name", "boot", "verified", "snapshot"}``: each gets one hsnap snapshot that
    boots so (none with ``"snapshot": False``)."""
    specs, images = [], []
    for n, given in enumerate(servers):
        server = dict(given)
        labels = {"managed-by": "hsnap", "hsnap/server-id": str(FIRST + n)}
        if "verified" in server:
            labels["hsnap/verified"] = server.pop("verified")
        boot = server.pop("boot", "ok")
        specs.append(server)
        if not server.pop("snapshot", True):
            continue
        images.append(
            {"description": f"{server['name']} nightly", "server": server["name"], "age": "1d"}
            | {"labels": labels, "boot": boot}
        )
    project = {"name": "drills", "servers": specs, "images": images, **project}
    return {"name": "drills", "projects": [project]}


def names(sim: SimulatorServer) -> list[str]:
    return sorted(s["name"] for s in sim.state.ground_truth()["servers"])


def outcomes_of(state: Any) -> dict[str, DrillOutcome]:
    data = state.result(raise_on_failure=False)
    return {row["server"]: DrillOutcome(**row) for row in data["drills"]}


def test_drill_proves_rotates_reports_and_fails_naming_what_did_not_boot(
    hsnap_env: HsnapEnv,
) -> None:
    sim = hsnap_env(
        fleet(
            {"name": "web-1", "verified": "2026-11-20"},  # proven most recently: waits
            {"name": "web-2"},
            {"name": "db-1", "boot": "stuck"},
            {"name": "new-1", "snapshot": False},
        )
    )
    # 10 simulated minutes (1 s here): room for web-2 to boot on a busy machine
    state = verify_snapshots(max_servers=2, boot_wait_minutes=10, return_state=True)
    assert state.is_failed()
    rows = outcomes_of(state)
    assert {n: r.result for n, r in rows.items()} == {
        "web-1": "skipped",  # left for the next run: the others were never proven
        "web-2": "proven",
        "db-1": "failed",
        "new-1": "skipped",  # nothing to prove yet
    }
    assert rows["db-1"].error_code == "boot_timeout"
    assert rows["web-2"].cost == "0.0060"
    assert "db-1" in (state.message or "")
    assert str(rows["db-1"].image_id) in (state.message or "")
    assert names(sim) == ["db-1", "new-1", "web-1", "web-2"]  # every throwaway server is gone
    report = artifacts_of(state.state_details.flow_run_id)
    assert {"drill-report", "drill-summary"} <= set(report)
    table = report["drill-report"].data
    assert "time to running" in str(table)
    events = drill_events(str(state.state_details.flow_run_id), wanted=2)
    assert sorted((e["event"], e["resource"]["prefect.resource.name"]) for e in events) == [
        ("hsnap.drill.failed", "db-1"),
        ("hsnap.drill.succeeded", "web-2"),
    ]


def drill_events(flow_run_id: str, wanted: int, timeout_s: float = 30) -> list[dict[str, Any]]:
    """The run's hsnap.drill.* events, read back through Prefect's events API (bounded poll)."""
    EventsWorker.drain_all(timeout=10)
    deadline = time.monotonic() + timeout_s
    found: list[dict[str, Any]] = []
    body = {"filter": {"event": {"prefix": ["hsnap.drill."]}}, "limit": 50}
    while time.monotonic() < deadline:
        with get_client(sync_client=True) as client:
            answer = client.request("POST", "/events/filter", json=body).json()
        found = [
            e
            for e in answer["events"]
            if any(
                r["prefect.resource.id"] == f"prefect.flow-run.{flow_run_id}" for r in e["related"]
            )
        ]
        if len(found) >= wanted:
            return found
        time.sleep(0.2)
    return found


def drill_servers(sim: SimulatorServer) -> list[str]:
    return [s["name"] for s in sim.state.ground_truth()["servers"] if DRILL_LABEL in s["labels"]]


def test_a_lost_create_answer_is_cleaned_up_before_prefect_retries(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env(fleet({"name": "web-1"}))
    add_fault(sim, method="POST", path="/servers", code="timeout", when="after", count=1)
    alive: list[int] = []
    with on_event(lambda _: True, lambda _: alive.append(len(drill_servers(sim)))) as seen:
        state = verify_snapshots(return_state=True)
    assert state.is_completed(), state.message
    assert outcomes_of(state)["web-1"].result == "proven"
    creates = [a for a in sim.state.ground_truth()["actions"] if a["command"] == "create_server"]
    assert len(creates) == 2  # the first server (answer lost) and the retry's
    assert max(alive) == 1  # the first was deleted before the retry made the second
    assert any(e.phase == "creating" for e in seen)
    [task_run] = [
        t for t in task_runs_of(state.state_details.flow_run_id) if t.name == "drill-web-1"
    ]
    assert task_run.run_count == 2
    assert drill_servers(sim) == []


def test_at_most_max_concurrency_throwaway_servers_at_once(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env(fleet(*({"name": f"web-{n}"} for n in range(1, 6))))
    alive: list[int] = []
    with on_event(lambda _: True, lambda _: alive.append(len(drill_servers(sim)))):
        state = verify_snapshots(max_servers=5, max_concurrency=2, return_state=True)
    assert state.is_completed(), state.message
    assert [o.result for o in outcomes_of(state).values()] == ["proven"] * 5
    assert 1 <= max(alive) <= 2
    assert drill_servers(sim) == []


def test_leftovers_of_a_finished_run_are_deleted_by_the_next_drill(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env(
        fleet(
            {"name": "web-1"},
            {"name": "old", "labels": drill_labels("not-a-prefect-run", FIRST), "snapshot": False},
            {"name": "other", "labels": {DRILL_LABEL: "x"}, "snapshot": False},  # not hsnap's
        )
    )
    state = verify_snapshots(servers=["web-1"], return_state=True)
    assert state.is_completed(), state.message
    assert names(sim) == ["other", "web-1"]


def test_restore_flow_creates_the_server_and_records_it(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env(fleet({"name": "web-1", "labels": {"env": "prod"}}))
    result = restore_locally(server="web-1", new_name="web-1-back")
    assert result.server == "web-1-back"
    made = next(s for s in sim.state.ground_truth()["servers"] if s["name"] == "web-1-back")
    assert made["status"] == "running"
    original = next(s for s in sim.state.ground_truth()["servers"] if s["name"] == "web-1")
    assert made["labels"] == {"hsnap/restored-from": str(original["id"])}  # not env=prod
    assert made["public_net"]["ipv4"] is None  # quarantined unless --open


def test_restore_flow_in_place_needs_confirm(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env(fleet({"name": "web-1"}))
    before = sim.state.ground_truth()["actions"]
    with pytest.raises(ConfigError, match="nothing changed: rebuilding web-1"):
        restore_locally(server="web-1", in_place=True)
    assert sim.state.ground_truth()["actions"] == before


# -- the command line ---------------------------------------------------------------------------


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_cli_restore_prints_id_ips_and_time(hsnap_env: HsnapEnv) -> None:
    hsnap_env(fleet({"name": "web-1"}))
    result = invoke("restore", "web-1", "--as", "web-1-back")
    assert result.exit_code == 0, result.output
    assert "web-1 restored as web-1-back (id " in result.stdout
    assert "running after" in result.stdout
    assert "QUARANTINED: no public IPv4, no private network" in result.stdout


def test_cli_restore_open_and_allow(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env(fleet({"name": "web-1", "labels": {"env": "prod"}}))
    result = invoke("restore", "web-1", "--as", "ssh-copy", "--allow", "203.0.113.0/24")
    assert result.exit_code == 0, result.output
    assert "nothing in but SSH from 203.0.113.0/24" in result.stdout
    result = invoke("restore", "web-1", "--as", "open-copy", "--open")
    assert result.exit_code == 0, result.output
    assert "OPEN: the original's networks, firewalls and labels" in result.stdout
    made = {s["name"]: s for s in sim.state.ground_truth()["servers"]}
    assert made["open-copy"]["labels"] == {"env": "prod"}


def test_cli_in_place_without_yes_exits_2_and_says_what_it_destroys(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env(fleet({"name": "web-1"}))
    before = sim.state.ground_truth()["actions"]
    result = invoke("restore", "web-1", "--in-place")
    assert result.exit_code == 2
    assert "nothing changed" in said(result.output)
    assert "destroys everything on its" in said(result.output)
    assert "--yes" in said(result.output)
    assert sim.state.ground_truth()["actions"] == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("restore", "nope", "--as", "x"), "no server named 'nope'"),
        (("restore", "web-1", "--as", "x", "--image", "424242"), "no image with id 424242"),
        (("snapshots", "nope"), "no server named 'nope'"),
        (("restore", "web-1", "--as", "x", "--allow", "ten"), "--allow 'ten' is not an address"),
        (("restore", "web-1", "--as", "x", "--open", "--allow", "10.0.0.0/8"), "not --open"),
        (("restore", "web-1", "--in-place", "--open"), "go with --as NEW_NAME"),
    ],
)
def test_cli_bad_input_exits_2(hsnap_env: HsnapEnv, args: tuple[str, ...], message: str) -> None:
    hsnap_env(fleet({"name": "web-1"}))
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_cli_read_only_token_exits_2_and_creates_nothing(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env(fleet({"name": "web-1"}), token="sim-readonly")
    result = invoke("restore", "web-1", "--as", "copy")
    assert result.exit_code == 2, result.output
    assert "read-only" in result.output
    assert names(sim) == ["web-1"]


def test_cli_drill_with_a_read_only_token_exits_2_and_creates_nothing(
    hsnap_env: HsnapEnv,
) -> None:
    sim = hsnap_env(fleet({"name": "web-1"}), token="sim-readonly")
    result = invoke("drill")
    assert result.exit_code == 2, result.output
    assert "read-only" in result.output
    assert names(sim) == ["web-1"]
    assert [a for a in sim.state.ground_truth()["actions"] if a["command"] == "create_server"] == []


def test_cli_snapshots_and_drill(hsnap_env: HsnapEnv) -> None:
    hsnap_env(fleet({"name": "web-1"}, {"name": "db-1", "boot": "error"}))
    listed = invoke("snapshots", "web-1")
    assert listed.exit_code == 0, listed.output
    assert "hsnap" in listed.stdout
    assert "never" in listed.stdout
    drilled = invoke("drill", "--server", "web-1")
    assert drilled.exit_code == 0, drilled.output
    assert "proven" in drilled.stdout
    again = invoke("snapshots", "web-1")
    assert "never" not in again.stdout  # proven today
    failing = invoke("drill", "--server", "db-1")
    assert failing.exit_code == 1, failing.output


# -- SIGKILL in the middle of a drill -----------------------------------------------------------

KILL_SCRIPT = (
    "from hsnap.flows.verify_snapshots import verify_snapshots; "
    "verify_snapshots(boot_wait_minutes=600, return_state=True)"
)


def test_sigkill_mid_drill_is_cleaned_up_once_the_run_is_not_active(hsnap_env: HsnapEnv) -> None:
    # the snapshot never boots and the drill waits up to 10 hours (a minute here): time to kill
    sim = hsnap_env(fleet({"name": "web-1", "boot": "stuck"}))
    child = start_flow_process(sim, KILL_SCRIPT)
    try:
        throwaway = wait_for_drill_server(sim, child, timeout_s=60)
    finally:
        child.send_signal(signal.SIGKILL)
        output = child.communicate(timeout=30)[0].decode(errors="replace")
    assert throwaway is not None, output[-3000:]
    killed_run = throwaway["labels"][DRILL_LABEL]

    # Prefect still shows the killed run as running (nobody reported the kill): its server stays
    state = verify_snapshots(servers=["nobody"], return_state=True)
    assert state.is_failed()  # "nobody" does not exist; what matters is the cleanup before
    assert throwaway["name"] in names(sim)

    # a worker reports a killed flow-run process as Crashed; then the next cleanup deletes it
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(UUID(killed_run), Crashed(message="killed"), force=True)
    results = recover_locally()
    assert [(r.server, r.result, r.run_id) for r in results] == [
        (throwaway["name"], "deleted", killed_run)
    ]
    assert names(sim) == ["web-1"]


def wait_for_drill_server(
    sim: SimulatorServer, child: subprocess.Popen[bytes], timeout_s: float
) -> dict[str, Any] | None:
    """Poll the simulator (bounded) until a drill server exists."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and child.poll() is None:
        for server in sim.state.ground_truth()["servers"]:
            if DRILL_LABEL in server["labels"]:
                return dict(server)
        time.sleep(0.02)
    return None
