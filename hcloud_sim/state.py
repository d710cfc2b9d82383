"""The whole simulated world: clock, projects, tokens, scheduled events, ids, request counters.

``Simulator`` is what ``SimulatorServer.state`` exposes to tests: call its verbs (through
``sim.project(...)``) under ``with sim.lock:`` or use the helpers here, which take the lock.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
from collections import Counter
from collections.abc import Callable
from types import EllipsisType
from typing import Any

from hcloud_sim.clock import SimClock
from hcloud_sim.errors import ApiError
from hcloud_sim.faults import FaultRule
from hcloud_sim.model import Boot, Server
from hcloud_sim.project import Project
from hcloud_sim.render import render_action, render_image, render_server
from hcloud_sim.resources import families
from hcloud_sim.seed import seed_project
from hcloud_sim.spec import Scenario

#: where each kind's ids start: distinct ranges, so an id of the wrong kind is never found by chance
_ID_BASES = {
    "server": 100_000,
    "image": 300_000,
    "action": 500_000,
    "primary_ip": 700_000,
    "network": 1_100_000,
    "firewall": 1_200_000,
    "floating_ip": 1_300_000,
    "volume": 1_400_000,
    "placement_group": 1_500_000,
    "load_balancer": 1_600_000,
    "ssh_key": 1_700_000,
    "certificate": 1_800_000,
    "iso": 2_000_000,  # the public ISOs have fixed ids just above it (resources/isos.py)
}


#: what ``_build`` replaces: ``reset`` puts these back when a build fails
_WORLD = (
    "scenario",
    "_scale_override",
    "clock",
    "_events",
    "_seq",
    "_ids",
    "projects",
    "tokens",
)


class SeedError(ValueError):
    """A scenario passed validation but a family's seed refused it while building the world."""


class Simulator:
    """A stateful Hetzner Cloud API world built from a scenario."""

    def __init__(self, scenario: Scenario, time_scale: float | None = None) -> None:
        self.lock = threading.RLock()
        self.scenario = scenario
        self._scale_override = time_scale
        self.stats: Counter[tuple[str, str, int]] = Counter()
        self._build()

    def _build(self) -> None:
        scale = self._scale_override or self.scenario.time_scale or 1.0
        self.clock = SimClock(scale)
        self._events: list[tuple[float, int, Callable[[float], None]]] = []
        self._seq = itertools.count()
        self._ids = dict(_ID_BASES)
        self.projects: dict[str, Project] = {}
        self.tokens: dict[str, tuple[Project, bool]] = {}
        rng = random.Random(self.scenario.seed)
        for spec in self.scenario.projects:
            project = Project(self, spec, random.Random(rng.random()))
            self.projects[spec.name] = project
            for token in spec.tokens:
                self.tokens[token.token] = (project, token.readonly)
            seed_project(project)

    # -- infrastructure ----------------------------------------------------------------------

    def next_id(self, kind: str) -> int:
        self._ids[kind] = self._ids.get(kind, 9_000_000) + 1
        return self._ids[kind]

    def schedule(self, at: float, fn: Callable[[float], None]) -> None:
        """Run ``fn(at)`` once simulated time reaches ``at`` (at the next settle)."""
        heapq.heappush(self._events, (at, next(self._seq), fn))

    def settle(self) -> None:
        """Apply every event that is due at the current simulated time, in time order."""
        now = self.clock.now()
        while self._events and self._events[0][0] <= now:
            at, _, fn = heapq.heappop(self._events)
            fn(at)

    def reset(self, scenario: Scenario | None = None, time_scale: float | None = None) -> None:
        """Back to the scenario's initial state (optionally another scenario); counters cleared.

        All or nothing: if the new world cannot be built (a family's seed refuses the scenario),
        ``SeedError`` is raised and the previous world, scenario, clock and counters stay as they
        were (the new world is built beside the old one, which is never touched).
        """
        with self.lock:
            before = {name: getattr(self, name) for name in _WORLD}
            if scenario is not None:
                self.scenario = scenario
            if time_scale is not None:
                self._scale_override = time_scale
            try:
                self._build()
            except Exception as exc:
                refused = self.scenario.name
                for name, value in before.items():
                    setattr(self, name, value)
                message = exc.message if isinstance(exc, ApiError) else str(exc)
                raise SeedError(f"scenario {refused!r} cannot be built: {message}") from exc
            self.stats.clear()

    def authenticate(self, token: str | None) -> tuple[Project, bool]:
        """(project, readonly) for a bearer token, or the API's 401."""
        if not token:
            raise ApiError("unauthorized", "token is required")
        found = self.tokens.get(token)
        if found is None:
            raise ApiError("unauthorized", "the token you have provided is invalid")
        return found

    def revoke_token(self, token: str) -> bool:
        """The API refuses ``token`` with 401 from now on (until a reset); False if unknown."""
        with self.lock:
            return self.tokens.pop(token, None) is not None

    def project(self, name: str | None = None) -> Project:
        if name is None:
            return next(iter(self.projects.values()))
        if name not in self.projects:
            raise ApiError("not_found", f"no project named {name!r} in this scenario")
        return self.projects[name]

    # -- helpers for tests and the control API (take the lock, settle first) ------------------

    def server_by_name(self, name: str, project: str | None = None) -> Server:
        with self.lock:
            self.settle()
            for server in self.project(project).servers.values():
                if server.name == name:
                    return server
        raise KeyError(name)

    def lock_server(
        self,
        server_id: int,
        *,
        command: str = "change_server_type",
        duration: float | None = 60.0,
        error: tuple[str, str] | None = None,
        project: str | None = None,
    ) -> int:
        """Start a foreign action that holds the server's lock; returns its id."""
        with self.lock:
            self.settle()
            p = self.project(project)
            return p.begin(p.server(server_id), command, duration=duration, error=error).id

    def finish_action(self, action_id: int, project: str | None = None) -> None:
        """End a running action now (e.g. release a lock a test started with no end)."""
        with self.lock:
            self.settle()
            self.project(project).finish_action(action_id)

    def delete_server(self, server_id: int, project: str | None = None) -> None:
        with self.lock:
            self.settle()
            self.project(project).delete_server(server_id)

    def set_image_boot(self, image_id: int, boot: Boot, project: str | None = None) -> None:
        """How servers made or rebuilt from the image come up from now on (see ``BootSpec``)."""
        with self.lock:
            self.settle()
            self.project(project).image(image_id).boot = boot

    def set_quota(
        self,
        project: str | None = None,
        *,
        servers: int | EllipsisType | None = ...,
        snapshots: int | EllipsisType | None = ...,
    ) -> dict[str, int | None]:
        """Change a project's server/snapshot quota (None: no limit; ``...``: unchanged)."""
        with self.lock:
            spec = self.project(project).spec
            if not isinstance(servers, EllipsisType):
                spec.server_quota = servers
            if not isinstance(snapshots, EllipsisType):
                spec.snapshot_quota = snapshots
            return {"servers": spec.server_quota, "snapshots": spec.snapshot_quota}

    def ground_truth(self, project: str | None = None) -> dict[str, Any]:
        """Everything as it is now, in API shapes plus what the API does not show."""
        with self.lock:
            self.settle()
            p = self.project(project)
            now = self.clock.now()
            return {
                "project": p.name,
                "now": now,
                "time_scale": self.clock.scale,
                "servers": [
                    {**render_server(p, s), "lock_holders": sorted(s.lock_holders)}
                    for s in p.servers.values()
                ],
                "deleted_servers": sorted(p.deleted_servers),
                "images": [{**render_image(i), "boot": i.boot} for i in p.images.values()],
                "created_images": list(p.created_images),
                "actions": [render_action(a, now) for a in p.actions.values()],
                "rate_limit": {
                    "capacity": p.bucket.capacity,
                    "remaining": p.bucket.remaining(now),
                    "refill_per_second": p.bucket.refill,
                },
                "faults": [r.model_dump() for r in p.faults.rules()],
                "quota": {"servers": p.spec.server_quota, "snapshots": p.spec.snapshot_quota},
                **{f.name: f.ground_truth(p) for f in families() if f.ground_truth is not None},
            }

    def add_fault(self, project: str | None = None, **rule: Any) -> FaultRule:
        """Add a fault rule at run time (as ``POST /_sim/faults`` does); returns it with its id."""
        return self.project(project).faults.add(FaultRule(**rule))

    def request_count(self, method: str, endpoint: str, status: int | None = None) -> int:
        """Requests answered so far for a method and endpoint template (and status, if given)."""
        with self.lock:
            return sum(
                count
                for (m, e, s), count in self.stats.items()
                if m == method and e == endpoint and status in (None, s)
            )

    def request_counts(self) -> list[dict[str, Any]]:
        with self.lock:
            return [
                {"method": m, "endpoint": e, "status": s, "count": c}
                for (m, e, s), c in sorted(self.stats.items())
            ]
