"""What the tasks of one snapshot run share in this process: one Cloud client, one image reader,
the run's budget reserve, and its listing of the servers.

Before, every server's task built its own ``Cloud`` (settings, perhaps a Prefect block read, an
SDK client and an HTTP session with its own connections). The flow now opens one ``RunSession``
for the run; its tasks (threads of the flow run's process) find it by the run's id. A task that
finds none (a process of its own) builds a client as before. The session and the reserve it sets
on the project's governor are cleared on every path out of the run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from hsnap.cloud.client import Cloud
from hsnap.cloud.governor import Pacing
from hsnap.cloud.images import ImageReader
from hsnap.settings import Settings


@dataclass
class RunSession:
    cloud: Cloud
    images: ImageReader
    pacing: Pacing
    #: the run's listing of its servers, as the API's JSON by id: the recipes read it again
    #: rather than list the servers a second time
    servers: dict[int, dict[str, Any]] = field(default_factory=dict)


_SESSIONS: dict[str, RunSession] = {}
_LOCK = threading.Lock()


@contextmanager
def run_session(
    run_id: str,
    settings: Settings,
    reserve: int | None,
    on_pace: Callable[[int, int], None] | None = None,
) -> Iterator[RunSession]:
    """The run's shared client and reserve, for the block; removed (and the reserve lifted) after.

    ``reserve``: the run's parameter, else the project's (``settings.reserve``), else a quarter of
    the bucket. ``on_pace(left, reserve)`` is called when the run starts pacing at its reserve.
    """
    cloud = Cloud(settings)
    chosen = reserve if reserve is not None else settings.reserve
    session = RunSession(cloud, ImageReader(cloud, run_id), Pacing(chosen, on_pace))
    with cloud.governor.paced_for(session.pacing):
        with _LOCK:
            _SESSIONS[run_id] = session
        try:
            yield session
        finally:
            with _LOCK:
                _SESSIONS.pop(run_id, None)


def say_pacing(log: Any) -> Callable[[int, int], None]:
    """The ``on_pace`` that tells the run's log when pacing starts."""

    def say(left: int, reserve: int) -> None:
        log.info(
            "the project's request budget is down to %d, the %d kept for its other clients: "
            "pacing to the refill (the run goes on, slower)",
            left,
            reserve,
        )

    return say


def session_of(run_id: str) -> RunSession | None:
    with _LOCK:
        return _SESSIONS.get(run_id)
