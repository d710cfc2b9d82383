"""Request bodies of the control API, validated whole before anything changes.

Each body is a pydantic model: a value out of range, not finite, of the wrong type or an unknown
field is a ``422 invalid_input`` naming the field, and the simulator is left exactly as it was.
The bounds keep every simulated timestamp inside what the API can write (years 1970..9999).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from hcloud_sim.clock import MAX_ADVANCE, MAX_TIME_SCALE
from hcloud_sim.spec import ErrorSpec

#: a time scale: finite, > 0 and at most MAX_TIME_SCALE simulated seconds per real second
TimeScale = Annotated[float, Field(gt=0, le=MAX_TIME_SCALE, allow_inf_nan=False)]
#: a bucket size: the API's is 3600; a million is far past any test's need
Capacity = Annotated[int, Field(ge=1, le=1_000_000)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ResetBody(_Body):
    """``POST /_sim/reset``: back to the start, optionally in another scenario or speed."""

    scenario: str | dict[str, Any] | None = Field(
        default=None, description="built-in name, allowed file, or an inline document"
    )
    time_scale: TimeScale | None = None


class ClockBody(_Body):
    """``POST /_sim/clock``: jump forward and/or change the speed."""

    advance: Annotated[float, Field(ge=0, le=MAX_ADVANCE, allow_inf_nan=False)] | None = None
    time_scale: TimeScale | None = None


class RateLimitBody(_Body):
    """``POST /_sim/rate_limit``: reshape the project's token bucket."""

    capacity: Capacity | None = None
    refill_per_second: Annotated[float, Field(ge=0, le=1_000_000, allow_inf_nan=False)] | None = (
        None
    )
    remaining: Annotated[float, Field(ge=0, le=1_000_000, allow_inf_nan=False)] | None = None


class LockBody(_Body):
    """``POST /_sim/servers/{id}/lock``: a foreign action that holds the server's lock."""

    command: str = Field(default="change_server_type", min_length=1, max_length=64)
    duration: Annotated[float, Field(ge=0, le=MAX_ADVANCE, allow_inf_nan=False)] | None = Field(
        default=60.0, description="null: never ends"
    )
    error: ErrorSpec | None = None


class RevokeBody(_Body):
    """``POST /_sim/tokens/revoke``: the token is refused with 401 from now on."""

    token: str = Field(min_length=1)
