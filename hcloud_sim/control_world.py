"""Control routes for what restoring needs: quotas and images that do not boot.

    POST /_sim/quota                 {"servers"?: n|null, "snapshots"?: n|null}  (null: no limit)
    POST /_sim/images/{id}/boot      {"boot": "ok" | "stuck" | "error"}

Kept apart from ``control.py``, which only forwards to ``handle_world``.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hcloud_sim.spec import BootSpec
from hcloud_sim.state import Simulator

Result = tuple[int, dict[str, Any] | None]


class _QuotaBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    servers: int | None = Field(default=None, ge=0)
    snapshots: int | None = Field(default=None, ge=0)


class _BootBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    boot: BootSpec


def handle_world(
    sim: Simulator, method: str, path: str, project: str | None, body: dict[str, Any]
) -> Result | None:
    """Answer a control request of this module, or None when it is not one."""
    if (method, path) == ("POST", "/_sim/quota"):
        quota = _QuotaBody.model_validate(body)
        given = quota.model_fields_set  # only what was sent changes; null lifts a limit
        return 200, sim.set_quota(
            project,
            servers=quota.servers if "servers" in given else ...,
            snapshots=quota.snapshots if "snapshots" in given else ...,
        )
    m = re.fullmatch(r"/_sim/images/(\d+)/boot", path)
    if m and method == "POST":
        boot = _BootBody.model_validate(body).boot
        sim.set_image_boot(int(m.group(1)), boot, project)
        return 200, {"image": int(m.group(1)), "boot": boot}
    return None
