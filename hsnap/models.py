"""Plain, JSON-friendly values that flows and tasks pass around (never hcloud bound objects)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

OutcomeStatus = Literal["succeeded", "failed", "planned", "left-off"]
PruneResult = Literal["kept", "deleted", "would delete", "skipped", "failed"]


@dataclass(frozen=True)
class ServerRef:
    id: int
    name: str
    status: str
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class ActionRef:
    id: int
    command: str
    status: Literal["running", "success", "error"]
    progress: int
    error_code: str | None = None
    error_message: str | None = None
    resources: tuple[tuple[int, str], ...] = ()

    def describe(self) -> str:
        return f"{self.command} #{self.id} ({self.progress}%)"


@dataclass(frozen=True)
class ImageRef:
    id: int
    status: Literal["available", "creating", "unavailable"]
    description: str
    image_size: float | None
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    image_type: str = "snapshot"
    created: datetime | None = None
    protected: bool = False
    created_from: str | None = None  # name of the server it was made from
    created_from_id: int | None = None  # id of that server (it may be deleted since)
    architecture: str = "x86"
    disk_size: float | None = None  # GB: the disk of the server it was made from


@dataclass(frozen=True)
class ImagePrice:
    """What a GB of snapshot costs per month (``GET /pricing``, ``image.price_per_gb_month``)."""

    currency: str
    net: Decimal
    gross: Decimal


@dataclass(frozen=True)
class ServerDetails:
    """What a restore needs to know of a server: where it runs, on what, how it is reached."""

    id: int
    name: str
    status: str
    server_type: str
    architecture: str
    disk_gb: float
    location: str
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    ipv4: str | None = None
    ipv6: str | None = None
    rebuild_protected: bool = False

    @property
    def ref(self) -> ServerRef:
        return ServerRef(self.id, self.name, self.status, dict(self.labels))


@dataclass(frozen=True)
class ServerTypeInfo:
    """A server type as ``GET /server_types`` shows it: what it runs and where it is offered."""

    name: str
    architecture: str
    disk_gb: float
    locations: tuple[str, ...] = ()  # where it can be created now (not deprecated, available)
    deprecated: bool = False


@dataclass(frozen=True)
class PriceList:
    """Hourly server prices from ``GET /pricing``: net, as decimal text, by type and location."""

    currency: str
    hourly: dict[tuple[str, str], str] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class SnapshotOutcome:
    """What happened to one server in one run; a row of the report."""

    server: str
    server_id: int | None
    status: OutcomeStatus
    image_id: int | None = None
    image_size_gb: float | None = None
    description: str | None = None
    lock_wait_s: float = 0.0
    snapshot_s: float = 0.0
    attempts: int = 1
    resumed: bool = False
    lock_holders: tuple[str, ...] = ()
    error_code: str | None = None
    error: str | None = None
    shut_down: bool = False
    off_s: float = 0.0
    running_again: bool | None = None  # None: it was not running before (or was not shut down)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["lock_holders"] = list(self.lock_holders)
        return data


@dataclass(frozen=True)
class PruneRow:
    """One managed snapshot in a prune plan: the decision, why, and what came of it."""

    image_id: int
    server_id: int | None
    server: str
    description: str
    created: str
    status: str
    size_gb: float | None
    action: Literal["keep", "delete"]
    reason: str
    result: PruneResult = "kept"
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PruneRow:
        return cls(**data)


@dataclass(frozen=True)
class RunReport:
    """The whole run: JSON-serialisable with ``to_dict()``; what the flow returns."""

    flow_run_id: str
    dry_run: bool
    outcomes: tuple[SnapshotOutcome, ...]
    pruned: tuple[PruneRow, ...] = ()
    prune_error: str | None = None  # the retention step failed as a whole: what went wrong
    #: how the run shared the project's request budget, when it had to pace itself
    #: ("paced for 4m to keep 900 requests for other clients")
    budget: str | None = None

    @property
    def prune_failed(self) -> tuple[PruneRow, ...]:
        return tuple(r for r in self.pruned if r.result == "failed")

    @property
    def failed(self) -> tuple[SnapshotOutcome, ...]:
        """Rows that did not succeed, including servers left powered off."""
        return tuple(o for o in self.outcomes if o.status in ("failed", "left-off"))

    @property
    def succeeded(self) -> tuple[SnapshotOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status == "succeeded")

    def to_dict(self) -> dict[str, Any]:
        return {
            "flow_run_id": self.flow_run_id,
            "dry_run": self.dry_run,
            "total": len(self.outcomes),
            "succeeded": len(self.succeeded),
            "failed": len(self.failed),
            "servers": [o.to_dict() for o in self.outcomes],
            "pruned": [r.to_dict() for r in self.pruned],
            "prune_error": self.prune_error,
            "budget": self.budget,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunReport:
        outcomes = tuple(
            SnapshotOutcome(**{**row, "lock_holders": tuple(row.get("lock_holders", ()))})
            for row in data["servers"]
        )
        pruned = tuple(PruneRow.from_dict(r) for r in data.get("pruned", ()))
        prune_error = data.get("prune_error")
        return cls(
            data["flow_run_id"], data["dry_run"], outcomes, pruned, prune_error, data.get("budget")
        )
