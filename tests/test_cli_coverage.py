"""``hsnap audit``'s account of what snapshots miss, and ``hsnap keep-addresses``, on the CLI."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from hsnap.cli import app
from hsnap.flows.audit_snapshots import audit_snapshots
from tests.flows.conftest import HsnapEnv, artifacts_of, hsnap_env, prefect_harness
from tests.hsnap.test_coverage import _world

__all__ = ["hsnap_env", "prefect_harness"]  # fixtures shared with the flow tests


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "80"})


def test_audit_shows_uncovered_volumes_within_80_columns(hsnap_env: HsnapEnv) -> None:
    hsnap_env(_world(), token="sim-readonly")
    result = invoke("audit")
    assert result.exit_code == 0, result.output
    assert "Not covered by any snapshot: 520 GB of attached volumes." in result.stdout
    summary = result.stdout[result.stdout.index("Not covered") :]
    assert "volumes, in no snapshot: web-1 (520 GB)" in summary
    assert "Hetzner Backups, deleted with their server: web-1 (3)" in summary
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    report = json.loads(invoke("audit", "--json").stdout)
    assert report["totals"]["uncovered_volume_gb"] == 520.0


def test_keep_addresses_says_what_it_changed(hsnap_env: HsnapEnv) -> None:
    hsnap_env(_world())
    result = invoke("keep-addresses", "web-1")
    assert result.exit_code == 0, result.output
    assert "2 Primary IP(s) changed, 0 already kept" in result.stdout
    assert "on -> OFF (kept now)" in result.stdout
    rows = json.loads(invoke("keep-addresses", "--json").stdout)
    assert {r["result"] for r in rows} == {"already kept"}


def test_keep_addresses_bad_input_exits_2_with_one_line(hsnap_env: HsnapEnv) -> None:
    hsnap_env(_world(), token="sim-readonly")
    for args, message in [
        (("keep-addresses", "nope"), "no server named 'nope' (nothing changed)"),
        (("keep-addresses", "-l", "a==b=="), "malformed label selector"),
        (("keep-addresses", "web-1"), "read-only"),
    ]:
        result = invoke(*args)
        assert result.exit_code == 2, result.output
        assert message in result.output
        assert "Traceback" not in result.output


def test_the_audit_artifact_says_what_snapshots_do_not_cover(hsnap_env: HsnapEnv) -> None:
    hsnap_env(_world(), token="sim-readonly")
    state = audit_snapshots(return_state=True)
    assert state.is_completed(), state.message
    assert state.state_details.flow_run_id is not None
    summary = str(artifacts_of(state.state_details.flow_run_id)["audit-snapshots-summary"].data)
    assert "## What snapshots do not cover" in summary
    assert "**web-1** (id 100001): 2 attached volume(s), 520 GB: in no snapshot" in summary
    assert "Total: in no snapshot: 520 GB of attached volumes." in summary
