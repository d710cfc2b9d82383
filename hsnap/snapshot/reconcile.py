"""Exactly one snapshot per server and run, whatever became of the answers to its creates.

A create whose answer is lost (a 504, a dropped connection, a client timeout while the API is slow)
may still be carried out, even after the client gave up. hsnap therefore never concludes at once
that nothing was made: it looks for the image its run started (by its labels) for a while
(``LATE_ANSWER_S``) before it gives up and lets a retry create one. Should the late create land
after all, once the kept image is available hsnap removes the extra one, and only ever an image
with hsnap's labels from this run for this server.
"""

from __future__ import annotations

from hsnap.clock import Deadline
from hsnap.cloud.waiting import FIRST_POLL_S, MAX_POLL_S, ServerRun
from hsnap.errors import GoneError, HsnapError, LockedError
from hsnap.models import ActionRef, ImageRef
from hsnap.policy import run_selector

#: how long (API seconds) after a create's answer was lost hsnap keeps looking for its image
#: before it concludes that nothing was made; a retried attempt waits as long for extras
LATE_ANSWER_S = 90.0
DELETE_ATTEMPTS = 3


def find_own(run: ServerRun, run_id: str) -> ImageRef | None:
    """The newest image this run made or started for this server (not a failed one), if any."""
    mine = run.cloud.find_images(run_selector(run.server.id, run_id))
    usable = [i for i in mine if i.status != "unavailable"]
    return max(usable, key=lambda i: i.id) if usable else None


def await_late_create(run: ServerRun, run_id: str, since: float) -> ImageRef | None:
    """Look for this run's image until ``LATE_ANSWER_S`` after ``since`` (a lost answer)."""
    deadline = Deadline(run.cloud.clock, LATE_ANSWER_S - (run.cloud.clock.now() - since))
    interval = FIRST_POLL_S
    while True:
        found = find_own(run, run_id)
        if found is not None or deadline.expired():
            return found
        deadline.sleep(interval)
        interval = min(interval * 1.5, MAX_POLL_S)


def own_action(run: ServerRun, image: ImageRef) -> ActionRef | None:
    """The running create_image action that makes ``image``, if it still runs."""
    if image.status != "creating":
        return None
    for action in run.cloud.running_actions(run.server.id):
        if action.command == "create_image" and (image.id, "image") in action.resources:
            return action
    return None


def drop_extras(
    run: ServerRun, run_id: str, keep: ImageRef, since: float, timeout_s: float
) -> list[int]:
    """Delete this run's other images of this server (late creates); the ids deleted.

    Waits first until a create lost at ``since`` (or before it: the start of a retried attempt)
    has had ``LATE_ANSWER_S`` to land, and for each extra image to finish (an image still
    creating cannot be deleted). Never raises: the kept snapshot exists; an extra that cannot be
    removed is logged.
    """
    clock = run.cloud.clock
    clock.sleep(LATE_ANSWER_S - (clock.now() - since))  # nothing if long past
    deleted: list[int] = []
    try:
        mine = run.cloud.find_images(run_selector(run.server.id, run_id))
        for extra in (i for i in mine if i.id != keep.id and not i.protected):
            _delete_when_done(run, extra, Deadline(clock, timeout_s))
            deleted.append(extra.id)
    except HsnapError as exc:
        run.log.warning(
            "%s (id %s): could not remove an extra snapshot of this run: %s; delete it by hand "
            "(labels hsnap/flow-run=%s)",
            run.name,
            run.server.id,
            exc,
            run_id,
        )
    return deleted


def _delete_when_done(run: ServerRun, image: ImageRef, deadline: Deadline) -> None:
    interval = FIRST_POLL_S
    failures = 0
    while True:
        try:
            if run.cloud.get_image(image.id).status != "creating":
                run.cloud.delete_image(image.id)
                run.log.warning(
                    "%s (id %s): removed image %s, a second snapshot of this run made by a "
                    "create whose answer was lost",
                    run.name,
                    run.server.id,
                    image.id,
                )
                return
        except GoneError:
            return
        except LockedError:
            pass  # it started creating again or is busy: wait as for creating
        except HsnapError:
            failures += 1
            if failures >= DELETE_ATTEMPTS:
                raise
        if deadline.expired():
            raise LockedError(f"image {image.id} still creating; not removed", code="locked")
        deadline.sleep(interval)
        interval = min(interval * 1.5, MAX_POLL_S)
