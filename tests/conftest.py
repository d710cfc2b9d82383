"""Shared fixtures: a simulator per test, hcloud clients whose every response is schema-checked."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hcloud
import pytest
import requests

from hcloud_sim import SimulatorServer
from hcloud_sim.spec import Scenario
from tests.openapi_check import ExchangeValidator, load_openapi, spec_path

SimFactory = Callable[..., SimulatorServer]
ClientFactory = Callable[..., hcloud.Client]


@pytest.fixture(scope="session")
def openapi() -> Any:
    path = spec_path()
    if not path.is_file():
        pytest.fail(f"Hetzner's OpenAPI document is missing at {path}; set HCLOUD_OPENAPI_SPEC")
    return load_openapi(path)


@pytest.fixture
def schema_check(openapi: Any) -> Iterator[ExchangeValidator]:
    """Every response seen through this validator must match the official schema."""
    validator = ExchangeValidator(openapi)
    yield validator
    assert not validator.failures, "responses that break the OpenAPI schema:\n" + "\n".join(
        validator.failures
    )


@pytest.fixture
def make_sim() -> Iterator[SimFactory]:
    """Start simulators on free loopback ports; all are stopped at the end of the test."""
    started: list[SimulatorServer] = []

    def start(
        scenario: str | Path | dict[str, Any] | Scenario = "demo",
        time_scale: float | None = None,
        **options: Any,  # control_token, scenario_dirs
    ) -> SimulatorServer:
        server = SimulatorServer(scenario, time_scale=time_scale, **options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def make_client(schema_check: ExchangeValidator) -> ClientFactory:
    """hcloud-python clients against a simulator, with every response schema-validated."""

    def build(sim: SimulatorServer, token: str = "sim-token", **kwargs: Any) -> hcloud.Client:
        kwargs.setdefault("timeout", 10)
        client = hcloud.Client(token=token, api_endpoint=sim.url, **kwargs)
        session: requests.Session = client._client._session
        session.hooks["response"].append(schema_check.hook)
        return client

    return build


@pytest.fixture
def sim(make_sim: SimFactory) -> SimulatorServer:
    """The demo fleet at 100x speed."""
    return make_sim("demo", time_scale=100)


@pytest.fixture
def client(sim: SimulatorServer, make_client: ClientFactory) -> hcloud.Client:
    return make_client(sim)
