"""Fixtures shared by simulator contract tests: the restore world, the official Go CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from hcloud import Client

from hcloud_sim import SimulatorServer
from tests.conftest import ClientFactory, SimFactory
from tests.openapi_check import ExchangeValidator
from tests.sim._api import RawApi, clock_stepping
from tests.sim._gocli import FAST, Run, find_hcloud, runner
from tests.sim._restore import RESTORE


@pytest.fixture
def world(make_sim: SimFactory) -> SimulatorServer:
    """``_restore.RESTORE`` at 1x: time moves on where a test advances the clock."""
    return make_sim(RESTORE, time_scale=1)


@pytest.fixture
def cloud(world: SimulatorServer, make_client: ClientFactory) -> Client:
    """The SDK against it; waiting on an action moves simulated time 5 s per poll."""
    return make_client(world, poll_interval=clock_stepping(world, 5.0))


@pytest.fixture
def wire(world: SimulatorServer, schema_check: ExchangeValidator) -> RawApi:
    return RawApi(world, schema_check)


# -- the official Go CLI (test_go_cli*.py) ---------------------------------------------------


@pytest.fixture(scope="module")
def hcloud_bin() -> str:
    return find_hcloud()


@pytest.fixture
def fast_sim(make_sim: SimFactory) -> SimulatorServer:
    return make_sim("demo", time_scale=FAST)


@pytest.fixture
def hcloud(hcloud_bin: str, fast_sim: SimulatorServer, tmp_path: Path) -> Run:
    """``hcloud(*args, token=..., ok=True)`` against the 600x demo simulator."""
    return runner(hcloud_bin, fast_sim, tmp_path)
