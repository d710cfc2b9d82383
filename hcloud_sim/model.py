"""The simulator's records: servers, images, actions and a project's rate bucket. No HTTP here."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

ServerStatus = Literal[
    "running",
    "initializing",
    "starting",
    "stopping",
    "off",
    "deleting",
    "migrating",
    "rebuilding",
    "unknown",
]
ActionStatus = Literal["running", "success", "error"]
ImageType = Literal["system", "app", "snapshot", "backup"]
ImageStatus = Literal["available", "creating", "unavailable"]
#: how a server booted from an image comes up (see ``spec.BootSpec``)
Boot = Literal["ok", "stuck", "error"]

#: Simulated seconds: fixed, a (min, max) range drawn per use, or None for "never ends".
Duration = float | tuple[float, float] | None
#: An action's error: (code, message), as in ``action.error``.
ErrorPair = tuple[str, str]


@dataclass
class Action:
    id: int
    command: str
    started: float
    duration: float | None
    resources: list[tuple[int, str]]
    planned_error: ErrorPair | None = None
    status: ActionStatus = "running"
    finished: float | None = None
    error: ErrorPair | None = None
    locks_server: int | None = None
    #: other resources whose lock this action holds while it runs (``Project.begin_on``)
    locks: tuple[tuple[int, str], ...] = ()

    def progress(self, now: float) -> int:
        """0..100 as the API reports it: 100 only once the action has ended."""
        if self.status != "running":
            return 100
        if self.duration is None or self.duration <= 0:
            return 0
        return max(0, min(99, int((now - self.started) / self.duration * 100)))


@dataclass
class Server:
    id: int
    name: str
    status: ServerStatus
    created: float
    labels: dict[str, str]
    server_type: str
    location: str
    disk_gb: int
    image_id: int | None
    protection_delete: bool = False
    protection_rebuild: bool = False
    backup_window: str | None = None
    honours_acpi: bool = True
    shutdown_delay: Duration = 8.0
    snapshot_duration: Duration = None
    snapshot_error: ErrorPair | None = None
    snapshot_size_gb: float | None = None
    locked_flag: bool = False
    #: how its current image boots (from the image it was created or rebuilt from)
    boot: Boot = "ok"
    #: ids of running actions that hold this server's lock
    lock_holders: set[int] = field(default_factory=set)


@dataclass
class Image:
    id: int
    type: ImageType
    status: ImageStatus
    description: str
    created: float
    disk_size: float
    name: str | None = None
    image_size: float | None = None
    created_from: tuple[int, str] | None = None
    bound_to: int | None = None
    os_flavor: str = "ubuntu"
    os_version: str | None = "24.04"
    architecture: Literal["x86", "arm"] = "x86"
    protection_delete: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    deprecated: float | None = None
    boot: Boot = "ok"
    #: the create_image action that is making this image, while it runs
    creating_action: int | None = None


@dataclass
class TokenBucket:
    """The API's rate limit: ``capacity`` requests, refilled ``refill`` per simulated second."""

    capacity: int
    refill: float
    tokens: float
    updated: float

    def _refresh(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(
                float(self.capacity), self.tokens + (now - self.updated) * self.refill
            )
            self.updated = now

    def take(self, now: float) -> bool:
        """Spend one request; False (and nothing spent) when the bucket is empty."""
        self._refresh(now)
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def remaining(self, now: float) -> int:
        self._refresh(now)
        return int(self.tokens)

    def reset_at(self, now: float) -> int:
        """UNIX time at which the bucket is full again."""
        self._refresh(now)
        missing = self.capacity - self.tokens
        return math.ceil(now + (missing / self.refill if self.refill > 0 else 0))
