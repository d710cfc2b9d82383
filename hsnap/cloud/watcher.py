"""One poller per Hetzner project for every action a run waits on, 50 actions per request.

Tasks (threads of one flow run) register the actions they wait on: the locks they wait out and
their own create_image actions. One background thread polls them with ``GET /actions?id=..&id=..``
and wakes each task when its action ends. Each action is due again at the sooner of two times:
when its progress says it should end (actions report 0..100 %), or a fraction of its age later
(a snapshot that has run for ten minutes is not checked every second). A poll asks for every action
that is due (or nearly), so actions coalesce into few requests; polls are spaced further apart when
the project's request budget runs low.
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
    from hsnap.cloud.client import Cloud
    from hsnap.settings import Settings

log = logging.getLogger(__name__)
MIN_POLL_S = 2.0
MAX_POLL_S = 120.0
#: least time between two polls with a full bucket: what a finished action may wait to be seen
MIN_SPACING_S = 20.0
AGE_FRACTION = 0.25
#: after a predicted end, check again this often until the action has ended
PAST_DUE_S = 5.0
IDLE_EXIT_S = 300.0  # the poller thread ends after this long with nothing to watch
ERROR_BACKOFF_S = 5.0
#: how often a waiting task wakes to report progress (costs no request)
REPORT_EVERY_S = 30.0


@dataclass
class _Watched:
    since: float
    due: float
    latest: ActionRef | None = None
    seen_at: float | None = None

    def observe(self, ref: ActionRef, now: float) -> None:
        """Note a poll's answer and work out when this action is due again."""
        age = now - self.since
        by_age = now + min(MAX_POLL_S, max(MIN_POLL_S, AGE_FRACTION * age))
        due = by_age
        previous, previous_at = self.latest, self.seen_at
        if previous is not None and previous_at is not None and ref.progress > previous.progress:
            rate = (ref.progress - previous.progress) / max(now - previous_at, 1e-6)
        elif ref.progress > 0 and age > 0:
            rate = ref.progress / age  # as if it started when it was registered
        else:
            rate = 0.0
        if rate > 0:  # progress tells when it should end: look then (and at least every 2 min)
            eta = now + (100 - ref.progress) / rate
            due = min(now + MAX_POLL_S, max(eta, now + MIN_POLL_S))
        if ref.progress >= 99:
            due = min(due, now + PAST_DUE_S)
        self.latest, self.seen_at, self.due = ref, now, due


class ActionWatcher:
    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self.clock: Clock = cloud.clock
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)  # waiters: woken by a poll's answers
        self._wake = threading.Condition(self._lock)  # the poller: woken by a registration
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
            now = self.clock.now()
            self._watched.setdefault(action_id, _Watched(since=now, due=now))
            self._waiters[action_id] = self._waiters.get(action_id, 0) + 1
            self._ensure_thread()
            self._wake.notify()  # only the poller: a new action must not wake 1000 waiters
            reported: float | None = None  # the poll last reported: report each answer once
            try:
                while action_id not in self._finished:
                    if self._error is not None:
                        raise self._error
                    if deadline.expired():
                        return None
                    wait = min(deadline.remaining(), REPORT_EVERY_S)
                    self._cond.wait(timeout=max(0.001, wait / self.clock.scale))
                    latest = self._watched.get(action_id)
                    if (
                        report is not None
                        and latest is not None
                        and latest.latest is not None
                        and latest.seen_at != reported
                    ):
                        # not at every wake: other tasks' registrations wake every waiter
                        reported = latest.seen_at
                        report(latest.latest)
                return self._finished[action_id]
            finally:
                self._release(action_id)

    def busy(self) -> bool:
        """Whether any task waits on an action that has not ended yet (a poll will come)."""
        with self._cond:
            return any(i not in self._finished for i in self._waiters)

    def _release(self, action_id: int) -> None:
        self._waiters[action_id] -= 1
        if self._waiters[action_id] == 0:
            del self._waiters[action_id]
            self._watched.pop(action_id, None)
            self._finished.pop(action_id, None)
        if not self._waiters:
            # every waiter was told; a later wait in this long-lived process polls anew
            self._error = None

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._run, name="hsnap-action-watcher", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        idle_since = self.clock.now()
        last_poll = -math.inf
        while True:
            with self._cond:
                now = self.clock.now()
                pending = {i: w for i, w in self._watched.items() if i not in self._finished}
                if not pending:
                    if now - idle_since > IDLE_EXIT_S:
                        self._thread = None
                        return
                    self._wake.wait(timeout=1.0)
                    continue
                idle_since = now
                spacing = self._spacing(len(pending))
                next_due = max(min(w.due for w in pending.values()), last_poll + spacing)
                if next_due > now:
                    # a new, younger action registering wakes this wait (through _wake)
                    self._wake.wait(timeout=min(next_due - now, MAX_POLL_S) / self.clock.scale)
                    continue
                # whatever falls due before the next poll could be made joins this one
                ids = sorted(i for i, w in pending.items() if w.due <= now + spacing)
            last_poll = self.clock.now()
            self._poll(ids)

    def _poll(self, ids: list[int]) -> None:
        try:
            refs = self.cloud.get_actions(ids)
        except Exception as exc:
            if not isinstance(exc, HsnapError):
                log.exception("polling %d action(s) failed unexpectedly; trying again", len(ids))
                self.clock.sleep(ERROR_BACKOFF_S)
                return
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
            now = self.clock.now()
            for ref in refs:
                watched = self._watched.get(ref.id)
                if watched is not None:
                    watched.observe(ref, now)
                if ref.status != "running":
                    self._finished[ref.id] = ref
            for missing in set(ids) - seen:  # an action the API no longer knows: report it ended
                self._finished[missing] = ActionRef(
                    missing, "unknown", "error", 0, "not_found", "the action no longer exists"
                )
            self._cond.notify_all()

    def _spacing(self, count: int) -> float:
        """Least time between two polls: short with a full bucket, at the refill rate when low."""
        governor = self.cloud.governor
        cost = math.ceil(count / 50)
        return max(MIN_SPACING_S, cost / governor.refill_per_s * governor.pressure() * 1.5)


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
