"""One poller per Hetzner project for every action a run waits on, 50 actions per request.

Tasks (threads of one flow run) register the actions they wait on: the locks they wait out and
their own create_image actions. One background thread polls them all with
``GET /actions?id=..&id=..`` and wakes each task when its action ends. The poll interval adapts:
short while the actions are young, about a tenth of their age later (a snapshot that has run for
ten minutes is not checked every second), and longer when the project's request budget runs low.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hsnap.clock import Clock, Deadline
from hsnap.errors import HsnapError
from hsnap.models import ActionRef

if TYPE_CHECKING:
    from hsnap.cloud import Cloud
    from hsnap.settings import Settings

log = logging.getLogger(__name__)
MIN_POLL_S = 1.0
MAX_POLL_S = 60.0
AGE_FRACTION = 0.1
IDLE_EXIT_S = 300.0  # the poller thread ends after this long with nothing to watch
ERROR_BACKOFF_S = 5.0
#: how often a waiting task wakes to report progress (costs no request)
REPORT_EVERY_S = 30.0


@dataclass
class _Watched:
    since: float
    latest: ActionRef | None = None


class ActionWatcher:
    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self.clock: Clock = cloud.clock
        self._cond = threading.Condition()
        self._watched: dict[int, _Watched] = {}
        self._waiters: dict[int, int] = {}
        self._finished: dict[int, ActionRef] = {}
        self._error: HsnapError | None = None
        self._thread: threading.Thread | None = None
        self.polls = 0
        self.requests = 0

    def wait(
        self,
        action_id: int,
        deadline: Deadline,
        report: Callable[[ActionRef], None] | None = None,
    ) -> ActionRef | None:
        """Block until the action ends (its final state) or the deadline passes (None)."""
        with self._cond:
            self._watched.setdefault(action_id, _Watched(self.clock.now()))
            self._waiters[action_id] = self._waiters.get(action_id, 0) + 1
            self._ensure_thread()
            self._cond.notify_all()
            try:
                while action_id not in self._finished:
                    if self._error is not None:
                        raise self._error
                    if deadline.expired():
                        return None
                    wait = min(deadline.remaining(), REPORT_EVERY_S)
                    self._cond.wait(timeout=max(0.001, wait / self.clock.scale))
                    latest = self._watched.get(action_id)
                    if report is not None and latest is not None and latest.latest is not None:
                        report(latest.latest)
                return self._finished[action_id]
            finally:
                self._release(action_id)

    def _release(self, action_id: int) -> None:
        self._waiters[action_id] -= 1
        if self._waiters[action_id] == 0:
            del self._waiters[action_id]
            self._watched.pop(action_id, None)
            self._finished.pop(action_id, None)

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._run, name="hsnap-action-watcher", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        idle_since = self.clock.now()
        while True:
            with self._cond:
                ids = sorted(i for i in self._watched if i not in self._finished)
                if not ids:
                    if self.clock.now() - idle_since > IDLE_EXIT_S:
                        self._thread = None
                        return
                    self._cond.wait(timeout=1.0)
                    continue
            idle_since = self.clock.now()
            self._poll(ids)
            self.clock.sleep(self._interval(len(ids)))

    def _poll(self, ids: list[int]) -> None:
        try:
            refs = self.cloud.get_actions(ids)
        except HsnapError as exc:
            if exc.transient:
                log.info("polling %d action(s): %s; trying again", len(ids), exc)
                self.clock.sleep(ERROR_BACKOFF_S)
                return
            with self._cond:
                self._error = exc  # e.g. the token was revoked: every waiter must hear it
                self._cond.notify_all()
            return
        self.polls += 1
        self.requests += math.ceil(len(ids) / 50)
        with self._cond:
            seen = {r.id for r in refs}
            for ref in refs:
                watched = self._watched.get(ref.id)
                if watched is not None:
                    watched.latest = ref
                if ref.status != "running":
                    self._finished[ref.id] = ref
            for missing in set(ids) - seen:  # an action the API no longer knows: report it ended
                self._finished[missing] = ActionRef(
                    missing, "unknown", "error", 0, "not_found", "the action no longer exists"
                )
            self._cond.notify_all()

    def _interval(self, count: int) -> float:
        """Seconds until the next poll: by the youngest action's age, slowed by a low budget."""
        now = self.clock.now()
        with self._cond:
            ages = [now - w.since for i, w in self._watched.items() if i not in self._finished]
        if not ages:
            return MIN_POLL_S
        by_age = min(MAX_POLL_S, max(MIN_POLL_S, AGE_FRACTION * min(ages)))
        governor = self.cloud.governor
        cost = math.ceil(count / 50)
        pressure = governor.pressure()  # 0 with a full bucket, 1 when it is empty
        by_budget = cost / governor.refill_per_s * pressure * 1.5
        return max(by_age, by_budget)


_WATCHERS: dict[str, ActionWatcher] = {}
_LOCK = threading.Lock()


def watcher_for(settings: Settings, make_cloud: Callable[[], Cloud]) -> ActionWatcher:
    """The process-wide watcher of the project behind this endpoint and token."""
    digest = hashlib.sha256(
        f"{settings.endpoint}\0{settings.token.get_secret_value()}\0{settings.time_scale}".encode()
    ).hexdigest()
    with _LOCK:
        watcher = _WATCHERS.get(digest)
        if watcher is None:
            watcher = _WATCHERS[digest] = ActionWatcher(make_cloud())
        return watcher
