"""Shared fixtures: a simulator per test, hcloud clients whose every response is schema-checked."""

from __future__ import annotations

import os
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


#: where Hetzner publishes the OpenAPI document the simulator answers by
SPEC_URL = "https://docs.hetzner.cloud/cloud.spec.json"


_left_out: list[str] = []  # the tests left out for want of the document (one run's)


def _missing_spec() -> str | None:
    """What to do about a missing OpenAPI document, or None when it is there."""
    path = spec_path()
    if path.is_file():
        return None
    return (
        f"Hetzner's OpenAPI document is missing at {path}: download {SPEC_URL} and point "
        "HCLOUD_OPENAPI_SPEC at it"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Outside CI, leave out the tests that need the missing document (said in one line).

    In CI (``CI`` set) they stay, and fail: the document is part of the build there.
    """
    if os.environ.get("CI") or _missing_spec() is None:
        return
    needing = [i for i in items if "openapi" in getattr(i, "fixturenames", ())]
    if not needing:
        return
    config.hook.pytest_deselected(items=needing)
    left_out = {id(i) for i in needing}
    items[:] = [i for i in items if id(i) not in left_out]
    _left_out[:] = [i.nodeid for i in needing]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _left_out:
        message = _missing_spec()
        terminalreporter.write_line(f"{len(_left_out)} test(s) not run: {message}", yellow=True)


@pytest.fixture(scope="session")
def openapi() -> Any:
    """Hetzner's OpenAPI document (tests needing it are left out when it is missing outside CI)."""
    message = _missing_spec()
    if message is not None:
        pytest.fail(message)
    return load_openapi(spec_path())


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


def said(text: str) -> str:
    """``text`` with its whitespace normalised: what a message says, however it was wrapped."""
    return " ".join(text.split())


def one_message(stderr: str, width: int = 80) -> str:
    """The single ``hsnap:`` message in ``stderr`` (normalised), each line within ``width``."""
    lines = stderr.splitlines()
    assert lines, "nothing on stderr"
    assert lines[0].startswith("hsnap: "), stderr
    assert not any(line.startswith("hsnap: ") for line in lines[1:]), stderr
    assert "Traceback" not in stderr
    assert all(len(line) <= width for line in lines), stderr
    return said(stderr)
