"""``hsnap prune`` and ``hsnap plan`` in-process under the session's Prefect harness.

The fleet is ``tests/prune_world.py``'s; ``--daily 0 --weekly 0 --monthly 0`` leaves nothing but
the safety rules, so each server keeps only its newest available snapshot.
"""

from __future__ import annotations

import json
from typing import Any

import typer
from typer.testing import CliRunner

from hsnap.cli import app
from tests.conftest import one_message
from tests.flows.conftest import HsnapEnv, hsnap_env, prefect_harness
from tests.prune_world import (
    GONE,
    UNTOUCHABLE,
    deletes,
    images_by_description,
    seeded_managed,
    survivors,
    world,
)

__all__ = ["hsnap_env", "prefect_harness"]  # fixtures shared with the flow tests

BARE = ("--daily", "0", "--weekly", "0", "--monthly", "0")

BARE_DELETES = {
    *(
        f"web-1 hsnap {age}"
        for age in ("2d", "3d", "5d", "10d", "3w", "6w", "100d", "400d", "800d")
    ),
    "db-1 hsnap 400d",
}


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def pruned(stdout: str) -> dict[str, dict[str, Any]]:
    """The ``pruned`` rows of a ``--json`` output, by image description."""
    data = json.loads(stdout)
    return {row["description"]: row for row in data["pruned"]}


# -- hsnap prune ------------------------------------------------------------------------------


def test_prune_json_lists_every_managed_snapshot_and_deletes_only_hsnaps(
    hsnap_env: HsnapEnv,
) -> None:
    sim = hsnap_env(world())
    everything = survivors(sim)
    managed_ids = seeded_managed(sim)

    result = invoke("prune", "--json", *BARE)

    assert result.exit_code == 0, result.output
    rows = pruned(result.stdout)
    assert {row["image_id"] for row in rows.values()} == set(managed_ids)
    assert all(row["action"] in ("keep", "delete") and row["reason"] for row in rows.values())
    assert {d for d, row in rows.items() if row["result"] == "deleted"} == BARE_DELETES
    assert survivors(sim) == everything - BARE_DELETES
    assert survivors(sim) >= UNTOUCHABLE.keys() | {"orphan hsnap 30d", "orphan hsnap 60d"}


def test_prune_dry_run_with_a_read_only_token_deletes_nothing(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env(world(), token="sim-readonly")
    before = images_by_description(sim)

    result = invoke("prune", "--dry-run", "--json", *BARE)

    assert result.exit_code == 0, result.output
    rows = pruned(result.stdout)
    assert {d for d, row in rows.items() if row["result"] == "would delete"} == BARE_DELETES
    assert images_by_description(sim) == before
    assert deletes(sim) == 0


def test_prune_table_output_says_what_it_would_do(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env(world(), token="sim-readonly")
    before = images_by_description(sim)

    result = invoke("prune", "--dry-run", *BARE)

    assert result.exit_code == 0, result.output
    assert f"{len(BARE_DELETES)} would be deleted (dry run)" in result.stdout
    assert images_by_description(sim) == before


def test_prune_keeps_orphans_unless_told_to_delete_them(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env(world())

    kept = pruned(invoke("prune", "--json", *BARE).stdout)
    assert {kept[d]["reason"] for d in ("orphan hsnap 30d", "orphan hsnap 60d")} == {
        "kept: orphan (server deleted)"
    }

    result = invoke("prune", "--json", "--delete-orphans", *BARE)

    assert result.exit_code == 0, result.output
    rows = pruned(result.stdout)
    orphans = {d: row["result"] for d, row in rows.items() if row["server_id"] == GONE}
    assert orphans == {"orphan hsnap 30d": "kept", "orphan hsnap 60d": "deleted"}
    assert "orphan hsnap 60d" not in survivors(sim)
    assert survivors(sim) >= UNTOUCHABLE.keys() | {"orphan hsnap 30d"}


def test_prune_with_failing_deletes_exits_1(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env(world())
    sim.state.add_fault(method="DELETE", path="/images/*", code="server_error", count=1000)
    before = survivors(sim)

    result = invoke("prune", "--json", *BARE)

    assert result.exit_code == 1, result.output
    rows = pruned(result.stdout)
    assert {d for d, row in rows.items() if row["result"] == "failed"} == BARE_DELETES
    assert survivors(sim) == before


def test_prune_with_a_bad_timezone_exits_2(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env(world())
    before = survivors(sim)

    result = invoke("prune", "--timezone", "Mars/Olympus")

    assert result.exit_code == 2, result.output
    assert "unknown timezone" in result.stderr
    assert survivors(sim) == before


# -- hsnap plan -------------------------------------------------------------------------------


def test_plan_json_shows_what_would_be_snapshotted_and_pruned_and_changes_nothing(
    hsnap_env: HsnapEnv,
) -> None:
    sim = hsnap_env(world(), token="sim-readonly")
    before = images_by_description(sim)

    result = invoke("plan", "--json", *BARE)

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["dry_run"] is True
    assert {(s["server"], s["status"]) for s in data["servers"]} == {
        ("web-1", "planned"),
        ("db-1", "planned"),
    }
    rows = pruned(result.stdout)
    assert {d for d, row in rows.items() if row["result"] == "would delete"} == BARE_DELETES
    assert images_by_description(sim) == before
    assert sim.state.ground_truth()["created_images"] == []
    assert deletes(sim) == 0


def test_plan_table_names_the_servers_and_the_prune(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env(world())
    before = images_by_description(sim)

    result = invoke("plan", "--server", "db-1", *BARE)

    assert result.exit_code == 0, result.output
    assert "1 server(s) would be snapshotted" in result.stdout
    assert "db-1" in result.stdout
    assert "1 would be deleted (dry run)" in result.stdout
    assert images_by_description(sim) == before
    assert sim.state.ground_truth()["created_images"] == []


def test_plan_says_so_and_exits_1_when_retention_cannot_list_the_images(
    hsnap_env: HsnapEnv,
) -> None:
    sim = hsnap_env(world())
    sim.state.add_fault(method="GET", path="/images", code="server_error", count=1000)

    result = invoke("plan", *BARE)

    assert result.exit_code == 1, result.output
    assert "2 server(s) would be snapshotted" in result.stdout
    assert "retention failed" in result.stderr
    assert "listing images" in result.stderr


def test_prune_with_a_read_only_token_stops_at_the_first_refusal_and_exits_2(
    hsnap_env: HsnapEnv,
) -> None:
    sim = hsnap_env(world(), token="sim-readonly")
    before = images_by_description(sim)

    result = invoke("prune", *BARE)

    assert result.exit_code == 2, result.output
    line = one_message(result.stderr)
    assert "the API token is read-only: create a Read & Write API token" in line
    assert line.count("Read & Write") == 1
    assert deletes(sim) == 1
    assert images_by_description(sim) == before


def test_plan_offers_the_same_retention_options_as_prune() -> None:
    def options(command: str) -> dict[str, Any]:
        click_command = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
        return {p.name: p.default for p in click_command.params}

    plan, prune = options("plan"), options("prune")
    retention = {k: v for k, v in prune.items() if k not in ("dry_run", "as_json", "verbose")}
    assert retention.items() <= plan.items()
    assert {"keep_last", "hourly", "daily", "yearly", "min_keep", "max_deletions"} <= set(plan)
