"""Snapshot one server: wait for unlock, create once, wait until available, report.

Runs inside a Prefect task but knows nothing of Prefect: the task passes its logger, attempt
number and the flow run id that marks the images this run makes. Each wait owns its deadline (a
sync task cannot be interrupted by Prefect's timeout), and a retried attempt first looks for the
image its run already started, so no retry and no lost answer to a POST creates a duplicate.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from hsnap.clock import Deadline
from hsnap.cloud import Cloud
from hsnap.errors import GoneError, HsnapError, LockedError, PermanentError, TransientError
from hsnap.events import Phase, ProgressEvent, emit
from hsnap.models import ActionRef, ImageRef, ServerRef, SnapshotOutcome
from hsnap.policy import run_selector

Log = logging.Logger | logging.LoggerAdapter[Any]
FIRST_POLL_S = 2.0
MAX_POLL_S = 30.0


@dataclass(frozen=True)
class SnapshotPlan:
    """Everything one server's snapshot needs, as plain values."""

    server: ServerRef
    description: str
    labels: dict[str, str] = field(hash=False)
    run_id: str
    lock_timeout_s: float
    snapshot_timeout_s: float


class SnapshotError(Exception):
    """A server's snapshot did not succeed; ``outcome`` is its report row."""

    def __init__(self, outcome: SnapshotOutcome, transient: bool) -> None:
        super().__init__(f"{outcome.server}: {outcome.error}")
        self.outcome = outcome
        self.transient = transient

    def __reduce__(self) -> tuple[type[SnapshotError], tuple[SnapshotOutcome, bool]]:
        return (type(self), (self.outcome, self.transient))


@dataclass
class _Run:
    cloud: Cloud
    plan: SnapshotPlan
    log: Log
    lock_wait_s: float = 0.0
    snapshot_s: float = 0.0
    holders: dict[int, str] = field(default_factory=dict)
    resumed: bool = False

    @property
    def name(self) -> str:
        return self.plan.server.name

    def say(
        self,
        phase: Phase,
        message: str,
        *args: object,
        progress: int | None = None,
        level: int = logging.INFO,
    ) -> None:
        """Log (with server name and id) and tell live displays."""
        self.log.log(level, "%s (id %s): " + message, self.name, self.plan.server.id, *args)
        emit(ProgressEvent(self.name, phase, message % args if args else message, progress))


def take_snapshot(
    cloud: Cloud,
    plan: SnapshotPlan,
    *,
    attempt: int = 1,
    may_resume: bool = False,
    log: Log | None = None,
) -> SnapshotOutcome:
    """Snapshot ``plan.server``; raise SnapshotError with the failed row if it does not succeed.

    Args:
        attempt: 1 for the first try; later tries look for this run's image before creating.
        may_resume: look for this run's image even on the first try (the flow run was restarted).
    """
    run = _Run(cloud, plan, log or logging.getLogger(__name__))
    try:
        image = _resume(run) if attempt > 1 or may_resume else None
        if image is None:
            image, action = _create(run)
        else:
            action = _own_action(run, image)
        done = _wait_available(run, image, action)
    except HsnapError as exc:
        outcome = _failed(run, exc, attempt)
        run.log.error("%s (id %s): %s", run.name, plan.server.id, outcome.error)  # noqa: TRY400 -- the message is the report; a traceback adds nothing
        emit(
            ProgressEvent(run.name, "retrying" if exc.transient else "failed", outcome.error or "")
        )
        raise SnapshotError(outcome, exc.transient) from None
    run.say(
        "succeeded",
        "snapshot image %s is available (%.2f GB)",
        done.id,
        done.image_size or 0.0,
        progress=100,
    )
    return SnapshotOutcome(
        server=run.name,
        server_id=plan.server.id,
        status="succeeded",
        image_id=done.id,
        image_size_gb=done.image_size,
        description=done.description,
        lock_wait_s=round(run.lock_wait_s, 1),
        snapshot_s=round(run.snapshot_s, 1),
        attempts=attempt,
        resumed=run.resumed,
        lock_holders=tuple(run.holders.values()),
    )


def _failed(run: _Run, exc: HsnapError, attempt: int) -> SnapshotOutcome:
    message = str(exc)
    if isinstance(exc, GoneError):
        message = f"server {run.name} no longer exists: it was deleted during the run ({exc})"
    return SnapshotOutcome(
        server=run.name,
        server_id=run.plan.server.id,
        status="failed",
        description=run.plan.description,
        lock_wait_s=round(run.lock_wait_s, 1),
        snapshot_s=round(run.snapshot_s, 1),
        attempts=attempt,
        resumed=run.resumed,
        lock_holders=tuple(run.holders.values()),
        error_code=exc.code,
        error=message,
    )


def _resume(run: _Run) -> ImageRef | None:
    """The image this flow run already made or started for this server, if any."""
    mine = run.cloud.find_images(run_selector(run.plan.server.id, run.plan.run_id))
    usable = [i for i in mine if i.status != "unavailable"]
    if not usable:
        return None
    image = max(usable, key=lambda i: i.id)
    run.resumed = True
    run.say(
        "snapshotting",
        "resuming image %s (%s) that this run already started",
        image.id,
        image.status,
    )
    return image


def _own_action(run: _Run, image: ImageRef) -> ActionRef | None:
    """The running create_image action that makes ``image``, if it still runs."""
    if image.status != "creating":
        return None
    for action in run.cloud.running_actions(run.plan.server.id):
        if action.command == "create_image" and (image.id, "image") in action.resources:
            return action
    return None


def _create(run: _Run) -> tuple[ImageRef, ActionRef | None]:
    deadline = Deadline(run.cloud.clock, run.plan.lock_timeout_s)
    backoff = FIRST_POLL_S
    while True:
        _wait_unlocked(run, deadline)
        run.say("creating", "creating snapshot %r", run.plan.description)
        try:
            image, action = run.cloud.create_snapshot(
                run.plan.server.id, run.plan.description, run.plan.labels
            )
        except LockedError:
            if deadline.expired():
                raise _lock_timeout(deadline) from None
            run.say("waiting", "locked again between check and create; waiting for the new lock")
            # a 423 while no running action shows must not become a tight loop of POSTs
            paused = deadline.elapsed()
            deadline.sleep(backoff)
            run.lock_wait_s += deadline.elapsed() - paused
            backoff = min(backoff * 1.5, MAX_POLL_S)
            continue
        except TransientError as exc:
            # a 504 or a lost connection may hide a create the API carried out: look before retrying
            found = _resume(run)
            if found is None:
                raise
            run.log.warning(
                "%s (id %s): the create request failed (%s) but the API made image %s",
                run.name,
                run.plan.server.id,
                exc,
                found.id,
            )
            return found, _own_action(run, found)
        run.say("snapshotting", "image %s creating, action %s", image.id, action.id, progress=0)
        return image, action


def _wait_unlocked(run: _Run, deadline: Deadline) -> None:
    interval = FIRST_POLL_S
    locked_since: float | None = None  # lock wait counts from the first check that saw a lock
    try:
        while True:
            holders = run.cloud.running_actions(run.plan.server.id)
            if not holders:
                return
            if locked_since is None:
                locked_since = deadline.elapsed()
            for action in holders:
                if action.id not in run.holders:
                    run.say(
                        "waiting",
                        "locked by %s action %s (%d%%); waiting up to %s",
                        action.command,
                        action.id,
                        action.progress,
                        _fmt(deadline.remaining()),
                        progress=action.progress,
                    )
                run.holders[action.id] = f"{action.command} #{action.id}"
            if deadline.expired():
                raise _lock_timeout(deadline, holders)
            wait = min(interval, deadline.remaining())
            run.say(
                "waiting",
                "still locked by %s; next check in %s",
                ", ".join(a.describe() for a in holders),
                _fmt(wait),
                progress=min(a.progress for a in holders),
            )
            deadline.sleep(wait)
            interval = min(interval * 1.5, MAX_POLL_S)
    finally:
        if locked_since is not None:
            run.lock_wait_s += deadline.elapsed() - locked_since


def _lock_timeout(deadline: Deadline, holders: list[ActionRef] | None = None) -> LockedError:
    held = ", ".join(a.describe() for a in holders) if holders else "a lock no running action shows"
    return LockedError(
        f"still locked by {held} after waiting {_fmt(deadline.elapsed())}; no snapshot was made. "
        "Try again later, or allow a longer wait (lock_wait_minutes / --lock-wait-minutes)",
        code="lock_timeout",
    )


def _wait_available(run: _Run, image: ImageRef, action: ActionRef | None) -> ImageRef:
    deadline = Deadline(run.cloud.clock, run.plan.snapshot_timeout_s)
    interval = FIRST_POLL_S
    try:
        while True:
            if action is not None:
                current = run.cloud.get_action(action.id)
                if current.status == "error":
                    raise PermanentError(
                        f"the snapshot action {action.id} failed: {current.error_message} "
                        f"({current.error_code})",
                        code=current.error_code or "action_failed",
                    )
                if current.status == "success":
                    break
                progress = current.progress
            else:
                if run.cloud.get_image(image.id).status != "creating":
                    break
                progress = None
            if deadline.expired():
                raise PermanentError(
                    f"image {image.id} still creating after {_fmt(deadline.elapsed())}; it may "
                    "still finish: check it in the console, or allow a longer wait "
                    "(snapshot_wait_minutes / --snapshot-wait-minutes)",
                    code="snapshot_timeout",
                )
            run.say(
                "snapshotting",
                "image %s %s%%",
                image.id,
                progress if progress is not None else "?",
                progress=progress,
                level=logging.DEBUG,
            )
            deadline.sleep(interval)
            interval = min(interval * 1.5, MAX_POLL_S)
    finally:
        run.snapshot_s += deadline.elapsed()
    final = run.cloud.get_image(image.id)
    if final.status != "available":
        raise PermanentError(f"image {image.id} ended {final.status}", code=f"image_{final.status}")
    return final


def _fmt(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
