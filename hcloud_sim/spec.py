"""The scenario format: what a simulated world starts with. Loaded from YAML/JSON or built in code.

Durations are simulated seconds: a number, ``[min, max]`` (drawn per use from the scenario's seeded
generator) or ``null`` for "never ends". Ages are seconds or text like ``90s``, ``15m``, ``6h``,
``3d``, ``2w``, ``1y``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from hcloud_sim.catalog import CatalogSpec
from hcloud_sim.clock import MAX_TIME_SCALE
from hcloud_sim.faults import FaultRule
from hcloud_sim.model import ServerStatus

_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def _parse_age(value: object) -> object:
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdwy])\s*", value)
        if m is None:
            raise ValueError(f"age {value!r}: use seconds or a number with s/m/h/d/w/y, e.g. '3d'")
        return float(m.group(1)) * _AGE_UNITS[m.group(2)]
    return value


Age = Annotated[float, BeforeValidator(_parse_age)]


def _yaml_off(value: object) -> object:
    """YAML 1.1 reads a bare ``status: off`` as false: take it as the word that was written."""
    return "off" if value is False else value


DurationSpec = float | tuple[float, float] | None
#: Hetzner's four-hour backup windows (UTC)
BackupWindow = Literal["22-02", "02-06", "06-10", "10-14", "14-18", "18-22"]


class _Spec(BaseModel):
    # no NaN or infinity anywhere: a timestamp of inf cannot be written, a NaN duration never ends
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ErrorSpec(_Spec):
    code: str = "action_failed"
    message: str = "action failed"


class ActionSpec(_Spec):
    """An action already running on a server when the scenario starts: it holds the lock."""

    command: str = "change_server_type"
    duration: DurationSpec = 60.0
    elapsed: float = Field(default=0.0, ge=0, description="how long it has already been running")
    error: ErrorSpec | None = None


#: how a server made from an image comes up: ``ok`` reaches running; ``stuck`` stays ``starting``
#: for ever (its start_server action never ends); ``error``: the create/start action fails
BootSpec = Literal["ok", "stuck", "error"]


class ServerSpec(_Spec):
    name: str
    count: int | None = Field(
        default=None, ge=1, description="make this many servers; the name is a template with {i}"
    )
    status: Annotated[ServerStatus, BeforeValidator(_yaml_off)] = "running"
    status_duration: DurationSpec = Field(
        default=None,
        description="how long a transitional status lasts (see transitions.py); "
        "null: it stays; not given: the project's duration for its command",
    )
    labels: dict[str, str] = Field(default_factory=dict)
    server_type: str = "cx22"
    location: str = "fsn1"
    image: str = "ubuntu-24.04"
    disk: int | None = Field(default=None, ge=1, description="GB; default: the type's disk")
    ipv4: bool = True
    ipv6: bool = True
    private_network: bool = False
    created_age: Age = 30 * 86400
    protection: dict[Literal["delete", "rebuild"], bool] = Field(default_factory=dict)
    backup_window: BackupWindow | None = Field(
        default=None, description="backups enabled, made daily in this window (UTC)"
    )
    acpi: Literal["honour", "ignore"] = "honour"
    shutdown_delay: DurationSpec = 8.0
    snapshot_duration: DurationSpec = Field(
        default=None, description="this server's create_image time; default: the project's"
    )
    snapshot_error: ErrorSpec | None = None
    snapshot_size: float | None = None
    boot: BootSpec = Field(
        default="ok", description="how its disk boots: on a poweron, and in its snapshots"
    )
    running_actions: list[ActionSpec] = Field(default_factory=list)
    delete_after: float | None = Field(default=None, description="deleted at this simulated age")

    @model_validator(mode="after")
    def _template(self) -> ServerSpec:
        if self.count is not None and "{i" not in self.name:
            raise ValueError(f"server {self.name!r} has a count but no {{i}} in its name")
        return self


class ImageSpec(_Spec):
    description: str
    type: Literal["snapshot", "backup", "system"] = "snapshot"
    name: str | None = None
    server: str | None = Field(default=None, description="name of the server it was made from")
    age: Age = 86400.0
    status: Literal["available", "creating", "unavailable"] = "available"
    size: float = 2.5
    disk: float | None = Field(default=None, gt=0, description="GB; default: its server's disk")
    labels: dict[str, str] = Field(default_factory=dict)
    protected: bool = False
    architecture: Literal["x86", "arm"] | None = Field(
        default=None, description="default: its server's type's, else x86"
    )
    boot: BootSpec = "ok"


class TokenSpec(_Spec):
    token: str
    readonly: bool = False


class RateLimitSpec(_Spec):
    capacity: int = Field(default=3600, ge=1)
    refill_per_second: float = Field(default=1.0, ge=0)


#: the public, fixed tokens of every built-in scenario (not secrets: the simulator is local)
SIM_TOKEN = "sim-token"  # noqa: S105 -- a documented, public simulator token
SIM_READONLY_TOKEN = "sim-readonly"  # noqa: S105 -- same, read-only

DEFAULT_DURATIONS: dict[str, DurationSpec] = {
    "create_image": (60.0, 240.0),
    "shutdown_server": 2.0,
    "stop_server": 3.0,
    "start_server": 10.0,
    "reboot_server": 15.0,
    "create_server": (15.0, 30.0),
    "delete_server": 5.0,
    "rebuild_server": (30.0, 60.0),
}


class ProjectSpec(_Spec):
    name: str = "default"
    tokens: list[TokenSpec] = Field(
        default_factory=lambda: [
            TokenSpec(token=SIM_TOKEN),
            TokenSpec(token=SIM_READONLY_TOKEN, readonly=True),
        ]
    )
    rate_limit: RateLimitSpec = Field(default_factory=RateLimitSpec)
    snapshot_quota: int | None = Field(default=None, ge=0)
    server_quota: int | None = Field(
        default=None, ge=0, description="POST /servers past this many: 403 resource_limit_exceeded"
    )
    action_durations: dict[str, DurationSpec] = Field(default_factory=dict)
    servers: list[ServerSpec] = Field(default_factory=list)
    images: list[ImageSpec] = Field(default_factory=list)
    faults: list[FaultRule] = Field(default_factory=list)
    #: each resource family's section (``networks``, ``firewalls``, ...), by family name; in a
    #: scenario file they are written beside ``servers``, as keys of the project
    families: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _gather_family_sections(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        from hcloud_sim.resources import sections  # noqa: PLC0415 -- families import the spec

        known = sections()
        moved = {key: value for key, value in data.items() if key in known}
        if not moved:
            return data
        rest = {key: value for key, value in data.items() if key not in known}
        return {**rest, "families": {**rest.get("families", {}), **moved}}

    @model_validator(mode="after")
    def _check_family_sections(self) -> ProjectSpec:
        from hcloud_sim.resources import sections  # noqa: PLC0415 -- families import the spec

        known = sections()
        for key, value in self.families.items():
            if key not in known:
                raise ValueError(f"unknown section {key!r}; known: {', '.join(sorted(known))}")
            if not isinstance(value, known[key]):
                self.families[key] = known[key].model_validate(value)
        return self

    def duration_for(self, command: str) -> DurationSpec:
        if command in self.action_durations:
            return self.action_durations[command]
        return DEFAULT_DURATIONS.get(command, 5.0)


class Scenario(_Spec):
    name: str = "custom"
    description: str = ""
    seed: int = 0
    time_scale: float | None = Field(default=None, gt=0, le=MAX_TIME_SCALE, allow_inf_nan=False)
    projects: list[ProjectSpec] = Field(default_factory=lambda: [ProjectSpec()])
    catalog: CatalogSpec = Field(default_factory=CatalogSpec)

    @model_validator(mode="after")
    def _unique_tokens(self) -> Scenario:
        seen: set[str] = set()
        for project in self.projects:
            for t in project.tokens:
                if t.token in seen:
                    raise ValueError(f"token {t.token!r} is given to more than one project")
                seen.add(t.token)
        return self
