"""Mark a run Crashed when its worker dies with it (a killed worker, a lost machine).

A process worker reports its flow run Crashed when the run's process dies under it; when the
worker dies too, nobody is left to report, and the run would show Running forever (and its
fleet would wait on it). Every flow run sends a heartbeat event every
``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` seconds (180 by default); this automation (Prefect's
documented zombie detection, limited to hsnap's flows) marks a run Crashed when three heartbeats
in a row are missing. Give setup and the workers the same heartbeat setting.
"""

from __future__ import annotations

from datetime import timedelta

from hsnap.deployment.notify import ensure_automation
from hsnap.deployment.setup import SetupStep

AUTOMATION_NAME = "hsnap: crash runs whose worker died"
HSNAP_FLOWS = [
    "snapshot-servers",
    "snapshot-fleet",
    "prune-snapshots",
    "recover-servers",
    "restore-server",
    "verify-snapshots",
]
MISSED_BEATS = 3


def ensure_crash_detection() -> SetupStep:
    """The automation exists, its silence window set from this machine's heartbeat setting."""
    from prefect.automations import Automation, EventTrigger, Posture  # noqa: PLC0415
    from prefect.client.schemas.objects import StateType  # noqa: PLC0415
    from prefect.events.actions import ChangeFlowRunState  # noqa: PLC0415
    from prefect.settings import get_current_settings  # noqa: PLC0415

    beat_s = get_current_settings().flows.heartbeat_frequency or 180
    automation = Automation(
        name=AUTOMATION_NAME,
        description=(
            "Marks an hsnap flow run Crashed when it sent no heartbeat for "
            f"{MISSED_BEATS * beat_s} s (its worker died with it)."
        ),
        enabled=True,
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={
                "prefect.flow-run.heartbeat",
                "prefect.flow-run.Completed",
                "prefect.flow-run.Failed",
                "prefect.flow-run.Cancelled",
                "prefect.flow-run.Crashed",
            },
            match={"prefect.resource.id": ["prefect.flow-run.*"]},
            match_related={"prefect.resource.role": "flow", "prefect.resource.name": HSNAP_FLOWS},
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=MISSED_BEATS * beat_s),
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                name=None,
                force=False,
                message=f"no heartbeat for {MISSED_BEATS * beat_s} s: its worker died",
            )
        ],
    )
    return ensure_automation(automation, "crash watch")
