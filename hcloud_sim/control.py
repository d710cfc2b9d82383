"""The control plane at ``/_sim``: reset, clock, counters, faults, ground truth, interventions.

No API token and no rate limit: it is for tests and for people driving the simulator by hand. It
answers only requests addressed to a loopback ``Host`` and, when the operator set one, carrying
the control token (``Authorization: Bearer <control token>``): see ``ControlGate``. Every route
takes ``?project=NAME`` where it acts on one project (default: the scenario's first).

    GET    /_sim/health                     {"status": "ok"}
    GET    /_sim/state                      ground truth of a project (servers, images, actions...)
    POST   /_sim/reset                      {"scenario"?: name|allowed path|inline, "time_scale"?}
    GET    /_sim/clock                      {"now", "iso", "time_scale"}
    POST   /_sim/clock                      {"advance"?: seconds, "time_scale"?: x}
    GET    /_sim/stats   DELETE /_sim/stats request counters by method, endpoint and status
    GET    /_sim/faults  POST /_sim/faults  DELETE /_sim/faults  DELETE /_sim/faults/{id}
    POST   /_sim/servers/{id}/lock          {"command"?, "duration"?: s|null, "error"?: {...}}
    POST   /_sim/servers/{id}/delete        the server vanishes now (404 from then on)
    POST   /_sim/actions/{id}/finish        end a running action now (releases its lock)
    POST   /_sim/rate_limit                 {"capacity"?, "refill_per_second"?, "remaining"?}
    POST   /_sim/tokens/revoke              {"token"}: that API token gets 401 from now on
    POST   /_sim/quota, /_sim/images/{id}/boot   see ``control_world.py``

Every body is validated whole (``control_bodies``) before anything changes.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from hcloud_sim import control_world
from hcloud_sim.clock import iso
from hcloud_sim.control_bodies import ClockBody, LockBody, RateLimitBody, ResetBody, RevokeBody
from hcloud_sim.errors import ApiError, invalid_body, invalid_field
from hcloud_sim.faults import FaultRule
from hcloud_sim.scenarios import ScenarioAccess, ScenarioError
from hcloud_sim.state import SeedError, Simulator
from hcloud_sim.wire import is_loopback_host, json_object

Result = tuple[int, dict[str, Any] | None]
B = TypeVar("B", bound=BaseModel)


@dataclass(frozen=True)
class ControlGate:
    """Who may use the control API and which scenario files it may load.

    Args:
        token: when set, every control request must carry ``Authorization: Bearer <token>``.
        scenarios: the files and directories ``POST /_sim/reset`` may load.
    """

    token: str | None = field(default=None, repr=False)
    scenarios: ScenarioAccess = field(default_factory=ScenarioAccess)

    def admit(self, host: str | None, authorization: str | None) -> None:
        """Raise the envelope's 403 or 401 unless the request may use the control API."""
        if not is_loopback_host(host):
            raise ApiError(
                "forbidden",
                "the control API answers only requests addressed to a loopback host "
                "(Host: localhost, 127.0.0.1 or [::1])",
            )
        if self.token is None:
            return
        given = authorization or ""
        sent = given[7:].strip() if given.lower().startswith("bearer ") else ""
        if not secrets.compare_digest(sent.encode(), self.token.encode()):
            raise ApiError(
                "unauthorized",
                "the control API needs the control token: Authorization: Bearer <control token>",
            )


@dataclass
class Call:
    """One control request, parsed."""

    sim: Simulator
    gate: ControlGate
    method: str
    path: str
    project: str | None
    raw: bytes
    match: re.Match[str]

    def body(self, model: type[B]) -> B:
        try:
            return model.model_validate(json_object(self.raw, "control request", nan=True))
        except ValidationError as exc:
            raise invalid_body(exc) from None

    def number(self) -> int:
        return int(self.match.group(1))


Handler = Callable[[Call], Result]


def handle_control(
    sim: Simulator,
    gate: ControlGate,
    *,
    method: str,
    path: str,
    query: dict[str, list[str]],
    raw: bytes,
) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
    """Dispatch one control request: (status, body, headers); errors in the API's envelope."""
    path = path.rstrip("/")
    headers: dict[str, str] = {}
    try:
        known = [(m, h, hit) for m, p, h in _ROUTES if (hit := p.fullmatch(path))]
        if not known:
            raise ApiError("not_found", f"no such control endpoint: {method} {path}")
        for route_method, handler, hit in known:
            if route_method == method:
                projects = query.get("project")
                project = projects[-1] if projects else None
                return (*handler(Call(sim, gate, method, path, project, raw, hit)), headers)
        headers["Allow"] = ", ".join(sorted({m for m, _, _ in known}))
        raise ApiError("method_not_allowed", f"method {method} is not allowed on {path}")
    except ApiError as exc:
        return exc.status, exc.envelope(), headers


# -- handlers --------------------------------------------------------------------------------


def _health(call: Call) -> Result:
    return 200, {"status": "ok", "scenario": call.sim.scenario.name}


def _state(call: Call) -> Result:
    return 200, call.sim.ground_truth(call.project)


def _reset(call: Call) -> Result:
    body = call.body(ResetBody)
    scenario = None
    if body.scenario is not None:
        try:
            scenario = call.gate.scenarios.load(body.scenario)
        except ScenarioError as exc:
            raise invalid_field("scenario", str(exc)) from None
    try:
        call.sim.reset(scenario, body.time_scale)
    except SeedError as exc:  # the previous world is still there, untouched
        raise invalid_field("scenario", str(exc)) from None
    return 200, {"status": "reset", "scenario": call.sim.scenario.name}


def _clock_get(call: Call) -> Result:
    now = call.sim.clock.now()
    return 200, {"now": now, "iso": iso(now), "time_scale": call.sim.clock.scale}


def _clock_post(call: Call) -> Result:
    body = call.body(ClockBody)
    sim = call.sim
    with sim.lock:
        if body.advance is not None:  # the only check that depends on state: done before changes
            try:
                sim.clock.advance(body.advance)
            except ValueError as exc:
                raise invalid_field("advance", str(exc)) from None
        if body.time_scale is not None:
            sim.clock.set_scale(body.time_scale)
        sim.settle()
    return _clock_get(call)


def _stats(call: Call) -> Result:
    if call.method == "DELETE":
        with call.sim.lock:
            call.sim.stats.clear()
    return 200, {"requests": call.sim.request_counts()}


def _faults(call: Call) -> Result:
    faults = call.sim.project(call.project).faults
    if call.method == "POST":
        rule = faults.add(call.body(FaultRule))
        return 201, {"fault": rule.model_dump()}
    if call.method == "DELETE":
        faults.clear()
    return 200, {"faults": [r.model_dump() for r in faults.rules()]}


def _fault_delete(call: Call) -> Result:
    faults = call.sim.project(call.project).faults
    if not faults.remove(call.number()):
        raise ApiError("not_found", f"no fault rule {call.number()}")
    return 200, {"faults": [r.model_dump() for r in faults.rules()]}


def _lock(call: Call) -> Result:
    lock = call.body(LockBody)  # validated whole: a bad field must not half-lock
    action_id = call.sim.lock_server(
        call.number(),
        command=lock.command,
        duration=lock.duration,
        error=(lock.error.code, lock.error.message) if lock.error else None,
        project=call.project,
    )
    return 201, {"action_id": action_id}


def _delete(call: Call) -> Result:
    call.sim.delete_server(call.number(), call.project)
    return 200, {"deleted": call.number()}


def _finish(call: Call) -> Result:
    call.sim.finish_action(call.number(), call.project)
    return 200, {"finished": call.number()}


def _rate_limit(call: Call) -> Result:
    body = call.body(RateLimitBody)
    with call.sim.lock:
        bucket = call.sim.project(call.project).bucket
        now = call.sim.clock.now()
        bucket.remaining(now)  # bring it up to date before changing it
        capacity = body.capacity if body.capacity is not None else bucket.capacity
        if body.remaining is not None and body.remaining > capacity:
            raise invalid_field("remaining", f"must be at most the capacity ({capacity})")
        bucket.capacity = capacity
        bucket.tokens = min(bucket.tokens, float(capacity))
        if body.refill_per_second is not None:
            bucket.refill = body.refill_per_second
        if body.remaining is not None:
            bucket.tokens = body.remaining
        return 200, {
            "capacity": bucket.capacity,
            "refill_per_second": bucket.refill,
            "remaining": bucket.remaining(now),
        }


def _revoke(call: Call) -> Result:
    body = call.body(RevokeBody)
    if not call.sim.revoke_token(body.token):
        raise ApiError("not_found", "no such API token in this scenario")  # not echoed back
    return 200, {"revoked": True}


_ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    (method, re.compile(pattern), handler)
    for method, pattern, handler in [
        ("GET", "/_sim/health", _health),
        ("GET", "/_sim/state", _state),
        ("POST", "/_sim/reset", _reset),
        ("GET", "/_sim/clock", _clock_get),
        ("POST", "/_sim/clock", _clock_post),
        ("GET", "/_sim/stats", _stats),
        ("DELETE", "/_sim/stats", _stats),
        ("GET", "/_sim/faults", _faults),
        ("POST", "/_sim/faults", _faults),
        ("DELETE", "/_sim/faults", _faults),
        ("DELETE", r"/_sim/faults/(\d{1,18})", _fault_delete),
        ("POST", r"/_sim/servers/(\d{1,18})/lock", _lock),
        ("POST", r"/_sim/servers/(\d{1,18})/delete", _delete),
        ("POST", r"/_sim/actions/(\d{1,18})/finish", _finish),
        ("POST", "/_sim/rate_limit", _rate_limit),
        ("POST", "/_sim/tokens/revoke", _revoke),
        *control_world.ROUTES,
    ]
]
