"""Control routes for what restoring needs: quotas and images that do not boot.

    POST /_sim/quota                 {"servers"?: n|null, "snapshots"?: n|null}  (null: no limit)
    POST /_sim/images/{id}/boot      {"boot": "ok" | "stuck" | "error"}

Kept apart from ``control.py``, which lists ``ROUTES`` in its table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from hcloud_sim.spec import BootSpec

if TYPE_CHECKING:
    from hcloud_sim.control import Call

Result = tuple[int, dict[str, Any] | None]
#: a quota: a count of servers or snapshots; a million is far past any test's need
Quota = int | None


class QuotaBody(BaseModel):
    """``POST /_sim/quota``: only the fields sent change; ``null`` lifts that limit."""

    model_config = ConfigDict(extra="forbid")

    servers: Quota = Field(default=None, ge=0, le=1_000_000)
    snapshots: Quota = Field(default=None, ge=0, le=1_000_000)


class BootBody(BaseModel):
    """``POST /_sim/images/{id}/boot``: how servers made or rebuilt from the image come up."""

    model_config = ConfigDict(extra="forbid")

    boot: BootSpec


def _quota(call: Call) -> Result:
    body = call.body(QuotaBody)
    sent = body.model_fields_set
    return 200, call.sim.set_quota(
        call.project,
        servers=body.servers if "servers" in sent else ...,
        snapshots=body.snapshots if "snapshots" in sent else ...,
    )


def _image_boot(call: Call) -> Result:
    boot = call.body(BootBody).boot
    call.sim.set_image_boot(call.number(), boot, call.project)
    return 200, {"image": call.number(), "boot": boot}


ROUTES: list[tuple[str, str, Callable[[Call], Result]]] = [
    ("POST", "/_sim/quota", _quota),
    ("POST", r"/_sim/images/(\d{1,18})/boot", _image_boot),
]
