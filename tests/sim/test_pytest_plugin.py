"""The pytest plugin, used as another project would: one line in its conftest, its own tests."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.e2e.conftest import REPO

CONFTEST = 'pytest_plugins = ["hcloud_sim.pytest_plugin"]\n'

SCENARIO = """\
name: two-servers
projects:
  - name: shop
    tokens: [{token: shop-rw}, {token: shop-ro, readonly: true}]
    servers:
      - {name: app-1, server_type: cx22, location: fsn1}
      - {name: app-2, server_type: cx22, location: fsn1}
"""

TESTS = """\
import hcloud
import pytest


def test_a_snapshot_is_made_and_seen(hcloud_sim):
    client = hcloud.Client(token=hcloud_sim.token, api_endpoint=hcloud_sim.url)
    server = client.servers.get_by_name("web-1")
    client.servers.create_image(server, description="first").action.wait_until_finished()
    made = hcloud_sim.ground_truth()["created_images"]
    assert len(made) == 1


def test_the_next_test_starts_from_a_fresh_world(hcloud_sim):
    assert hcloud_sim.ground_truth()["created_images"] == []


@pytest.mark.hcloud_sim(scenario="fleet.yaml", time_scale=600)
def test_a_scenario_file_and_the_environment(hcloud_sim_env):
    import os
    client = hcloud.Client(
        token=os.environ["HCLOUD_TOKEN"], api_endpoint=os.environ["HCLOUD_ENDPOINT"]
    )
    assert sorted(s.name for s in client.servers.get_all()) == ["app-1", "app-2"]
    assert hcloud_sim_env.token == "shop-rw"
    assert hcloud_sim_env.readonly_token == "shop-ro"
    clock = hcloud_sim_env.control("POST", "/clock", {"advance": 3600})
    assert clock["time_scale"] == 600


def test_a_wrong_expectation_fails(hcloud_sim):
    client = hcloud.Client(token=hcloud_sim.token, api_endpoint=hcloud_sim.url)
    assert client.servers.get_by_name("no-such-server") is not None
"""


def test_another_project_gets_a_simulator_per_test_from_one_line(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "fleet.yaml").write_text(SCENARIO)
    (tmp_path / "test_automation.py").write_text(textwrap.dedent(TESTS))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("PYTEST_ADDOPTS", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = result.stdout + result.stderr
    assert "1 failed, 3 passed" in out, out
    assert "FAILED test_automation.py::test_a_wrong_expectation_fails" in out, out
