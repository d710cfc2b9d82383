"""Helpers shared by the hsnap-against-the-simulator tests: a small world, a client, hooks.

Both sides run at ``SCALE``, so minutes of API time pass in a fraction of a second and hsnap's
deadlines, polls and backoffs shrink exactly like the simulator's actions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import SecretStr

from hcloud_sim import SimulatorServer
from hsnap.cloud.client import Cloud
from hsnap.events import Phase, ProgressEvent, subscribe
from hsnap.settings import Settings

SCALE = 600.0  # simulated seconds per real second, on both sides
APP_1 = 100001  # the first server's id in every scenario
RUN = "run-0001"
SECRET = "tok-SECRET-4242"


def world(*servers: dict[str, Any], **project: Any) -> dict[str, Any]:
    """One project; by default one server ``app-1`` whose snapshot takes one simulated minute."""
    spec: dict[str, Any] = {
        "name": "hsnap-test",
        "action_durations": {"create_image": 60},
        "servers": list(servers) or [{"name": "app-1"}],
    }
    spec.update(project)
    return {"name": "hsnap-test", "projects": [spec]}


def connect(
    sim: SimulatorServer, token: str = "sim-token", scale: float = SCALE, http_timeout: float = 30.0
) -> Cloud:
    settings = Settings(
        token=SecretStr(token), endpoint=sim.url, time_scale=scale, http_timeout=http_timeout
    )
    return Cloud(settings)


def created(sim: SimulatorServer) -> list[int]:
    """Ids of the images made through the API (ground truth: duplicates would show here)."""
    return list(sim.state.ground_truth()["created_images"])


def requests_to(sim: SimulatorServer, method: str, endpoint: str, status: int | None = None) -> int:
    return sim.state.request_count(method, endpoint, status)


def add_fault(sim: SimulatorServer, **rule: Any) -> None:
    sim.state.add_fault(**rule)


@contextmanager
def on_event(
    wanted: Callable[[ProgressEvent], bool], action: Callable[[ProgressEvent], object]
) -> Iterator[list[ProgressEvent]]:
    """Run ``action`` once, in hsnap's thread, at the first event ``wanted`` accepts."""
    seen: list[ProgressEvent] = []

    def listener(event: ProgressEvent) -> None:
        seen.append(event)
        if wanted(event) and sum(1 for e in seen if wanted(e)) == 1:
            action(event)

    unsubscribe = subscribe(listener)
    try:
        yield seen
    finally:
        unsubscribe()


@contextmanager
def on_phase(phase: Phase, action: Callable[[ProgressEvent], object]) -> Iterator[list[str]]:
    """Run ``action`` once, in hsnap's thread, when it first reports ``phase``; yields phases."""
    phases: list[str] = []
    with on_event(lambda e: e.phase == phase, action) as seen:
        yield phases
        phases.extend(e.phase for e in seen)


def projects_world(*names: str, servers: int = 2, snapshot_s: float = 60) -> dict[str, Any]:
    """Several projects, each with tokens ``<name>-rw`` and ``<name>-ro`` (read-only) and
    servers ``<name>-1`` .. ``<name>-<servers>`` labelled ``env=prod`` (the last one ``env=dev``).
    """
    return {
        "name": "projects",
        "projects": [
            {
                "name": name,
                "tokens": [{"token": f"{name}-rw"}, {"token": f"{name}-ro", "readonly": True}],
                "action_durations": {"create_image": snapshot_s},
                "servers": [
                    {"name": f"{name}-{i}", "labels": {"env": "dev" if i == servers else "prod"}}
                    for i in range(1, servers + 1)
                ],
            }
            for name in names
        ],
    }


def project_images(sim: SimulatorServer, project: str) -> list[dict[str, Any]]:
    """The images made through the API in one project (ground truth)."""
    truth = sim.state.ground_truth(project)
    made = set(truth["created_images"])
    return [i for i in truth["images"] if i["id"] in made]
