"""Plain, JSON-friendly values that flows and tasks pass around (never hcloud bound objects)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

OutcomeStatus = Literal["succeeded", "failed", "planned"]


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

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["lock_holders"] = list(self.lock_holders)
        return data


@dataclass(frozen=True)
class RunReport:
    """The whole run: JSON-serialisable with ``to_dict()``; what the flow returns."""

    flow_run_id: str
    dry_run: bool
    outcomes: tuple[SnapshotOutcome, ...]

    @property
    def failed(self) -> tuple[SnapshotOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status == "failed")

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
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunReport:
        outcomes = tuple(
            SnapshotOutcome(**{**row, "lock_holders": tuple(row.get("lock_holders", ()))})
            for row in data["servers"]
        )
        return cls(flow_run_id=data["flow_run_id"], dry_run=data["dry_run"], outcomes=outcomes)
