"""Fixtures of the server create/delete/rebuild contract tests: the world of `_restore.py`."""

from __future__ import annotations

import hcloud
import pytest

from hcloud_sim import SimulatorServer
from tests.conftest import ClientFactory, SimFactory
from tests.openapi_check import ExchangeValidator
from tests.sim._api import RawApi, clock_stepping
from tests.sim._restore import RESTORE


@pytest.fixture
def world(make_sim: SimFactory) -> SimulatorServer:
    """``_restore.RESTORE`` at 1x: time moves on where a test advances the clock."""
    return make_sim(RESTORE, time_scale=1)


@pytest.fixture
def cloud(world: SimulatorServer, make_client: ClientFactory) -> hcloud.Client:
    """The SDK against it; waiting on an action moves simulated time 5 s per poll."""
    return make_client(world, poll_interval=clock_stepping(world, 5.0))


@pytest.fixture
def wire(world: SimulatorServer, schema_check: ExchangeValidator) -> RawApi:
    return RawApi(world, schema_check)
