"""Bringing a created or rebuilt server up, and making a server go away: waits with deadlines."""

from __future__ import annotations

from collections.abc import Callable

from hsnap.clock import Deadline
from hsnap.cloud.waiting import FIRST_POLL_S, MAX_POLL_S, ServerRun, fmt, start_unlocked
from hsnap.errors import GoneError, PermanentError, TransientError
from hsnap.models import ActionRef


def wait_running(run: ServerRun, action: ActionRef, deadline: Deadline, what: str) -> None:
    """Wait for the create/rebuild ``action``, then until the server is ``running``.

    Raises PermanentError (code ``boot_failed`` or ``boot_timeout``) naming what was seen.
    """
    cloud, server_id = run.cloud, run.server.id
    final = cloud.watcher.wait(action.id, deadline)
    if final is None:
        raise PermanentError(
            f"did not boot: its {what} action {action.id} still runs after "
            f"{fmt(deadline.elapsed())}",
            code="boot_timeout",
        )
    if final.status == "error":
        raise PermanentError(
            f"did not boot: the {what} action {action.id} failed: {final.error_message} "
            f"({final.error_code})",
            code="boot_failed",
        )
    seen: list[str] = []

    def running() -> bool:
        seen.append(cloud.get_server(server_id).status)
        return seen[-1] == "running"

    if not poll_until(running, deadline, FIRST_POLL_S):
        raise PermanentError(
            f"did not boot: still {seen[-1]} {fmt(deadline.elapsed())} after the {what}",
            code="boot_timeout",
        )


def delete_and_confirm(run: ServerRun, deadline: Deadline) -> None:
    """Delete the server (waiting out its locks) and poll until the API no longer knows it."""
    cloud, server_id = run.cloud, run.server.id
    pause = FIRST_POLL_S
    while True:
        try:
            start_unlocked(
                run,
                deadline,
                lambda: cloud.delete_server(server_id),
                "the server was not deleted",
                "a longer delete wait",
            )
            break
        except GoneError:
            return
        except TransientError as exc:  # a throwaway server must not stay because of a 503
            if deadline.expired():
                raise
            run.log.warning("deleting server %s: %s; trying again", server_id, exc)
            deadline.sleep(pause)
            pause = min(pause * 1.5, MAX_POLL_S)

    def gone() -> bool:
        try:
            cloud.get_server(server_id)
        except GoneError:
            return True
        return False

    if not poll_until(gone, deadline, FIRST_POLL_S / 2):
        raise PermanentError(
            f"server {server_id} still exists {fmt(deadline.elapsed())} after its delete",
            code="delete_timeout",
        )


def poll_until(done: Callable[[], bool], deadline: Deadline, first_s: float) -> bool:
    """Call ``done()`` with growing pauses until it is true (True) or the deadline (False)."""
    interval = first_s
    while True:
        if done():
            return True
        if deadline.expired():
            return False
        deadline.sleep(interval)
        interval = min(interval * 1.5, MAX_POLL_S)
