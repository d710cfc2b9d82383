"""Live progress of a run, for displays in the same process (the CLI's live table).

The snapshot procedure emits an event at each step; anything may subscribe. Prefect's records do
not depend on this: they come from logs, states and artifacts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Phase = Literal[
    "queued", "waiting", "stopping", "creating", "snapshotting", "succeeded", "failed", "retrying"
]


@dataclass(frozen=True)
class ProgressEvent:
    server: str
    phase: Phase
    detail: str = ""
    progress: int | None = None


Listener = Callable[[ProgressEvent], None]
_listeners: list[Listener] = []
_lock = threading.Lock()


def subscribe(listener: Listener) -> Callable[[], None]:
    """Call ``listener`` for every event from now on; returns the function that unsubscribes."""
    with _lock:
        _listeners.append(listener)

    def unsubscribe() -> None:
        with _lock:
            if listener in _listeners:
                _listeners.remove(listener)

    return unsubscribe


def emit(event: ProgressEvent) -> None:
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener(event)
