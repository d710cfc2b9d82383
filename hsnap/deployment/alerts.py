"""hsnap's alerts: six Prefect automations, each sending through every notification block given.

- run failed: a run of an hsnap flow other than the drill ends Failed (reactive, per run);
- run crashed: a run of any hsnap flow ends Crashed (reactive, per run);
- nightly run missed: ``snapshot-servers/nightly`` has no Completed run within the window after
  its last one, or after setup (proactive, once per incident);
- server snapshot stale: a server has no ``hsnap.snapshot.succeeded`` within the RPO after its
  last one (proactive, per server, once per incident);
- drill failed: a ``verify-snapshots`` run ends Failed, naming the snapshots that did not boot
  (reactive, per run);
- server left powered off: an ``hsnap.server.left-off`` event (reactive, per server and run).

Without a block the automations still exist and fire: Prefect records each firing as a
``prefect.automation.triggered`` event (the UI's Event Feed and automation page show it), which
``hsnap health`` reads back. Proactive alerts wait for an event that opens their window (``after``)
and fire once when it closes empty; the next expected event opens a new window. Setup opens the
missed-run window itself with an ``hsnap.watch.started`` event, so a nightly run that never
happened is reported too.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hsnap.deployment import messages
from hsnap.deployment.crashes import HSNAP_FLOWS
from hsnap.deployment.messages import Message
from hsnap.deployment.notify import NotifyTarget, ensure_automation, remove_automation
from hsnap.deployment.setup import SetupStep
from hsnap.deployment.windows import AlertWindows, describe

SNAPSHOT_FLOW = "snapshot-servers"
DRILL_FLOW = "verify-snapshots"
NIGHTLY = "nightly"
NIGHTLY_DEPLOYMENT = f"{SNAPSHOT_FLOW}/{NIGHTLY}"
WATCH_EVENT = "hsnap.watch.started"

FAILED_RUN_NAME = "hsnap: run failed"
CRASHED_RUN_NAME = "hsnap: run crashed"
MISSED_RUN_NAME = "hsnap: nightly run missed"
STALE_SERVER_NAME = "hsnap: server snapshot stale"
DRILL_FAILED_NAME = "hsnap: restore drill failed"
LEFT_OFF_NAME = "hsnap: server left powered off"
#: alert kind (as ``hsnap health`` names it) by automation name
ALERTS = {
    FAILED_RUN_NAME: "failed-run",
    CRASHED_RUN_NAME: "crashed-run",
    MISSED_RUN_NAME: "missed-run",
    STALE_SERVER_NAME: "stale-server",
    DRILL_FAILED_NAME: "drill-failed",
    LEFT_OFF_NAME: "left-off",
}
#: automations older hsnap versions made, replaced by the ones above
LEGACY = ["hsnap: snapshot run failed"]
#: every hsnap flow whose failure is a failed run (a drill's failure has its own alert)
FAILED_RUN_FLOWS = [f for f in [*HSNAP_FLOWS, "audit-snapshots"] if f != DRILL_FLOW]


def _actions(message: Message, targets: list[NotifyTarget]) -> list[Any]:
    from prefect.events.actions import SendNotification  # noqa: PLC0415

    return [
        SendNotification(
            block_document_id=t.block_document_id, subject=message.subject, body=message.body
        )
        for t in targets
    ]


def _automation(
    name: str,
    description: str,
    message: Message,
    targets: list[NotifyTarget],
    window: timedelta | None = None,
    **trigger: Any,
) -> Any:
    """A reactive automation, or a proactive one when an expected event has a ``window``."""
    from prefect.automations import Automation, EventTrigger, Posture  # noqa: PLC0415

    where = ", ".join(t.name for t in targets) or "no block: see the Event Feed and hsnap health"
    return Automation(
        name=name,
        description=f"{description} Sends to: {where}.",
        enabled=True,
        trigger=EventTrigger(
            posture=Posture.Reactive if window is None else Posture.Proactive,
            threshold=1,
            within=window or timedelta(0),
            **trigger,
        ),
        actions=_actions(message, targets),
    )


def _run_ended(state: str, flows: list[str]) -> dict[str, Any]:
    return {
        "match": {"prefect.resource.id": "prefect.flow-run.*"},
        "match_related": {"prefect.resource.role": "flow", "prefect.resource.name": flows},
        "expect": {f"prefect.flow-run.{state}"},
    }


def automations(targets: list[NotifyTarget], windows: AlertWindows) -> list[Any]:
    """The six alert automations, each sending through every block of ``targets``."""
    succeeded = "hsnap.snapshot.succeeded"
    completed = "prefect.flow-run.Completed"
    return [
        _automation(
            FAILED_RUN_NAME,
            "An hsnap run (snapshot, fleet, audit, prune, recover, restore) ended Failed.",
            messages.failed_run(),
            targets,
            **_run_ended("Failed", FAILED_RUN_FLOWS),
        ),
        _automation(
            CRASHED_RUN_NAME,
            "An hsnap run ended Crashed (its process or worker died).",
            messages.crashed_run(),
            targets,
            **_run_ended("Crashed", [*HSNAP_FLOWS, "audit-snapshots"]),
        ),
        _automation(
            MISSED_RUN_NAME,
            f"{NIGHTLY_DEPLOYMENT} had no Completed run within {describe(windows.missed_run)}.",
            messages.missed_run(NIGHTLY_DEPLOYMENT, windows.missed_run),
            targets,
            window=windows.missed_run,
            match={"prefect.resource.id": ["prefect.flow-run.*", "hsnap.watch.*"]},
            match_related=[
                {"prefect.resource.role": "flow", "prefect.resource.name": SNAPSHOT_FLOW},
                {"prefect.resource.role": "deployment", "prefect.resource.name": NIGHTLY},
            ],
            after={completed, WATCH_EVENT},  # each opens a window ...
            expect={completed},  # ... which the next Completed run closes in time
        ),
        _automation(
            STALE_SERVER_NAME,
            f"A server's last snapshot is older than {describe(windows.stale_server)}.",
            messages.stale_server(windows.stale_server),
            targets,
            window=windows.stale_server,
            match={"prefect.resource.id": "hcloud.server.*"},
            after={succeeded},
            expect={succeeded},
            for_each={"prefect.resource.id"},
        ),
        _automation(
            DRILL_FAILED_NAME,
            "A restore drill found snapshots that do not boot (or could not run).",
            messages.drill_failed(),
            targets,
            **_run_ended("Failed", [DRILL_FLOW]),
        ),
        _automation(
            LEFT_OFF_NAME,
            "hsnap shut a server down for a consistent snapshot and could not start it again.",
            messages.left_off(),
            targets,
            match={"prefect.resource.id": "hcloud.server.*"},
            expect={"hsnap.server.left-off"},
        ),
    ]


def ensure_alerts(targets: list[NotifyTarget], windows: AlertWindows) -> list[SetupStep]:
    """Every alert automation exists as configured; older hsnap alerts are removed."""
    steps = [step for name in LEGACY if (step := remove_automation(name)) is not None]
    for automation in automations(targets, windows):
        step = ensure_automation(automation, ALERTS[automation.name])
        steps.append(step)
        if automation.name == MISSED_RUN_NAME and step.changed:
            start_missed_run_watch()
    return steps


def start_missed_run_watch() -> None:
    """Open the missed-run window now, so a nightly run that never comes is reported too."""
    from prefect.client.orchestration import get_client  # noqa: PLC0415
    from prefect.events import emit_event  # noqa: PLC0415
    from prefect.events.worker import EventsWorker  # noqa: PLC0415
    from prefect.exceptions import ObjectNotFound  # noqa: PLC0415

    with get_client(sync_client=True) as client:
        try:
            deployment = client.read_deployment_by_name(NIGHTLY_DEPLOYMENT)
        except ObjectNotFound:
            return  # nothing to watch
    emit_event(
        WATCH_EVENT,
        resource={
            "prefect.resource.id": f"hsnap.watch.{deployment.id}",
            "prefect.resource.name": NIGHTLY_DEPLOYMENT,
        },
        related=[
            {
                "prefect.resource.id": f"prefect.flow.{deployment.flow_id}",
                "prefect.resource.role": "flow",
                "prefect.resource.name": SNAPSHOT_FLOW,
            },
            {
                "prefect.resource.id": f"prefect.deployment.{deployment.id}",
                "prefect.resource.role": "deployment",
                "prefect.resource.name": NIGHTLY,
            },
        ],
    )
    EventsWorker.drain_all(timeout=10)
