"""The control plane at ``/_sim``: reset, clock, counters, faults, ground truth, interventions.

No token and no rate limit: it is for tests and for people driving the simulator by hand. Every
route takes ``?project=NAME`` where it acts on one project (default: the scenario's first).

    GET    /_sim/health                     {"status": "ok"}
    GET    /_sim/state                      ground truth of a project (servers, images, actions...)
    POST   /_sim/reset                      {"scenario"?: name|path|inline, "time_scale"?: x}
    GET    /_sim/clock                      {"now", "iso", "time_scale"}
    POST   /_sim/clock                      {"advance"?: seconds, "time_scale"?: x}
    GET    /_sim/stats   DELETE /_sim/stats request counters by method, endpoint and status
    GET    /_sim/faults  POST /_sim/faults  DELETE /_sim/faults  DELETE /_sim/faults/{id}
    POST   /_sim/servers/{id}/lock          {"command"?, "duration"?: s|null, "error"?: {...}}
    POST   /_sim/servers/{id}/delete        the server vanishes now (404 from then on)
    POST   /_sim/actions/{id}/finish        end a running action now (releases its lock)
    POST   /_sim/rate_limit                 {"capacity"?, "refill_per_second"?, "remaining"?}
    POST   /_sim/quota, /_sim/images/{id}/boot   see ``control_world.py``
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hcloud_sim.clock import iso
from hcloud_sim.control_world import handle_world
from hcloud_sim.errors import ApiError
from hcloud_sim.faults import FaultRule
from hcloud_sim.spec import ErrorSpec
from hcloud_sim.state import Simulator

Result = tuple[int, dict[str, Any] | None]


def handle_control(
    sim: Simulator, method: str, path: str, query: dict[str, list[str]], raw: bytes
) -> Result:
    """Dispatch one control request; errors come back in the API's envelope."""
    try:
        body = json.loads(raw) if raw.strip() else {}
        if not isinstance(body, dict):
            raise ApiError("json_error", "control requests take a JSON object")
        projects = query.get("project")
        project = projects[-1] if projects else None
        return _dispatch(sim, method, path.rstrip("/"), project, body)
    except json.JSONDecodeError as exc:
        return 400, ApiError("json_error", str(exc)).envelope()
    except ValidationError as exc:
        return 422, ApiError("invalid_input", str(exc)).envelope()
    except (ValueError, KeyError, TypeError) as exc:  # TypeError: a JSON value of the wrong type
        return 422, ApiError("invalid_input", str(exc)).envelope()
    except ApiError as exc:
        return exc.status, exc.envelope()


def _dispatch(
    sim: Simulator, method: str, path: str, project: str | None, body: dict[str, Any]
) -> Result:
    if (method, path) == ("GET", "/_sim/health"):
        return 200, {"status": "ok", "scenario": sim.scenario.name}
    if (method, path) == ("GET", "/_sim/state"):
        return 200, sim.ground_truth(project)
    if (method, path) == ("POST", "/_sim/reset"):
        return _reset(sim, body)
    if path == "/_sim/clock" and method in ("GET", "POST"):
        return _clock(sim, method, body)
    if path == "/_sim/stats" and method in ("GET", "DELETE"):
        if method == "DELETE":
            with sim.lock:
                sim.stats.clear()
        return 200, {"requests": sim.request_counts()}
    if path.startswith("/_sim/faults"):
        return _faults(sim, method, path, project, body)
    m = re.fullmatch(r"/_sim/servers/(\d+)/(lock|delete)", path)
    if m and method == "POST":
        return _server(sim, int(m.group(1)), m.group(2), project, body)
    m = re.fullmatch(r"/_sim/actions/(\d+)/finish", path)
    if m and method == "POST":
        sim.finish_action(int(m.group(1)), project)
        return 200, {"finished": int(m.group(1))}
    if (method, path) == ("POST", "/_sim/rate_limit"):
        return _rate_limit(sim, project, body)
    answered = handle_world(sim, method, path, project, body)
    if answered is not None:
        return answered
    raise ApiError("not_found", f"no such control endpoint: {method} {path}")


def _reset(sim: Simulator, body: dict[str, Any]) -> Result:
    from hcloud_sim.scenarios import load_scenario  # noqa: PLC0415 -- scenarios imports state

    scenario = body.get("scenario")
    scale = body.get("time_scale")
    if scale is not None and float(scale) <= 0:  # checked before the world is torn down
        raise ApiError("invalid_input", f"time_scale must be > 0, got {scale}")
    sim.reset(
        load_scenario(scenario) if scenario is not None else None,
        float(scale) if scale is not None else None,
    )
    return 200, {"status": "reset", "scenario": sim.scenario.name}


def _clock(sim: Simulator, method: str, body: dict[str, Any]) -> Result:
    if method == "POST":
        with sim.lock:
            if "time_scale" in body:
                sim.clock.set_scale(float(body["time_scale"]))
            if "advance" in body:
                sim.clock.advance(float(body["advance"]))
            sim.settle()
    now = sim.clock.now()
    return 200, {"now": now, "iso": iso(now), "time_scale": sim.clock.scale}


def _faults(
    sim: Simulator, method: str, path: str, project: str | None, body: dict[str, Any]
) -> Result:
    faults = sim.project(project).faults
    m = re.fullmatch(r"/_sim/faults/(\d+)", path)
    if m and method == "DELETE":
        if not faults.remove(int(m.group(1))):
            raise ApiError("not_found", f"no fault rule {m.group(1)}")
        return 200, {"faults": [r.model_dump() for r in faults.rules()]}
    if path != "/_sim/faults" or method not in ("GET", "POST", "DELETE"):
        raise ApiError("not_found", f"no such control endpoint: {method} {path}")
    if method == "POST":
        rule = faults.add(FaultRule.model_validate(body))
        return 201, {"fault": rule.model_dump()}
    if method == "DELETE":
        faults.clear()
    return 200, {"faults": [r.model_dump() for r in faults.rules()]}


def _server(
    sim: Simulator, server_id: int, verb: str, project: str | None, body: dict[str, Any]
) -> Result:
    if verb == "delete":
        sim.delete_server(server_id, project)
        return 200, {"deleted": server_id}
    lock = _LockBody.model_validate(body)  # validated whole: a bad field must not half-lock
    action_id = sim.lock_server(
        server_id,
        command=lock.command,
        duration=lock.duration,
        error=(lock.error.code, lock.error.message) if lock.error else None,
        project=project,
    )
    return 201, {"action_id": action_id}


class _LockBody(BaseModel):
    """``POST /_sim/servers/{id}/lock``: a foreign action that holds the server's lock."""

    model_config = ConfigDict(extra="forbid")

    command: str = "change_server_type"
    duration: float | None = Field(default=60.0, ge=0, description="null: never ends")
    error: ErrorSpec | None = None


def _rate_limit(sim: Simulator, project: str | None, body: dict[str, Any]) -> Result:
    with sim.lock:
        bucket = sim.project(project).bucket
        now = sim.clock.now()
        bucket.remaining(now)  # bring it up to date before changing it
        if "capacity" in body:
            bucket.capacity = int(body["capacity"])
            bucket.tokens = min(bucket.tokens, float(bucket.capacity))
        if "refill_per_second" in body:
            bucket.refill = float(body["refill_per_second"])
        if "remaining" in body:
            bucket.tokens = float(body["remaining"])
        return 200, {
            "capacity": bucket.capacity,
            "refill_per_second": bucket.refill,
            "remaining": bucket.remaining(now),
        }
