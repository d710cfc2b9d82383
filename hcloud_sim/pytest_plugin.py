"""A pytest plugin: a running Hetzner Cloud simulator for each test of another project.

Add one line to your ``conftest.py``::

    pytest_plugins = ["hcloud_sim.pytest_plugin"]

and ask for the ``hcloud_sim`` fixture. Each test gets its own simulator on a free loopback port,
seeded from a scenario (a built-in name such as ``demo``, ``empty``, ``locked``, or a scenario
file), stopped when the test ends. Pick the scenario and the clock per test with a marker::

    @pytest.mark.hcloud_sim(scenario="tests/fleet.yaml", time_scale=600)

or for the whole project with the ini options ``hcloud_sim_scenario`` and
``hcloud_sim_time_scale``. ``hcloud_sim_env`` also sets ``HCLOUD_ENDPOINT`` and ``HCLOUD_TOKEN``
for code (and the ``hcloud`` CLI) that reads them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from hcloud_sim.server import SimulatorServer
from hcloud_sim.state import Simulator

DEFAULT_SCENARIO = "demo"
DEFAULT_TIME_SCALE = 60.0


@dataclass(frozen=True)
class HcloudSim:
    """A simulator serving one test: where it is, how to get in, and its control plane."""

    server: SimulatorServer
    #: the API endpoint (``HCLOUD_ENDPOINT``, hcloud-python's ``api_endpoint``)
    url: str
    #: a read-write token of the scenario's first project
    token: str = field(repr=False)  # kept out of assertion messages
    #: a read-only token of that project, when the scenario gives one
    readonly_token: str | None = field(repr=False)

    @property
    def state(self) -> Simulator:
        """The world in-process: ``ground_truth()``, ``add_fault(...)``, ``clock.advance(s)``."""
        return self.server.state

    @property
    def control_url(self) -> str:
        """The control API (``/_sim``): the same verbs over HTTP, for code in another process."""
        return self.server.base_url + "/_sim"

    def control(self, method: str, path: str, body: Any = None) -> Any:
        """Call the control API, e.g. ``control("POST", "/clock", {"advance": 600})``."""
        response = requests.request(method, self.control_url + path, json=body, timeout=10)
        response.raise_for_status()
        return response.json() if response.content else None

    def ground_truth(self, project: str | None = None) -> dict[str, Any]:
        """Everything in the project as it is now, including what the API does not show."""
        return self.state.ground_truth(project)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "hcloud_sim_scenario",
        "scenario of the hcloud_sim fixture: a built-in name or a scenario file",
        default=DEFAULT_SCENARIO,
    )
    parser.addini(
        "hcloud_sim_time_scale",
        "simulated seconds per real second for the hcloud_sim fixture",
        default=str(DEFAULT_TIME_SCALE),
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "hcloud_sim(scenario=None, time_scale=None): the scenario and clock of this test's "
        "simulator (hcloud_sim fixture)",
    )


@pytest.fixture
def hcloud_sim(request: pytest.FixtureRequest) -> Iterator[HcloudSim]:
    """A running simulator for this test, stopped after it."""
    marker = request.node.get_closest_marker("hcloud_sim")
    options = dict(marker.kwargs) if marker is not None else {}
    if marker is not None and marker.args:
        options.setdefault("scenario", marker.args[0])
    scenario = options.get("scenario") or request.config.getini("hcloud_sim_scenario")
    scale = options.get("time_scale") or float(request.config.getini("hcloud_sim_time_scale"))
    with SimulatorServer(scenario, time_scale=scale) as server:
        tokens = server.state.scenario.projects[0].tokens
        writer = next((t.token for t in tokens if not t.readonly), None)
        if writer is None:
            pytest.fail(f"scenario {scenario!r}: its first project has no read-write token")
        reader = next((t.token for t in tokens if t.readonly), None)
        yield HcloudSim(server, server.url, writer, reader)


@pytest.fixture
def hcloud_sim_env(hcloud_sim: HcloudSim, monkeypatch: pytest.MonkeyPatch) -> HcloudSim:
    """``hcloud_sim`` with ``HCLOUD_ENDPOINT`` and ``HCLOUD_TOKEN`` set for the test."""
    monkeypatch.setenv("HCLOUD_ENDPOINT", hcloud_sim.url)
    monkeypatch.setenv("HCLOUD_TOKEN", hcloud_sim.token)
    return hcloud_sim
