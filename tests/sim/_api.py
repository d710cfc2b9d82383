"""Helpers shared by the simulator contract tests: raw HTTP next to the SDK, and clock stepping.

Raw HTTP is for what the SDK hides (status codes, headers, repeated query keys) and for answers the
SDK would retry with real sleeps. Every raw ``/v1`` response is schema-checked like the SDK's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from hcloud_sim import SimulatorServer
from tests.openapi_check import ExchangeValidator

#: the X-Correlation-Id form, as hcloud-python puts it into exception texts
CORRELATION_ID = r"[0-9a-f]{16}"


class RawApi:
    """``requests`` against a simulator's ``/v1``, authenticated, every response validated."""

    def __init__(
        self, sim: SimulatorServer, check: ExchangeValidator, token: str = "sim-token"
    ) -> None:
        self.url = sim.url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.hooks["response"].append(check.hook)

    def get(self, path: str, params: Any = None) -> requests.Response:
        return self.session.get(self.url + path, params=params, timeout=10)

    def post(self, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        return self.session.post(self.url + path, json=body, timeout=10)

    def put(self, path: str, body: dict[str, Any]) -> requests.Response:
        return self.session.put(self.url + path, json=body, timeout=10)


def error_of(response: requests.Response) -> tuple[int, str, str]:
    """(status, code, message) of an error answer."""
    error = response.json()["error"]
    return response.status_code, error["code"], error["message"]


def control(sim: SimulatorServer, method: str, path: str, body: Any = None) -> requests.Response:
    """A request to the ``/_sim`` control plane (not part of Hetzner's API: not schema-checked)."""
    return requests.request(method, f"{sim.base_url}/_sim{path}", json=body, timeout=10)


def clock_stepping(sim: SimulatorServer, step: float) -> Callable[[int], float]:
    """A ``poll_interval`` for hcloud.Client: each poll moves simulated time on, and never sleeps.

    ``action.wait_until_finished()`` then finishes after a known amount of simulated time, however
    fast or slow the machine running the test is.
    """

    def interval(retries: int) -> float:
        del retries
        sim.state.clock.advance(step)
        return 0.0

    return interval
