"""Recovery: power on, all at once, the servers an interrupted consistent run left off.

A consistent run marks a server ``hsnap/restart=<run id>`` before it shuts it down and removes the
mark once the server runs again. A mark that outlives its run means the run died in between. Every
marked server is handled in its own thread (the project's request governor keeps them all within
the rate budget, and the shared action watcher batches their waits), so the time a server stays
off after a crash does not grow with the number of servers.

A run that Prefect still shows as active may be alive, or may have been killed where nobody could
report it (``hsnap run`` killed, a reboot). Its server is taken over when the run has visibly let
go of it: the server is off and idle for ``ABANDONED_AFTER_S``, or the run's own ``create_image``
on it has just ended (the run, if alive, would power it on at that moment too).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Literal

from hsnap.clock import Deadline
from hsnap.cloud.waiting import FIRST_POLL_S, MAX_POLL_S, ServerRun, fmt
from hsnap.errors import GoneError, HsnapError
from hsnap.models import ActionRef, ServerRef, SnapshotOutcome
from hsnap.policy import RESTART_LABEL, RUN_LABEL
from hsnap.snapshot.power import power_on

RecoveryResult = Literal["restarted", "unmarked", "skipped", "failed", "gone", "deleted"]
#: how long a server must stay off, unlocked and marked by a run Prefect still shows as active
#: before recovery takes it over: a live run is never idle that long with its server off (it
#: snapshots or powers on), while a killed local process never reports its end to Prefect
ABANDONED_AFTER_S = 180.0
#: servers recovered at the same time; the governor spaces their requests within the budget
MAX_PARALLEL = 50


@dataclass(frozen=True)
class Recovery:
    server: str
    server_id: int
    run_id: str
    result: RecoveryResult
    detail: str = ""


def recover(
    cloud_run: Callable[[ServerRef], ServerRun],
    marked: list[ServerRef],
    is_active: Callable[[str], bool],
    timeout_s: float,
) -> list[Recovery]:
    """Power on (and unmark) servers an interrupted run left marked, all at the same time.

    Args:
        cloud_run: builds the per-server context (client, logger) for one marked server.
        marked: the servers carrying the restart label.
        is_active: whether Prefect still shows a run as active (it may restore its own server).
        timeout_s: how long each server may take, waits for its run included.

    Returns:
        One row per marked server, in the order given.
    """
    if not marked:
        return []

    def one(server: ServerRef) -> Recovery:
        return _recover_one(cloud_run(server), is_active, timeout_s)

    with ThreadPoolExecutor(min(len(marked), MAX_PARALLEL), "hsnap-recover") as pool:
        return list(pool.map(one, marked))


def _recover_one(run: ServerRun, is_active: Callable[[str], bool], timeout_s: float) -> Recovery:
    server = run.server
    run_id = server.labels.get(RESTART_LABEL, "")
    deadline = Deadline(run.cloud.clock, timeout_s)
    try:
        if is_active(run_id) and not _abandoned(run, run_id, deadline):
            return Recovery(server.name, server.id, run_id, "skipped", "its run is active")
        was = run.cloud.get_server(server.id).status
        run.log.warning(
            "%s (id %s): marked for restart by run %s and %s: restoring power",
            server.name,
            server.id,
            run_id,
            was,
        )
        power_on(run, deadline)
    except GoneError:
        return Recovery(server.name, server.id, run_id, "gone")
    except HsnapError as exc:
        return Recovery(server.name, server.id, run_id, "failed", str(exc))
    result: RecoveryResult = "unmarked" if was == "running" else "restarted"
    return Recovery(server.name, server.id, run_id, result, f"was {was}")


def _abandoned(run: ServerRun, run_id: str, deadline: Deadline) -> bool:
    """Whether a run Prefect shows as active has let go of its server (see the module doc).

    Waits while the server is between states (stopping, starting) or the run's own snapshot of it
    runs; False as soon as the server runs, is marked by someone else, or is busy with an action
    that is not the run's snapshot (the run is alive and at work).
    """
    cloud, server_id = run.cloud, run.server.id
    idle_since: float | None = None
    interval = FIRST_POLL_S
    try:
        while not deadline.expired():
            server = cloud.get_server(server_id)
            if server.status == "running" or server.labels.get(RESTART_LABEL) != run_id:
                return False
            if server.status != "off":  # stopping (the guest is going down), starting...
                idle_since = None
            elif holders := cloud.running_actions(server_id):
                snapshot = _own_snapshot(run, run_id, holders)
                if snapshot is None:
                    return False
                return _snapshot_ended(run, run_id, snapshot, deadline)
            elif idle_since is None:
                idle_since = cloud.clock.now()
            elif cloud.clock.now() - idle_since >= ABANDONED_AFTER_S:
                run.log.warning(
                    "%s (id %s): run %s still shows as active but left the server off and idle "
                    "for %s (killed?): taking over",
                    run.name,
                    server_id,
                    run_id,
                    fmt(cloud.clock.now() - idle_since),
                )
                return True
            deadline.sleep(interval)
            interval = min(interval * 1.5, MAX_POLL_S)
    except HsnapError:
        return False  # not sure: leave it to its run (power_on reports a server that is gone)
    return False


def _own_snapshot(run: ServerRun, run_id: str, holders: list[ActionRef]) -> ActionRef | None:
    """The running create_image among ``holders`` whose image carries ``run_id``'s label."""
    for action in holders:
        if action.command != "create_image":
            continue
        images = [rid for rid, kind in action.resources if kind == "image"]
        if any(run.cloud.get_image(i).labels.get(RUN_LABEL) == run_id for i in images):
            return action
    return None


def _snapshot_ended(run: ServerRun, run_id: str, action: ActionRef, deadline: Deadline) -> bool:
    run.log.warning(
        "%s (id %s): off and marked by run %s, whose snapshot (action %s) still runs: "
        "powering it on as soon as that ends",
        run.name,
        run.server.id,
        run_id,
        action.id,
    )
    return run.cloud.watcher.wait(action.id, deadline) is not None


def still_off(outcomes: list[SnapshotOutcome], results: list[Recovery]) -> list[SnapshotOutcome]:
    """The run's rows once the after-run check is in: a server still off fails the run, named.

    ``results`` come from recovering the marked servers that do not run after the snapshots:
    servers this run or an earlier one shut down. Those that still do not run become ``left-off``
    rows (replacing their row if this run snapshotted them, else added).
    """
    off = {r.server_id: r for r in results if r.result in ("failed", "skipped")}
    rows = [
        _left_off(o.server, o.server_id, off[o.server_id], o) if o.server_id in off else o
        for o in outcomes
    ]
    seen = {o.server_id for o in outcomes}
    rows += [_left_off(r.server, r.server_id, r, None) for i, r in off.items() if i not in seen]
    return rows


def _left_off(
    name: str, server_id: int, result: Recovery, row: SnapshotOutcome | None
) -> SnapshotOutcome:
    why = f"run {result.run_id} shut it down; {result.detail or result.result}"
    error = f"LEFT OFF: not running after the run ({why}); start it by hand or run hsnap recover"
    if row is None:
        row = SnapshotOutcome(server=name, server_id=server_id, status="left-off", attempts=0)
    elif row.error:
        error = f"{row.error} / {error}"
    return replace(row, status="left-off", error_code="left_off", error=error, running_again=False)


def unchecked(error: str) -> SnapshotOutcome:
    """The row that fails a run whose after-run power check could not be made."""
    return SnapshotOutcome(
        server="(power check)",
        server_id=None,
        status="failed",
        attempts=0,
        error_code="power_check",
        error=f"could not check that every server hsnap shut down runs again: {error}",
    )
