"""Proactive alerts on a real Prefect server: windows of seconds here, of hours in production.

``hsnap setup`` runs with HSNAP_MISSED_RUN_HOURS and HSNAP_RPO_HOURS set to a few seconds. No
nightly run happens in this module (its schedule is at 02:30 Berlin), so the missed-run alert must
come on its own; an on-demand run snapshots two servers, and each of them must then be reported
stale, in its own message, once a window has passed without a newer snapshot.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from hsnap.deployment.alerts import MISSED_RUN_NAME, STALE_SERVER_NAME
from hsnap.deployment.trigger import trigger_snapshot
from tests.e2e.conftest import REPO, Stack, running_stack, wait_until
from tests.flows.events_api import flow_run_events

MISSED_RUN_S = 12.0
RPO_S = 15.0
ALERT_TIMEOUT_S = 120.0


@pytest.fixture(scope="module")
def alert_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    windows = {
        "HSNAP_MISSED_RUN_HOURS": f"{MISSED_RUN_S / 3600:.6f}",
        "HSNAP_RPO_HOURS": f"{RPO_S / 3600:.6f}",
    }
    with running_stack(tmp_path_factory.mktemp("prefect-home"), windows) as stack:
        yield stack


def alerts(stack: Stack, kind: str) -> list[tuple[dict[str, Any], float]]:
    """The webhook bodies of one alert kind, with the time each arrived."""
    bodies = list(zip(stack.webhook.received, stack.webhook.received_at, strict=False))
    return [(body, at) for body, at in bodies if body.get("alert") == kind]


def test_setup_creates_the_alerts_once(alert_stack: Stack) -> None:
    first = " ".join(alert_stack.first_setup.stdout.split())  # type: ignore[attr-defined]
    assert "created automation 'hsnap: nightly run missed'" in first
    assert "created automation 'hsnap: server snapshot stale'" in first

    again = alert_stack.run(
        "setup", "--token-stdin", "--project-dir", str(REPO), stdin="sim-token\n"
    )

    assert again.returncode == 0, again.stderr
    text = " ".join(again.stdout.split())  # the console wraps long lines
    assert "automation 'hsnap: nightly run missed' already set up" in text
    assert "automation 'hsnap: server snapshot stale' already set up" in text


def test_no_completed_nightly_run_within_the_window_calls_the_webhook(alert_stack: Stack) -> None:
    found = wait_until(
        lambda: alerts(alert_stack, "missed-run"), "the missed-run alert", ALERT_TIMEOUT_S
    )

    body, _ = found[0]
    assert body["deployment"] == "snapshot-servers/nightly"
    assert (
        "deployment snapshot-servers/nightly had no Completed run in the last 12 s"
        in (body["text"])
    )


def test_each_server_without_a_newer_snapshot_gets_its_own_stale_alert(alert_stack: Stack) -> None:
    run = trigger_snapshot({"servers": ["web-1", "web-2"]}, wait=True, timeout=ALERT_TIMEOUT_S)
    assert run.succeeded, run.message
    ids = {r["server"]: r["id"] for r in run.rows}

    def both() -> dict[str, tuple[dict[str, Any], float]]:
        by_server = {body["server"]: (body, at) for body, at in alerts(alert_stack, "stale-server")}
        return by_server if len(by_server) >= 2 else {}

    by_server = wait_until(both, "a stale-server alert for each server", ALERT_TIMEOUT_S)

    assert set(by_server) == {"web-1", "web-2"}  # servers never snapshotted have no window yet
    for name, (body, at) in by_server.items():
        assert body["resource"] == f"hcloud.server.{ids[name]}"
        assert f"server {name} (hcloud.server.{ids[name]}) has had no new snapshot" in body["text"]
        last = datetime.fromisoformat(body["text"].rsplit(" at ", 1)[1]).timestamp()
        assert at - last >= RPO_S - 1, "alerted before the window ended"


def test_a_nonsense_window_fails_setup_with_exit_2_and_changes_nothing(alert_stack: Stack) -> None:
    from prefect.automations import Automation  # noqa: PLC0415 -- after the stack's settings

    before = Automation.read(name=STALE_SERVER_NAME)
    answer = subprocess.run(
        [sys.executable, "-m", "hsnap.cli", "setup", "--token-stdin", "--project-dir", str(REPO)],
        input="sim-token\n",
        env={**alert_stack.env, "HSNAP_RPO_HOURS": "soon"},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert answer.returncode == 2, answer.stdout + answer.stderr
    assert "HSNAP_RPO_HOURS='soon': use a number of hours" in " ".join(answer.stderr.split())
    assert "Traceback" not in answer.stderr
    assert Automation.read(name=STALE_SERVER_NAME).trigger == before.trigger


@pytest.mark.usefixtures("alert_stack")
def test_a_completed_nightly_run_is_what_the_missed_run_alert_waits_for() -> None:
    """The real Completed events of a nightly and an on-demand run, judged by Prefect's own rule.

    Last in this module: the nightly run's server gets a stale-server window of its own.
    """
    from prefect.automations import Automation  # noqa: PLC0415 -- after the stack's settings
    from prefect.server.events.schemas.automations import EventTrigger  # noqa: PLC0415
    from prefect.server.events.schemas.events import ReceivedEvent  # noqa: PLC0415

    rule = EventTrigger.model_validate(Automation.read(name=MISSED_RUN_NAME).trigger.model_dump())
    nightly = trigger_snapshot(
        {"servers": ["web-3"]}, deployment="snapshot-servers/nightly", timeout=ALERT_TIMEOUT_S
    )
    on_demand = trigger_snapshot({"servers": ["web-3"]}, timeout=ALERT_TIMEOUT_S)
    assert nightly.succeeded, nightly.message
    assert on_demand.succeeded, on_demand.message

    def completed(flow_run_id: str) -> Any:
        found = wait_until(
            lambda: flow_run_events(flow_run_id, "prefect.flow-run.Completed"),
            f"the Completed event of flow run {flow_run_id}",
            ALERT_TIMEOUT_S,
        )
        return ReceivedEvent.model_validate(found[0].model_dump())

    assert rule.covers(completed(nightly.flow_run_id))
    assert not rule.covers(completed(on_demand.flow_run_id))
