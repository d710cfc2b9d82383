"""The disaster, end to end: ``hsnap run``, the server deleted, ``hsnap restore NAME --replace``.

The scenario (``tests/data/wired.yaml``) holds a fully wired server. After the replace, the server
(``GET /servers/{id}``) and every resource of every family are compared with what was there
before, field by field: only the server's id, creation time and image may differ (and the MAC
address of each network attachment, which Hetzner hands out anew, and the backup window, which
Hetzner picks: only whether backups are on is compared).
"""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any
from uuid import UUID

import pytest
import yaml

from hcloud_sim import SimulatorServer
from hsnap.cloud.client import Cloud
from tests.flows.conftest import (
    HsnapEnv,
    artifacts_of,
    hsnap_env,
    prefect_harness,
    start_flow_process,
)
from tests.hsnap.test_replace import (
    WIRED,
    comparable,
    delete,
    server_json,
    state_of,
    world_of,
)
from tests.hsnap.world import connect
from tests.test_cli import invoke

__all__ = ["hsnap_env", "prefect_harness"]  # fixtures shared with the flow tests
KILL_SCRIPT = """
import sys
from hsnap.cli import app
sys.argv = ["hsnap", "restore", "web-1", "--replace"]
app()
"""


def _run_and_lose(sim: SimulatorServer) -> tuple[Cloud, dict[str, Any], dict[str, Any]]:
    """``hsnap run``, then web-1 deleted through the API; its JSON and its world before."""
    ran = invoke("run", "--json")
    assert ran.exit_code == 0, ran.output
    cloud = connect(sim)
    before = server_json(cloud, "web-1")
    around = world_of(cloud, before["id"])
    delete(cloud, before["id"])
    return cloud, before, around


def _report(output: str) -> dict[str, Any]:
    start = output.index("{\n")
    data: dict[str, Any] = json.JSONDecoder().raw_decode(output[start:])[0]
    return data


def _bad_rows(report: dict[str, Any]) -> set[str]:
    return {r["step"] for r in report["rows"] if r["status"] in ("failed", "changed")}


def test_replace_gives_the_server_back_as_it_was(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env(WIRED)
    ran = invoke("run", "--json")
    assert ran.exit_code == 0, ran.output
    recipes = artifacts_of(UUID(json.loads(ran.stdout)["flow_run_id"]))["snapshot-recipes"]
    assert "web-1 (id" in str(recipes.data)
    assert "10.2.0.7 (+10.2.0.8, 10.2.0.9)" in str(recipes.data)
    cloud = connect(sim)
    before = server_json(cloud, "web-1")
    around = world_of(cloud, before["id"])
    delete(cloud, before["id"])

    result = invoke("restore", "web-1", "--replace", "--json")

    report = _report(result.output)
    assert _bad_rows(report) == set(), report["rows"]
    assert result.exit_code == 0, result.output
    after = server_json(cloud, "web-1")
    old, new = comparable(before), comparable(after)
    assert [(k, old[k], new[k]) for k in old if old[k] != new[k]] == []
    assert world_of(cloud, after["id"]) == around
    assert not report["warnings"]
    listed = invoke("snapshots", "web-1", "--json")  # the old server's snapshot is its own now
    assert [r["image_id"] for r in json.loads(listed.stdout)] == [report["image_id"]]


def test_with_auto_delete_on_the_new_addresses_are_said_first_and_fail_the_exit_code(
    hsnap_env: HsnapEnv,
) -> None:
    sim = hsnap_env(WIRED)
    ran = invoke("run", "--json")
    assert ran.exit_code == 0, ran.output
    cloud = connect(sim)
    before = server_json(cloud, "web-1")
    for key in ("ipv4", "ipv6"):
        ip_id = before["public_net"][key]["id"]
        cloud.raw("PUT", f"/primary_ips/{ip_id}", "auto_delete", json={"auto_delete": True})
    delete(cloud, before["id"])

    result = invoke("restore", "web-1", "--replace", "--json")

    assert result.exit_code == 1
    report = _report(result.output)
    old_v4 = before["public_net"]["ipv4"]["ip"]
    new_v4 = server_json(cloud, "web-1")["public_net"]["ipv4"]["ip"]
    assert new_v4 != old_v4
    assert any(f"was {old_v4}, is now {new_v4}" in w for w in report["warnings"])
    assert result.output.index("ADDRESS") < result.output.index("{\n")  # said before the report
    changed = {r["target"] for r in report["rows"] if r["status"] == "changed"}
    assert changed == {f"ipv4 {old_v4}", f"ipv6 {before['public_net']['ipv6']['ip']}"}


def test_a_killed_replace_converges_on_a_rerun(hsnap_env: HsnapEnv) -> None:
    spec = yaml.safe_load(WIRED.read_text())
    spec["projects"][0]["action_durations"]["attach_to_network"] = 1200
    sim = hsnap_env(spec)
    cloud, before, around = _run_and_lose(sim)
    child = start_flow_process(sim, KILL_SCRIPT)
    try:
        deadline = time.monotonic() + 120
        while not _attaching(sim):
            assert child.poll() is None, child.stdout.read() if child.stdout else ""
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()

    result = invoke("restore", "web-1", "--replace", "--json")

    report = _report(result.output)
    assert _bad_rows(report) == set(), report["rows"]
    assert result.exit_code == 0, result.output
    assert [s["name"] for s in sim.state.ground_truth()["servers"]].count("web-1") == 1
    after = server_json(cloud, "web-1")
    old, new = comparable(before), comparable(after)
    assert [(k, old[k], new[k]) for k in old if old[k] != new[k]] == []
    assert world_of(cloud, after["id"]) == around


def _attaching(sim: SimulatorServer) -> bool:
    actions = sim.state.ground_truth()["actions"]
    return any(a["command"] == "attach_to_network" and a["status"] == "running" for a in actions)


def test_bad_input_exits_2_with_one_line_and_changes_nothing(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env(WIRED)
    ran = invoke("run", "--json")
    assert ran.exit_code == 0, ran.output
    cloud = connect(sim)
    web2_image = next(i.id for i in cloud.find_images() if i.created_from == "web-2")
    truth = state_of(sim)
    cases = {
        ("restore", "nope", "--replace"): "no server named 'nope'",
        ("restore", "web-1", "--replace"): "still exists",
    }
    for args, message in cases.items():
        result = invoke(*args)
        assert (result.exit_code, message in result.output) == (2, True), result.output
        assert "Traceback" not in result.output
    delete(cloud, server_json(cloud, "web-1")["id"])
    truth = state_of(sim)
    result = invoke("restore", "web-1", "--replace", "--image", str(web2_image))
    assert result.exit_code == 2
    assert "not a snapshot or backup of web-1" in result.output
    assert state_of(sim) == truth


def test_a_read_only_token_exits_2_and_changes_nothing(
    hsnap_env: HsnapEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = hsnap_env(WIRED)
    ran = invoke("run", "--json")
    assert ran.exit_code == 0, ran.output
    delete(connect(sim), server_json(connect(sim), "web-1")["id"])
    truth = state_of(sim)
    monkeypatch.setenv("HCLOUD_TOKEN", "sim-readonly")

    result = invoke("restore", "web-1", "--replace")

    assert result.exit_code == 2, result.output
    assert "read-only" in result.output
    assert state_of(sim) == truth
