"""Waiting on a server: for its lock to clear, to start an action despite new locks, for actions.

Every wait owns its deadline (a sync Prefect task cannot be interrupted by Prefect's timeout) and
backs off from ``FIRST_POLL_S`` to ``MAX_POLL_S``, so a long wait costs few requests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hsnap.clock import Deadline
from hsnap.cloud.client import Cloud
from hsnap.errors import HsnapError, LockedError, PermanentError
from hsnap.events import Phase, ProgressEvent, emit
from hsnap.models import ActionRef, ServerRef

Log = logging.Logger | logging.LoggerAdapter[Any]
T = TypeVar("T")
FIRST_POLL_S = 2.0
MAX_POLL_S = 30.0


@dataclass
class ServerRun:
    """One server's work in one task attempt: where to log, and what it cost so far."""

    cloud: Cloud
    server: ServerRef
    log: Log
    lock_wait_s: float = 0.0
    holders: dict[int, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.server.name

    def say(
        self,
        phase: Phase,
        message: str,
        *args: object,
        progress: int | None = None,
        level: int = logging.INFO,
    ) -> None:
        """Log (with server name and id) and tell live displays."""
        self.log.log(level, "%s (id %s): " + message, self.name, self.server.id, *args)
        emit(ProgressEvent(self.name, phase, message % args if args else message, progress))


def fmt(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def lock_timeout(
    deadline: Deadline, holders: list[ActionRef] | None, consequence: str, knob: str
) -> LockedError:
    held = ", ".join(a.describe() for a in holders) if holders else "a lock no running action shows"
    return LockedError(
        f"still locked by {held} after waiting {fmt(deadline.elapsed())}; {consequence}. "
        f"Try again later, or allow a longer wait ({knob})",
        code="lock_timeout",
    )


def wait_unlocked(run: ServerRun, deadline: Deadline, consequence: str, knob: str) -> bool:
    """Wait until the actions now holding the server's lock end (True if any did).

    Lists what holds the lock (one request), then waits for those actions through the project's
    shared watcher (no requests of its own). It does not list again: the caller tries its start
    once they ended, and a 423 then says that a new action took over (one request either way,
    but a start that succeeds needs no second one). LockedError at the deadline.
    """
    locked_since: float | None = None  # lock wait counts from the first check that saw a lock
    try:
        holders = run.cloud.running_actions(run.server.id)
        if not holders:
            return False
        locked_since = deadline.elapsed()
        for action in holders:
            if action.id not in run.holders:
                run.say(
                    "waiting",
                    "locked by %s action %s (%d%%); waiting up to %s",
                    action.command,
                    action.id,
                    action.progress,
                    fmt(deadline.remaining()),
                    progress=action.progress,
                )
            run.holders[action.id] = f"{action.command} #{action.id}"
        for action in holders:
            if deadline.expired():
                raise lock_timeout(deadline, holders, consequence, knob)
            run.cloud.watcher.wait(action.id, deadline, _still_locked(run, deadline))
        if deadline.expired():
            raise lock_timeout(deadline, holders, consequence, knob)
        return True
    finally:
        if locked_since is not None:
            run.lock_wait_s += deadline.elapsed() - locked_since


def _still_locked(run: ServerRun, deadline: Deadline) -> Callable[[ActionRef], None]:
    def report(action: ActionRef) -> None:
        run.say(
            "waiting",
            "still locked by %s; waiting up to %s more",
            action.describe(),
            fmt(deadline.remaining()),
            progress=action.progress,
        )

    return report


def start_unlocked(
    run: ServerRun, deadline: Deadline, start: Callable[[], T], consequence: str, knob: str
) -> T:
    """``start()``; on 423 wait for the lock to clear and try again, until the deadline.

    Starting first and listing the lock holders only after a 423 costs one request for a server
    that is not locked, which is most of them.
    """
    backoff = FIRST_POLL_S
    while True:
        try:
            return start()
        except LockedError:
            if deadline.expired():  # name what holds the lock: that is what the user can act on
                raise lock_timeout(deadline, _holders(run), consequence, knob) from None
        if wait_unlocked(run, deadline, consequence, knob):
            continue
        # a 423 while no running action shows must not become a tight loop of POSTs
        run.say(
            "waiting", "locked, but no running action shows why; trying again in %s", fmt(backoff)
        )
        paused = deadline.elapsed()
        deadline.sleep(backoff)
        run.lock_wait_s += deadline.elapsed() - paused
        backoff = min(backoff * 1.5, MAX_POLL_S)


def _holders(run: ServerRun) -> list[ActionRef] | None:
    """The actions holding the server's lock, or None when they cannot be listed now."""
    try:
        return run.cloud.running_actions(run.server.id)
    except HsnapError:
        return None


def wait_action(run: ServerRun, action: ActionRef, deadline: Deadline, what: str) -> ActionRef:
    """Wait (through the shared watcher) until an action ends; PermanentError if it fails or
    outlasts the deadline."""
    final = run.cloud.watcher.wait(action.id, deadline)
    if final is None:
        raise PermanentError(
            f"the {what} action {action.id} still runs after {fmt(deadline.elapsed())}",
            code=f"{what}_timeout",
        )
    if final.status == "error":
        raise PermanentError(
            f"the {what} action {action.id} failed: {final.error_message} ({final.error_code})",
            code=final.error_code or "action_failed",
        )
    return final
