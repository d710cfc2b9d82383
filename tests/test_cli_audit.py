"""``hsnap audit`` in-process under the session's Prefect harness, against the simulator."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from hsnap.cli import app
from tests.flows.conftest import HsnapEnv, hsnap_env, prefect_harness
from tests.prune_world import world

__all__ = ["hsnap_env", "prefect_harness"]  # fixtures shared with the flow tests


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_audit_json_exits_1_naming_the_server_older_than_the_rpo(hsnap_env: HsnapEnv) -> None:
    hsnap_env(world(), token="sim-readonly")

    result = invoke("audit", "--json")

    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["breaches"] == ["db-1"]  # newest 2 weeks old; web-1's is a day old
    assert report["rpo_hours"] == 26


def test_audit_with_a_longer_rpo_passes_and_prints_a_table(hsnap_env: HsnapEnv) -> None:
    hsnap_env(world())

    result = invoke("audit", "--rpo-hours", str(15 * 24))

    assert result.exit_code == 0, result.output
    assert "have a snapshot younger than 360 h" in result.stdout
    assert "TOTAL" in result.stdout


def test_audit_refuses_a_nonsense_rpo(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env(world())
    before = sim.state.request_count("GET", "/servers")

    result = invoke("audit", "--rpo-hours", "0")

    assert result.exit_code == 2
    assert "--rpo-hours" in result.stderr
    assert "Traceback" not in result.output
    assert sim.state.request_count("GET", "/servers") == before


def test_audit_without_a_token_says_so_with_exit_2(hsnap_env: HsnapEnv) -> None:
    hsnap_env(world(), token=None)

    result = invoke("audit", "--token-secret", "no-such-block")

    assert result.exit_code == 2
    assert "no Hetzner API token" in result.stderr
