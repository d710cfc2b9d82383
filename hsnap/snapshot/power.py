"""Consistent snapshots: shut the guest down, and always bring it back.

Before anything changes the power state, the server gets the label ``hsnap/restart=<run id>``. The
snapshot procedure calls ``restore()`` on every path after a shutdown (success, snapshot error,
timeouts, transient errors before a Prefect retry); if the process dies in between, the label
stays, and the next run (or ``hsnap recover``) finds the server and powers it on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hsnap.clock import Deadline
from hsnap.cloud.waiting import (
    FIRST_POLL_S,
    MAX_POLL_S,
    ServerRun,
    fmt,
    start_unlocked,
    wait_action,
)
from hsnap.errors import GoneError, HsnapError, LockedError, PermanentError
from hsnap.models import ActionRef, ServerRef
from hsnap.policy import RESTART_LABEL

NO_SNAPSHOT = "the server was not shut down and no snapshot was made"


@dataclass
class PowerGuard:
    """Shuts one server down for its snapshot and restores its power afterwards."""

    run: ServerRun
    run_id: str
    force: bool
    lock_timeout_s: float
    shutdown_timeout_s: float
    poweron_timeout_s: float
    was_running: bool = False
    shut_down: bool = False
    off_since: float | None = None
    off_s: float = 0.0
    running_again: bool | None = None
    left_off: str | None = None
    #: a shutdown/poweroff was sent (maybe: its answer can be lost) and no wait for ``off`` ended
    off_pending: bool = False
    notes: list[str] = field(default_factory=list)

    def shut_down_server(self) -> None:
        """Mark, then ACPI shutdown and wait for ``off``; force it off only if allowed."""
        cloud, server_id = self.run.cloud, self.run.server.id
        server = self._settled(cloud.get_server(server_id))
        earlier = server.labels.get(RESTART_LABEL)
        if server.status != "running" and earlier is None:
            self.run.say("creating", "server is %s: snapshotting it as it is", server.status)
            return
        self.was_running = True  # a mark says an earlier run shut it down: it was running
        cloud.set_labels(server_id, {**server.labels, RESTART_LABEL: self.run_id})
        if server.status == "running":
            self._send("shutdown", Deadline(cloud.clock, self.lock_timeout_s))
        else:
            self.run.say(
                "stopping",
                "left %s by run %s: taking it over (powered on after the snapshot)",
                server.status,
                earlier,
            )
        self.shut_down = True
        if self._wait_status("off", self.shutdown_timeout_s):
            return
        if not self.force:
            raise PermanentError(
                f"the guest did not power off within {fmt(self.shutdown_timeout_s)} of the ACPI "
                "shutdown (does it ignore ACPI?); no snapshot was made. Allow forcing "
                "(force_poweroff / --force-poweroff) or fix the guest's shutdown handling",
                code="shutdown_timeout",
            )
        self.run.say("stopping", "ACPI shutdown ignored; forcing power off")
        self.notes.append("forced off")
        self._send("poweroff", Deadline(cloud.clock, self.lock_timeout_s))
        if not self._wait_status("off", self.shutdown_timeout_s):
            raise PermanentError("still not off after a forced power off", code="poweroff_timeout")

    def _settled(self, server: ServerRef) -> ServerRef:
        """The server once it is running or off (an earlier run's shutdown may be under way)."""
        deadline = Deadline(self.run.cloud.clock, self.shutdown_timeout_s)
        interval = FIRST_POLL_S
        while server.status not in ("running", "off") and not deadline.expired():
            deadline.sleep(interval)
            interval = min(interval * 1.5, MAX_POLL_S)
            server = self.run.cloud.get_server(server.id)
        return server

    def _send(self, verb: str, deadline: Deadline) -> None:
        cloud, server_id = self.run.cloud, self.run.server.id

        def send() -> ActionRef:
            self.off_pending = True  # the API may carry it out whatever reaches us (or not)
            try:
                return cloud.power(server_id, verb)
            except LockedError:
                self.off_pending = False  # a 423 was not carried out
                raise

        action = start_unlocked(
            self.run,
            deadline,
            send,
            NO_SNAPSHOT,
            "lock_wait_minutes / --lock-wait-minutes",
        )
        self.run.say("stopping", "%s sent (action %s)", verb, action.id)
        wait_action(self.run, action, Deadline(cloud.clock, self.shutdown_timeout_s), verb)

    def _wait_status(self, wanted: str, seconds: float) -> bool:
        """Poll the server's status until it is ``wanted``; False at the deadline."""
        cloud = self.run.cloud
        deadline = Deadline(cloud.clock, seconds)
        interval = FIRST_POLL_S
        while True:
            status = cloud.get_server(self.run.server.id).status
            if status == wanted or deadline.expired():
                self.off_pending = False
            if status == wanted:
                if wanted == "off":
                    self.off_since = cloud.clock.now()
                    self.run.say("stopping", "server is off")
                return True
            if deadline.expired():
                return False
            deadline.sleep(interval)
            interval = min(interval * 1.5, MAX_POLL_S)

    def restore(self) -> None:
        """Power the server on again if it was running before; never raises an hsnap error."""
        if not self.was_running:
            return
        cloud = self.run.cloud
        try:
            if self.off_pending:
                self._await_pending_off()
            never_off = self.shut_down and self.off_since is None  # ACPI sent, guest not off yet
            power_on(self.run, Deadline(cloud.clock, self.poweron_timeout_s), keep_mark=never_off)
        except GoneError:
            self.running_again = None
            return
        except HsnapError as exc:
            self.running_again = False
            self.left_off = (
                f"LEFT OFF: could not power the server on again ({exc}); start it by hand "
                "or run hsnap recover"
            )
            self.run.log.error("%s (id %s): %s", self.run.name, self.run.server.id, self.left_off)  # noqa: TRY400 -- the message is the alert
            return
        finally:
            if self.off_since is not None:
                self.off_s = cloud.clock.now() - self.off_since
        self.running_again = True

    def _await_pending_off(self) -> None:
        """The guest may still be going down (the answer to a shutdown was lost): let it get
        ``off`` first, or power on would find it running and it would go off after we left."""
        try:
            if self._wait_status("off", self.shutdown_timeout_s):
                self.shut_down = True
        except HsnapError as exc:  # power_on reads (and retries) on its own
            self.run.log.warning("%s (id %s): %s", self.run.name, self.run.server.id, exc)


def power_on(run: ServerRun, deadline: Deadline, *, keep_mark: bool = False) -> None:
    """Bring the server to ``running`` (waiting out locks and transient errors); then unmark it.

    ``keep_mark`` leaves the restart label on: the guest got a shutdown it may still act on.
    """
    cloud, server_id = run.cloud, run.server.id
    interval = FIRST_POLL_S
    last_error: HsnapError | None = None
    halted = False  # seen off: the guest acted on any shutdown it got, the mark can go
    while True:
        try:
            server = cloud.get_server(server_id)
            if server.status == "running":
                break
            if server.status == "off":
                halted = True
                action = start_unlocked(
                    run,
                    deadline,
                    lambda: cloud.power(server_id, "poweron"),
                    "the server is still off",
                    "a longer power-on wait",
                )
                run.say("creating", "power on sent (action %s)", action.id)
                wait_action(run, action, deadline, "poweron")
                continue
        except GoneError:
            raise
        except HsnapError as exc:  # transient errors, a failed poweron action: try again
            last_error = exc
            run.log.warning("%s (id %s): power on: %s", run.name, server_id, exc)
        if deadline.expired():
            raise PermanentError(
                f"not running after {fmt(deadline.elapsed())}"
                + (f" (last error: {last_error})" if last_error else ""),
                code="left_off",
            )
        deadline.sleep(interval)
        interval = min(interval * 1.5, MAX_POLL_S)
    run.say("creating", "server is running again")
    if keep_mark and not halted:
        run.log.warning(
            "%s (id %s): the guest got the ACPI shutdown but was never seen off; keeping the "
            "%s label so that a later run (or hsnap recover) powers it on if it stops late",
            run.name,
            server_id,
            RESTART_LABEL,
        )
        return
    labels = cloud.get_server(server_id).labels
    if RESTART_LABEL in labels:
        cloud.set_labels(server_id, {k: v for k, v in labels.items() if k != RESTART_LABEL})
