"""A snapshot run shares a small request budget with another client of the same project."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from hcloud_sim import SimulatorServer
from hsnap.flows.snapshot_servers import snapshot_servers
from tests.flows.conftest import HsnapEnv, artifacts_of, logs_of
from tests.flows.test_snapshot_flow import flow_run_id, report_of

OTHER = "other-client"  # a second token of the same project: the same bucket
SCALE = 600.0
SERVERS = 50
#: a small bucket, refilled as the API refills its own: the whole of it in an hour
CAPACITY = 60  # a quarter (15) is the default reserve
EVERY_S = 300.0  # the other client's pace after its burst: less than the refill


class OtherClient(threading.Thread):
    """A burst of 10 requests at the start, then one every 5 simulated minutes until stopped."""

    def __init__(self, sim: SimulatorServer) -> None:
        super().__init__(daemon=True)
        self.url = f"{sim.url}/locations"
        self.stop = threading.Event()
        self.statuses: list[int] = []

    def _one(self) -> None:
        answer = requests.get(self.url, headers={"Authorization": f"Bearer {OTHER}"}, timeout=10)
        self.statuses.append(answer.status_code)

    def run(self) -> None:
        for _ in range(10):
            self._one()
        while not self.stop.wait(EVERY_S / SCALE):
            self._one()


@pytest.mark.parametrize("reserve", [None, 20])
def test_at_the_reserve_the_run_paces_and_the_other_client_never_sees_429(
    hsnap_env: HsnapEnv, reserve: int | None
) -> None:
    sim = hsnap_env(
        {
            "name": "shared",
            "projects": [
                {
                    "name": "shared",
                    "tokens": [{"token": "sim-token"}, {"token": OTHER}],
                    "rate_limit": {"capacity": CAPACITY, "refill_per_second": CAPACITY / 3600},
                    "action_durations": {"create_image": [60, 120]},
                    "servers": [{"name": "node-{i:02d}", "count": SERVERS}],
                }
            ],
        },
        time_scale=SCALE,
    )
    other = OtherClient(sim)
    other.start()
    started = time.monotonic()
    try:
        state = snapshot_servers(reserve=reserve, return_state=True)
    finally:
        other.stop.set()
        other.join(timeout=30)

    assert state.is_completed(), state.message
    report = report_of(state)
    assert len(report.succeeded) == SERVERS  # pacing slows the run; it fails no server
    kept = 15 if reserve is None else reserve
    assert len(other.statuses) >= 10 + (time.monotonic() - started) * SCALE / EVERY_S * 0.5
    assert 429 not in other.statuses
    assert report.budget is not None
    assert report.budget.startswith("paced for ")
    assert report.budget.endswith(f"to keep {kept} requests for other clients")
    run_id = flow_run_id(state)
    summary = artifacts_of(run_id)["snapshot-summary"]
    assert f"Request budget: {report.budget}." in str(summary.data)
    messages = [log.message for log in logs_of(run_id)]
    assert any(
        m.startswith("the project's request budget is down to") and f"the {kept} kept" in m
        for m in messages
    )
