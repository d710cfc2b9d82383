"""Snapshot one server: wait for unlock, create once, wait until available, report.

Runs inside a Prefect task but knows nothing of Prefect: the task passes its logger, attempt
number and the flow run id that marks the images this run makes. Each wait owns its deadline (a
sync task cannot be interrupted by Prefect's timeout), and a retried attempt first looks for the
image its run already started, so no retry and no lost answer to a POST creates a duplicate.
In consistent mode the server is shut down first and powered on again on every path.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from hsnap.clock import Deadline
from hsnap.cloud.client import Cloud
from hsnap.cloud.waiting import (
    FIRST_POLL_S,
    MAX_POLL_S,
    Log,
    ServerRun,
    fmt,
    start_unlocked,
)
from hsnap.errors import GoneError, HsnapError, PermanentError, TransientError
from hsnap.events import ProgressEvent, emit
from hsnap.models import ActionRef, ImageRef, OutcomeStatus, ServerRef, SnapshotOutcome
from hsnap.snapshot.power import PowerGuard
from hsnap.snapshot.recipe import is_recipe_label
from hsnap.snapshot.reconcile import await_late_create, drop_extras, find_own, own_action

LOCK_KNOB = "lock_wait_minutes / --lock-wait-minutes"


@dataclass(frozen=True)
class SnapshotPlan:
    """Everything one server's snapshot needs, as plain values."""

    server: ServerRef
    description: str
    labels: dict[str, str] = field(hash=False)
    run_id: str
    lock_timeout_s: float
    snapshot_timeout_s: float
    consistent: bool = False
    force_poweroff: bool = False
    shutdown_timeout_s: float = 600.0
    poweron_timeout_s: float = 3600.0


class SnapshotError(Exception):
    """A server's snapshot did not succeed; ``outcome`` is its report row."""

    def __init__(self, outcome: SnapshotOutcome, transient: bool) -> None:
        super().__init__(f"{outcome.server}: {outcome.error}")
        self.outcome = outcome
        self.transient = transient

    def __reduce__(self) -> tuple[type[SnapshotError], tuple[SnapshotOutcome, bool]]:
        return (type(self), (self.outcome, self.transient))


@dataclass
class _Run(ServerRun):
    snapshot_s: float = 0.0
    resumed: bool = False
    #: when the answer to a create of this attempt was last lost (API clock), if ever
    unclear_at: float | None = None


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
    run = _Run(cloud, plan.server, log or logging.getLogger(__name__))
    started = cloud.clock.now()
    guard = _guard(run, plan) if plan.consistent else None
    error: HsnapError | None = None
    done: ImageRef | None = None
    try:
        done = _snapshot(run, plan, guard, resume=attempt > 1 or may_resume)
    except HsnapError as exc:
        error = exc
    finally:
        if guard is not None:
            guard.restore()  # every path after a shutdown powers the server on again
    if done is not None and (run.unclear_at is not None or attempt > 1 or may_resume):
        # a create whose answer was lost, here or in an earlier attempt, may have landed late
        since = run.unclear_at if run.unclear_at is not None else started
        drop_extras(run, plan.run_id, done, since, plan.snapshot_timeout_s)
    outcome = _outcome(run, plan, attempt, done=done, error=error, guard=guard)
    if outcome.status != "succeeded":
        transient = error is not None and error.transient and outcome.status == "failed"
        # a transient failure is retried (Prefect logs at error level if the retries run out)
        level = logging.WARNING if transient else logging.ERROR
        run.log.log(level, "%s (id %s): %s", run.name, plan.server.id, outcome.error)
        emit(ProgressEvent(run.name, "retrying" if transient else "failed", outcome.error or ""))
        raise SnapshotError(outcome, transient)
    assert done is not None
    run.say(
        "succeeded",
        "snapshot image %s is available (%.2f GB)",
        done.id,
        done.image_size or 0.0,
        progress=100,
    )
    return outcome


def _guard(run: _Run, plan: SnapshotPlan) -> PowerGuard:
    return PowerGuard(
        run,
        plan.run_id,
        force=plan.force_poweroff,
        lock_timeout_s=plan.lock_timeout_s,
        shutdown_timeout_s=plan.shutdown_timeout_s,
        poweron_timeout_s=plan.poweron_timeout_s,
    )


def _snapshot(run: _Run, plan: SnapshotPlan, guard: PowerGuard | None, *, resume: bool) -> ImageRef:
    image = _resume(run, plan) if resume else None
    if image is None:
        if guard is not None:
            guard.shut_down_server()
        image, action = _create(run, plan)
    else:
        action = own_action(run, image)
    return _wait_available(run, plan, image, action)


def _outcome(
    run: _Run,
    plan: SnapshotPlan,
    attempt: int,
    *,
    done: ImageRef | None,
    error: HsnapError | None,
    guard: PowerGuard | None,
) -> SnapshotOutcome:
    left_off = guard.left_off if guard is not None else None
    messages = [m for m in (left_off, _message(run, error) if error else None) if m]
    status: OutcomeStatus = "left-off" if left_off else "failed" if error else "succeeded"
    code = "left_off" if left_off else error.code if error else None
    return SnapshotOutcome(
        server=run.name,
        server_id=plan.server.id,
        status=status,
        image_id=done.id if done else None,
        image_size_gb=done.image_size if done else None,
        description=done.description if done else plan.description,
        lock_wait_s=round(run.lock_wait_s, 1),
        snapshot_s=round(run.snapshot_s, 1),
        attempts=attempt,
        resumed=run.resumed,
        lock_holders=tuple(run.holders.values()),
        error_code=code,
        error=" / ".join(messages) or None,
        shut_down=bool(guard and guard.shut_down),
        off_s=round(guard.off_s, 1) if guard else 0.0,
        running_again=guard.running_again if guard and guard.was_running else None,
    )


def _message(run: _Run, exc: HsnapError) -> str:
    if isinstance(exc, GoneError):
        return f"server {run.name} no longer exists: it was deleted during the run ({exc})"
    return str(exc)


def _resume(run: _Run, plan: SnapshotPlan, found: ImageRef | None = None) -> ImageRef | None:
    """The image this flow run already made or started for this server, if any."""
    image = found or find_own(run, plan.run_id)
    if image is None:
        return None
    run.resumed = True
    run.say(
        "snapshotting",
        "resuming image %s (%s) that this run already started",
        image.id,
        image.status,
    )
    return image


def _create(run: _Run, plan: SnapshotPlan) -> tuple[ImageRef, ActionRef | None]:
    deadline = Deadline(run.cloud.clock, plan.lock_timeout_s)

    def create() -> tuple[ImageRef, ActionRef | None]:
        if run.unclear_at is not None and (late := _resume(run, plan)) is not None:
            return late, own_action(run, late)  # the lost create landed while we waited a lock
        run.say("creating", "creating snapshot %r", plan.description)
        try:
            return run.cloud.create_snapshot(plan.server.id, plan.description, plan.labels)
        except TransientError:
            run.unclear_at = run.cloud.clock.now()  # it may have been carried out, or may be
            raise
        except PermanentError as exc:
            bare = {k: v for k, v in plan.labels.items() if not is_recipe_label(k)}
            if exc.code != "invalid_input" or bare == plan.labels:
                raise
            # the snapshot matters more than its recipe: an API that refuses the recipe's
            # labels still gets the snapshot (restore --replace will then need another one)
            run.log.warning(
                "%s (id %s): %s; snapshotting without its recipe", run.name, plan.server.id, exc
            )
            return run.cloud.create_snapshot(plan.server.id, plan.description, bare)

    try:
        image, action = start_unlocked(run, deadline, create, "no snapshot was made", LOCK_KNOB)
    except TransientError as exc:
        # a 504, a lost connection or a timeout may hide a create the API carried out, or will:
        # look for it long enough before a retry creates another
        if run.unclear_at is None:
            raise  # a read failed: no create was sent
        found = _resume(run, plan, await_late_create(run, plan.run_id, run.unclear_at))
        if found is None:
            raise
        run.log.warning(
            "%s (id %s): the create request failed (%s) but the API made image %s",
            run.name,
            plan.server.id,
            exc,
            found.id,
        )
        return found, own_action(run, found)
    if action is not None:
        run.say("snapshotting", "image %s creating, action %s", image.id, action.id, progress=0)
    return image, action


def _wait_available(
    run: _Run, plan: SnapshotPlan, image: ImageRef, action: ActionRef | None
) -> ImageRef:
    deadline = Deadline(run.cloud.clock, plan.snapshot_timeout_s)
    try:
        if action is not None:
            _wait_create_action(run, image, action, deadline)
        else:
            _wait_image(run, image, deadline)
    finally:
        run.snapshot_s += deadline.elapsed()
    final = run.cloud.get_image(image.id)
    if final.status == "creating":
        raise _snapshot_timeout(image, deadline)
    if final.status != "available":
        raise PermanentError(f"image {image.id} ended {final.status}", code=f"image_{final.status}")
    return final


def _wait_create_action(run: _Run, image: ImageRef, action: ActionRef, deadline: Deadline) -> None:
    def report(current: ActionRef) -> None:
        run.say(
            "snapshotting",
            "image %s %d%%",
            image.id,
            current.progress,
            progress=current.progress,
            level=logging.DEBUG,
        )

    final = run.cloud.watcher.wait(action.id, deadline, report)
    if final is None:
        return  # deadline passed unseen (polls may have failed): the image itself will tell
    if final.status == "error":
        raise PermanentError(
            f"the snapshot action {action.id} failed: {final.error_message} ({final.error_code})",
            code=final.error_code or "action_failed",
        )


def _wait_image(run: _Run, image: ImageRef, deadline: Deadline) -> None:
    """No action to wait on (a resumed image whose action ended): watch the image itself."""
    interval = FIRST_POLL_S
    while run.cloud.get_image(image.id).status == "creating":
        if deadline.expired():
            raise _snapshot_timeout(image, deadline)
        deadline.sleep(interval)
        interval = min(interval * 1.5, MAX_POLL_S)


def _snapshot_timeout(image: ImageRef, deadline: Deadline) -> PermanentError:
    return PermanentError(
        f"image {image.id} still creating after {fmt(deadline.elapsed())}; it may still finish: "
        "check it in the console, or allow a longer wait "
        "(snapshot_wait_minutes / --snapshot-wait-minutes)",
        code="snapshot_timeout",
    )
