"""``GET /load_balancers/{id}/metrics``: the documented shape, with no traffic (every value 0).

No request ever passes through a simulated load balancer, so every series is flat zero; what is
faithful is the parameters' handling: the types, ``start``/``end`` (ISO 8601), ``step`` (default:
200 samples; at most 500 samples, the step grows to fit).
"""

from __future__ import annotations

import datetime as dt
import math

from hcloud_sim.clock import iso
from hcloud_sim.errors import invalid_field
from hcloud_sim.query import Reply, Request, one, path_id
from hcloud_sim.resources.load_balancers.model import get

SERIES = {
    "open_connections": ("open_connections",),
    "connections_per_second": ("connections_per_second",),
    "requests_per_second": ("requests_per_second",),
    "bandwidth": ("bandwidth.in", "bandwidth.out"),
}
MAX_SAMPLES = 500


def _time(req: Request, name: str) -> float:
    text = one(req, name)
    if text is None:
        raise invalid_field(name, "is required")
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise invalid_field(name, "must be an ISO 8601 timestamp") from None
    if moment.tzinfo is None:
        raise invalid_field(name, "must carry a time zone (e.g. Z)")
    return moment.timestamp()


def metrics(req: Request) -> Reply:
    get(req.project, path_id(req))
    return series_reply(req, SERIES)


def series_reply(req: Request, known: dict[str, tuple[str, ...]]) -> Reply:
    """The flat-zero ``metrics`` answer for the ``type``s asked of ``known`` (type -> series).

    Server metrics answer the same way (``resources/server_extras.py``).
    """
    kinds = [k for value in req.query.get("type", []) for k in value.split(",") if k]
    if not kinds:
        raise invalid_field("type", f"is required: one or more of {', '.join(known)}")
    for kind in kinds:
        if kind not in known:
            raise invalid_field("type", f"{kind!r} is not one of {', '.join(known)}")
    start, end = _time(req, "start"), _time(req, "end")
    if end < start:
        raise invalid_field("end", "must not be before start")
    step_text = one(req, "step")
    if step_text is not None and not step_text.isdigit():
        raise invalid_field("step", "must be a whole number of seconds")
    step = float(step_text) if step_text else max(1.0, (end - start) / 200)
    step = max(step, 1.0, (end - start) / MAX_SAMPLES)
    samples = math.floor((end - start) / step) + 1
    values = [[start + i * step, "0"] for i in range(samples)]
    series = {name: {"values": values} for kind in kinds for name in known[kind]}
    return Reply(
        200,
        {"metrics": {"start": iso(start), "end": iso(end), "step": step, "time_series": series}},
    )
