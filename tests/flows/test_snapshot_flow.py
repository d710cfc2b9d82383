"""Whole runs of the snapshot flow against the simulator, read back through Prefect's API."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import pytest
import requests
from prefect.blocks.system import Secret
from prefect.client.orchestration import get_client
from prefect.exceptions import ParameterTypeError
from prefect.states import State

from hcloud_sim import SimulatorServer
from hsnap.cloud.client import READ_ATTEMPTS
from hsnap.errors import ConfigError, HsnapError
from hsnap.flows.snapshot_servers import snapshot_servers
from hsnap.models import RunReport
from tests.flows.conftest import HsnapEnv, artifacts_of, logs_of, task_runs_of

DEMO_SERVERS = 12


def report_of(state: State[Any]) -> RunReport:
    data = state.result(raise_on_failure=False)
    assert isinstance(data, dict), f"the flow did not report: {data!r}"
    return RunReport.from_dict(data)


def rows(report: RunReport) -> dict[str, Any]:
    return {o.server: o for o in report.outcomes}


def flow_run_id(state: State[Any]) -> UUID:
    assert state.state_details.flow_run_id is not None
    return state.state_details.flow_run_id


def created_images(sim: SimulatorServer) -> list[dict[str, Any]]:
    """The images the run created, as the simulator holds them."""
    truth = sim.state.ground_truth()
    created = set(truth["created_images"])
    return [i for i in truth["images"] if i["id"] in created]


def create_requests(sim: SimulatorServer) -> int:
    return sum(
        c["count"]
        for c in sim.state.request_counts()
        if c["method"] == "POST" and c["endpoint"].endswith("create_image")
    )


def one_server_scenario(**server: Any) -> dict[str, Any]:
    return {
        "name": "one",
        "projects": [
            {
                "name": "one",
                "action_durations": {"create_image": 120},
                "servers": [{"name": "srv-1", **server}],
            }
        ],
    }


# -- the happy path ---------------------------------------------------------------------------


def test_demo_fleet_completes_with_one_owned_image_per_server(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env("demo")
    state = snapshot_servers(return_state=True)

    assert state.is_completed(), state.message
    report = report_of(state)
    run_id = flow_run_id(state)
    assert report.flow_run_id == str(run_id)
    assert len(report.outcomes) == DEMO_SERVERS
    assert all(o.status == "succeeded" for o in report.outcomes), report.to_dict()

    images = created_images(sim)
    assert len(images) == DEMO_SERVERS
    by_server = {i["created_from"]["name"]: i for i in images}
    assert set(by_server) == set(rows(report))
    for outcome in report.outcomes:
        image = by_server[outcome.server]
        assert image["id"] == outcome.image_id
        assert image["status"] == "available"
        assert image["type"] == "snapshot"
        assert image["labels"]["managed-by"] == "hsnap"
        assert image["labels"]["hsnap/server-id"] == str(outcome.server_id)
        assert image["labels"]["hsnap/flow-run"] == str(run_id)

    artifacts = artifacts_of(run_id)
    table = artifacts["snapshot-report"]
    assert table.type == "table"
    table_rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert sorted(r["server"] for r in table_rows) == sorted(rows(report))
    assert {r["status"] for r in table_rows} == {"succeeded"}
    progress = artifacts["snapshot-progress"]
    assert progress.type == "progress"
    assert float(str(progress.data)) == pytest.approx(100.0)
    summary = artifacts["snapshot-summary"]
    assert summary.type == "markdown"
    assert f"all {DEMO_SERVERS} server(s) snapshotted" in str(summary.data)


def test_more_than_one_page_of_servers(hsnap_env: HsnapEnv) -> None:
    fleet = {
        "name": "sixty",
        "projects": [
            {
                "name": "sixty",
                "action_durations": {"create_image": [60, 180]},
                "servers": [{"name": "node-{i:02d}", "count": 60, "labels": {"env": "prod"}}],
            }
        ],
    }
    sim = hsnap_env(fleet)
    state = snapshot_servers(max_concurrency=30, return_state=True)

    assert state.is_completed(), state.message
    report = report_of(state)
    assert sorted(rows(report)) == [f"node-{i:02d}" for i in range(1, 61)]
    assert all(o.status == "succeeded" for o in report.outcomes)
    assert len(created_images(sim)) == 60
    listed = [
        c
        for c in sim.state.request_counts()
        if c["method"] == "GET" and c["endpoint"] == "/servers"
    ]
    # two pages of 50, listed once (the recipes re-use the selection's listing), plus the
    # one-page look for servers hsnap left powered off, before the snapshots and after them
    assert sum(c["count"] for c in listed) == 2 + 2


# -- failures are rows, and the run says which -------------------------------------------------


def test_lock_that_never_releases_fails_only_that_server(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env("demo")
    sim.state.clock.advance(600)  # the demo's own locks end; only the one below stays
    stuck = sim.state.server_by_name("web-3")
    holder = sim.state.lock_server(stuck.id, command="rebuild_server", duration=None)

    state = snapshot_servers(lock_wait_minutes=1, return_state=True)

    assert state.is_failed()
    assert state.message == f"1 of {DEMO_SERVERS} server(s) failed: web-3"
    report = report_of(state)
    row = rows(report)["web-3"]
    assert row.status == "failed"
    assert row.error_code == "lock_timeout"
    assert f"rebuild_server #{holder}" in (row.error or "")
    assert row.image_id is None
    others = [o for o in report.outcomes if o.server != "web-3"]
    assert len(others) == DEMO_SERVERS - 1
    assert all(o.status == "succeeded" for o in others)
    assert {i["created_from"]["name"] for i in created_images(sim)} == {o.server for o in others}


def test_a_named_server_that_does_not_exist_is_a_failed_row(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env("demo")
    state = snapshot_servers(servers=["web-1", "no-such-server"], return_state=True)

    assert state.is_failed()
    assert "no-such-server" in (state.message or "")
    found = rows(report_of(state))
    assert set(found) == {"web-1", "no-such-server"}
    assert found["web-1"].status == "succeeded"
    missing = found["no-such-server"]
    assert (missing.status, missing.error_code, missing.server_id) == ("failed", "not_found", None)
    assert "no-such-server" in (missing.error or "")
    assert [i["created_from"]["name"] for i in created_images(sim)] == ["web-1"]


def test_malformed_label_selector_fails_before_anything_is_created(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env("demo")
    state = snapshot_servers(label_selector="env in (prod", return_state=True)

    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, ConfigError)
    assert "malformed label selector" in str(error)
    assert sim.state.ground_truth()["created_images"] == []
    assert create_requests(sim) == 0


def test_invalid_token_fails_the_run_at_selection(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env("demo", token="not-a-valid-token")
    state = snapshot_servers(return_state=True)

    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, HsnapError)
    assert error.code == "unauthorized"
    assert "listing servers" in str(error)
    assert "API token is invalid" in str(error)
    assert create_requests(sim) == 0
    [only] = task_runs_of(flow_run_id(state))
    assert only.name.startswith("select-servers")


def test_read_only_token_fails_every_row_with_what_to_do(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env("demo", token="sim-readonly")
    state = snapshot_servers(label_selector="role=db", return_state=True)

    assert state.is_failed()
    found = rows(report_of(state))
    assert set(found) == {"db-1", "db-2"}
    for row in found.values():
        assert (row.status, row.error_code) == ("failed", "token_readonly")
        assert "create a Read & Write API token" in (row.error or "")
        assert row.attempts == 1, "a permanent error is not retried"
    assert sim.state.ground_truth()["created_images"] == []


# -- what runs, and what does not ------------------------------------------------------------


def test_dry_run_plans_and_changes_nothing(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env("demo")
    state = snapshot_servers(dry_run=True, return_state=True)

    assert state.is_completed(), state.message
    report = report_of(state)
    assert report.dry_run
    assert len(report.outcomes) == DEMO_SERVERS
    assert {o.status for o in report.outcomes} == {"planned"}
    assert sim.state.ground_truth()["created_images"] == []
    assert create_requests(sim) == 0


def test_label_selector_and_exclusions_are_honoured(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env("demo")
    state = snapshot_servers(
        label_selector="env=prod,role=web", exclude=["web-2"], return_state=True
    )

    assert state.is_completed(), state.message
    assert sorted(rows(report_of(state))) == ["web-1", "web-3"]
    assert sorted(i["created_from"]["name"] for i in created_images(sim)) == ["web-1", "web-3"]


# -- the token --------------------------------------------------------------------------------

SECRET_TOKEN = "hsnap-test-token-7f3a9c0d5e1b"  # distinctive, so any leak is found by search


def secret_scenario() -> dict[str, Any]:
    return {
        "name": "secret",
        "projects": [
            {
                "name": "secret",
                "tokens": [{"token": SECRET_TOKEN}],
                "action_durations": {"create_image": 60},
                "servers": [
                    {"name": "ok-1"},
                    {
                        "name": "bad-1",
                        "snapshot_error": {"code": "action_failed", "message": "disk read error"},
                    },
                ],
            }
        ],
    }


def test_token_never_reaches_logs_parameters_artifacts_or_report(hsnap_env: HsnapEnv) -> None:
    hsnap_env(secret_scenario(), token=SECRET_TOKEN)
    state = snapshot_servers(return_state=True)

    assert state.is_failed()  # bad-1 fails: the error paths log too
    run_id = flow_run_id(state)
    report = report_of(state)
    assert rows(report)["bad-1"].error_code == "action_failed"
    assert SECRET_TOKEN not in json.dumps(report.to_dict())
    assert SECRET_TOKEN not in (state.message or "")

    logs = logs_of(run_id)
    assert any("bad-1" in log.message for log in logs), "logs were not read back"
    assert not [log.message for log in logs if SECRET_TOKEN in log.message]
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)
    assert SECRET_TOKEN not in json.dumps(run.parameters, default=str)
    assert SECRET_TOKEN not in run.model_dump_json()
    for task_run in task_runs_of(run_id):
        assert SECRET_TOKEN not in task_run.model_dump_json()
    artifacts = artifacts_of(run_id)
    assert {"snapshot-report", "snapshot-summary", "snapshot-progress"} <= set(artifacts)
    for artifact in artifacts.values():
        assert SECRET_TOKEN not in artifact.model_dump_json()


def test_token_from_a_secret_block(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env(secret_scenario(), token=None)
    Secret(value=SECRET_TOKEN).save("hcloud-token", overwrite=True)

    state = snapshot_servers(servers=["ok-1"], return_state=True)

    assert state.is_completed(), state.message
    assert rows(report_of(state))["ok-1"].status == "succeeded"
    assert len(created_images(sim)) == 1


# -- retries resume ---------------------------------------------------------------------------


def test_task_retry_resumes_the_image_instead_of_duplicating(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env(one_server_scenario())
    # every read attempt of the finished image (the run's batched read, GET /images with its
    # label selector) answers 503: the task fails transiently, after its image was created, and
    # Prefect retries it
    fault = {"method": "GET", "path": "/images", "code": "unavailable", "count": READ_ATTEMPTS}
    requests.post(f"{sim.base_url}/_sim/faults", json=fault, timeout=10).raise_for_status()

    state = snapshot_servers(return_state=True)

    assert state.is_completed(), state.message
    row = rows(report_of(state))["srv-1"]
    assert (row.status, row.attempts, row.resumed) == ("succeeded", 2, True)
    assert len(sim.state.ground_truth()["created_images"]) == 1
    assert create_requests(sim) == 1
    [task_run] = [t for t in task_runs_of(flow_run_id(state)) if t.name.startswith("snapshot-")]
    assert task_run.run_count == 2
    [rule] = sim.state.ground_truth()["faults"]
    assert rule["fired"] == READ_ATTEMPTS


# -- parameters -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "parameters",
    [{"max_concurrency": 0}, {"lock_wait_minutes": 0}, {"snapshot_wait_minutes": -1}],
)
def test_parameter_validation_rejects_nonsense(
    hsnap_env: HsnapEnv, parameters: dict[str, Any]
) -> None:
    sim = hsnap_env("demo")
    state = snapshot_servers(**parameters, return_state=True)

    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, ParameterTypeError)
    [name] = parameters
    assert name in str(error)
    assert sim.state.request_counts() == [], "nothing reached the API"
