"""Whole flow runs: one Prefect test server per session, one simulator per test.

``prefect_harness`` starts Prefect's test server once; ``hsnap_env`` starts a simulator at a high
time scale and points hsnap at it through the environment, exactly as a deployment would be.
``tests/test_cli.py`` imports both fixtures; a process-wide guard keeps the harness to one server.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import Artifact, Log, TaskRun
from prefect.logging.handlers import APILogWorker
from prefect.testing.utilities import prefect_test_harness

from hcloud_sim import SimulatorServer
from hcloud_sim.spec import Scenario

#: simulated seconds per real second: a 3-minute snapshot takes 0.3 s
SCALE = 600.0

HsnapEnv = Callable[..., SimulatorServer]

_harness_started: list[bool] = []  # module state: the fixture is imported into test_cli.py too


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """Prefect's temporary test server (SQLite in a temp dir), once per session."""
    if _harness_started:  # a second registration of this fixture (another module imported it)
        yield
        return
    previous = os.environ.get("PREFECT_SERVER_ANALYTICS_ENABLED")
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    _harness_started.append(True)
    try:
        with prefect_test_harness(server_startup_timeout=60):
            yield
    finally:
        _harness_started.clear()
        if previous is None:
            os.environ.pop("PREFECT_SERVER_ANALYTICS_ENABLED", None)
        else:
            os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = previous


@pytest.fixture
def hsnap_env(prefect_harness: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[HsnapEnv]:
    """Start a simulator and point hsnap at it (HCLOUD_ENDPOINT/TOKEN, HSNAP_TIME_SCALE)."""
    del prefect_harness
    started: list[SimulatorServer] = []

    def start(
        scenario: str | Path | dict[str, Any] | Scenario = "demo",
        *,
        token: str | None = "sim-token",
        time_scale: float = SCALE,
    ) -> SimulatorServer:
        sim = SimulatorServer(scenario, time_scale=time_scale).start()
        started.append(sim)
        monkeypatch.setenv("HCLOUD_ENDPOINT", sim.url)
        monkeypatch.setenv("HSNAP_TIME_SCALE", f"{time_scale:g}")
        if token is None:
            monkeypatch.delenv("HCLOUD_TOKEN", raising=False)
        else:
            monkeypatch.setenv("HCLOUD_TOKEN", token)
        return sim

    yield start
    for sim in started:
        sim.stop()


# -- reading a run back through Prefect's API -------------------------------------------------


def artifacts_of(flow_run_id: UUID) -> dict[str, Artifact]:
    """The flow run's artifacts by key (each key is created once per run)."""
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return {artifact.key or str(artifact.id): artifact for artifact in found}


def logs_of(flow_run_id: UUID) -> list[Log]:
    """Every log line of the flow run and its task runs, after flushing what is still queued."""
    APILogWorker.drain_all(timeout=10)
    with get_client(sync_client=True) as client:
        return client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
        )


def task_runs_of(flow_run_id: UUID) -> list[TaskRun]:
    with get_client(sync_client=True) as client:
        return client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )


def start_flow_process(sim: SimulatorServer, script: str) -> subprocess.Popen[bytes]:
    """Run ``script`` (Python that starts a flow) in a child process a test can SIGKILL.

    It reports to this session's Prefect test server and talks to ``sim``, as a worker's flow-run
    process would; its output is piped, to show when the test fails.
    """
    from prefect.settings import PREFECT_API_URL  # noqa: PLC0415 -- set by the harness

    env = {
        **os.environ,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "HCLOUD_ENDPOINT": sim.url,
        "HCLOUD_TOKEN": "sim-token",
        "HSNAP_TIME_SCALE": f"{SCALE:g}",
    }
    return subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
