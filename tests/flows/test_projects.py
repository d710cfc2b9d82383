"""Hetzner projects as blocks: hsnap project add/list/remove, and flows run with ``project``.

Three simulated projects, each with its own tokens, servers and rate bucket; the blocks live on
the session's Prefect test server. The environment points at the first project, so a flow that
snapshots the second one proves the block's token and endpoint won.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.concurrency.sync import concurrency
from pydantic import SecretStr
from typer.testing import CliRunner

from hcloud_sim import SimulatorServer
from hsnap.cli import app
from hsnap.errors import ConfigError
from hsnap.flows.snapshot_servers import run_locally
from hsnap.projects.block import HetznerProject
from hsnap.projects.limits import ensure_project_limit, limit_name
from hsnap.projects.registry import project_names, remove_project
from hsnap.settings import load_settings
from tests.flows.conftest import HsnapEnv
from tests.hsnap.world import project_images, projects_world


def project_limits() -> set[str]:
    """The names of the Prefect server's global concurrency limits."""
    with get_client(sync_client=True) as client:
        return {limit.name for limit in client.read_global_concurrency_limits(limit=200)}


def invoke(*args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(app, list(args), input=stdin)


@pytest.fixture
def sim(hsnap_env: HsnapEnv) -> Iterator[SimulatorServer]:
    """Projects alpha, beta, gamma; HCLOUD_TOKEN/ENDPOINT point at alpha; no block left after."""
    yield hsnap_env(projects_world("alpha", "beta", "gamma", snapshot_s=120), token="alpha-rw")
    for name in project_names():
        remove_project(name)


def test_add_checks_the_token_stores_it_and_never_prints_it(
    sim: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HCLOUD_TOKEN", "beta-rw")
    added = invoke("project", "add", "beta", "--display-name", "Beta shop")
    monkeypatch.delenv("HCLOUD_TOKEN")
    from_stdin = invoke("project", "add", "gamma-readonly", "--token-stdin", stdin="gamma-ro\n")

    assert added.exit_code == 0, added.output
    assert "2 server(s)" in added.output
    assert from_stdin.exit_code == 0, from_stdin.output
    block: Any = HetznerProject.load("beta")
    assert block.token.get_secret_value() == "beta-rw"
    assert block.endpoint == sim.url
    assert block.display_name == "Beta shop"
    listed = invoke("project", "list", "--json")
    assert listed.exit_code == 0, listed.output
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["beta"] == {
        "name": "beta",
        "display name": "Beta shop",
        "endpoint": sim.url,
        "servers": "2",
        "access": "read & write",
    }
    assert rows["gamma-readonly"]["access"] == "read-only"
    for output in (added.output, from_stdin.output, listed.output):
        assert "beta-rw" not in output
        assert "gamma-ro" not in output


def test_list_probes_access_without_changing_anything(sim: SimulatorServer) -> None:
    for name, token in (("alpha", "alpha-rw"), ("beta-ro", "beta-ro")):
        HetznerProject(token=SecretStr(token), endpoint=sim.url).save(name, overwrite=True)
    before = {p: sim.state.ground_truth(p)["servers"] for p in ("alpha", "beta")}

    listed = invoke("project", "list")

    assert listed.exit_code == 0, listed.output
    assert "read & write" in listed.output
    assert "read-only" in listed.output
    assert {p: sim.state.ground_truth(p)["servers"] for p in ("alpha", "beta")} == before
    assert not project_images(sim, "alpha")
    assert not project_images(sim, "beta")


@pytest.mark.usefixtures("sim")
def test_bad_input_exits_2_and_stores_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HCLOUD_TOKEN", "no-such-token")
    bad_token = invoke("project", "add", "beta")
    monkeypatch.setenv("HCLOUD_TOKEN", "beta-rw")
    bad_name = invoke("project", "add", "Beta Shop")
    bad_selector = invoke("project", "add", "beta", "-l", "env in (prod")
    unsafe = invoke("project", "add", "beta", "--endpoint", "http://api.example.com/v1")
    missing = invoke("project", "remove", "nope")

    for result in (bad_token, bad_name, bad_selector, unsafe, missing):
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        assert result.output.startswith("hsnap: "), result.output  # one message (rich wraps it)
        assert result.output.count("hsnap:") == 1, result.output
    assert "invalid" in bad_token.output
    assert "no-such-token" not in bad_token.output
    assert "plain http" in unsafe.output
    assert project_names() == []


def test_remove_forgets_the_project(sim: SimulatorServer) -> None:
    HetznerProject(token=SecretStr("beta-rw"), endpoint=sim.url).save("beta", overwrite=True)
    ensure_project_limit("beta")  # as hsnap project add makes it

    removed = invoke("project", "remove", "beta")

    assert removed.exit_code == 0, removed.output
    assert project_names() == []
    assert limit_name("beta") not in project_limits(), "the project's run slot is gone too"
    with pytest.raises(ConfigError, match="hsnap project add beta"):
        load_settings(project="beta")


def test_settings_come_from_the_block_and_its_endpoint_is_checked(sim: SimulatorServer) -> None:
    HetznerProject(token=SecretStr("beta-rw"), endpoint=sim.url, label_selector="env=prod").save(
        "beta", overwrite=True
    )
    # a block edited in the UI is not validated there: hsnap checks the endpoint when it loads it
    HetznerProject(token=SecretStr("beta-rw"), endpoint="http://10.0.0.8/v1").save(
        "leaky", overwrite=True
    )

    settings = load_settings(project="beta")

    assert settings.token.get_secret_value() == "beta-rw"
    assert (settings.endpoint, settings.project, settings.label_selector) == (
        sim.url,
        "beta",
        "env=prod",
    )
    assert load_settings().project == "default"  # HCLOUD_TOKEN path unchanged
    with pytest.raises(ConfigError, match="plain http"):
        load_settings(project="leaky")


def test_a_run_with_project_snapshots_that_project_with_its_default_selector(
    sim: SimulatorServer,
) -> None:
    HetznerProject(token=SecretStr("beta-rw"), endpoint=sim.url, label_selector="env=prod").save(
        "beta", overwrite=True
    )

    report = run_locally(project="beta")

    assert [o.server for o in report.succeeded] == ["beta-1"]  # beta-2 is env=dev
    assert len(project_images(sim, "beta")) == 1
    assert project_images(sim, "alpha") == []  # the environment's project was not touched


def test_a_second_run_on_a_project_waits_for_the_first(sim: SimulatorServer) -> None:
    HetznerProject(token=SecretStr("beta-rw"), endpoint=sim.url).save("beta", overwrite=True)
    # beta-2 stays locked until the check below is done, so the first run is surely still going
    # (its snapshots alone take a fraction of a real second here)
    held = sim.state.lock_server(
        sim.state.server_by_name("beta-2", "beta").id, duration=None, project="beta"
    )
    first = threading.Thread(target=run_locally, kwargs={"project": "beta"})
    first.start()
    try:
        # the first run holds beta's only slot while its snapshots are on the way
        deadline = time.monotonic() + 60
        while not project_images(sim, "beta"):
            assert time.monotonic() < deadline, "the first run never started"
            time.sleep(0.05)  # polling the simulator's ground truth, bounded by the deadline
        with (
            pytest.raises(TimeoutError),
            concurrency(limit_name("beta"), timeout_seconds=1, strict=True),
        ):
            pass
    finally:
        sim.state.finish_action(held, project="beta")
        first.join(timeout=120)
    with concurrency(limit_name("beta"), timeout_seconds=30, strict=True):
        pass  # free again once the run ended


def test_commands_take_the_project(sim: SimulatorServer) -> None:
    HetznerProject(token=SecretStr("beta-rw"), endpoint=sim.url).save("beta", overwrite=True)

    in_beta = invoke("status", "beta-1", "--project", "beta")
    not_in_alpha = invoke("status", "beta-1")  # the environment's project is alpha
    unknown = invoke("status", "beta-1", "-P", "nope")

    assert in_beta.exit_code == 0, in_beta.output
    assert "beta-1" in in_beta.output
    assert "not locked" in in_beta.output
    assert not_in_alpha.exit_code == 2
    assert unknown.exit_code == 2
    assert "hsnap project add nope" in unknown.output
