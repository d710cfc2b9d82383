"""hsnap's alerts on a real Prefect server, delivered through two notification blocks on loopback.

``hsnap setup --notify chat`` (a Mattermost block pointing at the receiver) runs with
HSNAP_NOTIFY_WEBHOOK set (a custom webhook block on the same receiver, another path), and with
windows of seconds: missed run MISSED_S, stale server RPO_S. Prefect evaluates proactive
automations every second here (its ``events.proactive_granularity``), the simulator runs 100x.

The first nightly run closes the window setup opened (no message); one incident of each kind
follows; the last test sees the night missed after that run told once and not again for a
further window, then counts each kind's messages per block: one per incident.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from prefect.events.filters import EventResourceFilter

from hsnap.deployment.alerts import ALERTS, MISSED_RUN_NAME, WATCH_EVENT
from hsnap.deployment.trigger import trigger_snapshot
from tests.conftest import said
from tests.e2e.conftest import REPO, Stack, free_port, run_hsnap, running_stack, wait_until
from tests.flows.events_api import stored_events

MISSED_S = 55.0
RPO_S = 20.0
TIMEOUT_S = 120.0
UI = "http://prefect-ui.test:4200"
CHAT_TOKEN = "chat-hook-1"
#: a phrase of each alert's subject, by kind
SUBJECTS = {
    "failed-run": "run failed (",
    "crashed-run": "run crashed (",
    "missed-run": "nightly snapshot run missed",
    "stale-server": "has no new snapshot",
    "drill-failed": "restore drill failed",
    "left-off": "left powered off",
}
marks: dict[str, Any] = {}  # what one test leaves for a later one (times, run names)


def make_chat_block(stack: Stack) -> None:
    from prefect.blocks.notifications import MattermostWebhook  # noqa: PLC0415

    port = int(stack.webhook.url.split(":")[2].split("/")[0])
    MattermostWebhook(
        hostname="127.0.0.1", port=port, token=CHAT_TOKEN, botname="hsnap", secure=False
    ).save("chat")


@pytest.fixture(scope="module")
def alert_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    windows = {
        "HSNAP_MISSED_RUN_HOURS": f"{MISSED_S / 3600:.6f}",
        "HSNAP_RPO_HOURS": f"{RPO_S / 3600:.6f}",
    }
    server = {
        "PREFECT_SERVER_EVENTS_PROACTIVE_GRANULARITY": "PT1S",
        "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL": "0.5",
        "PREFECT_UI_URL": UI,
    }
    home = tmp_path_factory.mktemp("prefect-home")
    with running_stack(
        home,
        windows,
        server_env=server,
        before_setup=make_chat_block,
        setup_args=("--notify", "chat"),
    ) as stack:
        yield stack


def messages(stack: Stack, kind: str, via: str) -> list[tuple[str, str, float]]:
    """(subject, body, arrival) of one alert kind, as one block delivered them."""
    found = []
    for body, path, at in zip(
        stack.webhook.received, stack.webhook.paths, stack.webhook.received_at, strict=False
    ):
        if via == "webhook" and path == "/hook":
            subject, text = body.get("subject", ""), body.get("body", "")
        elif via == "chat" and path == f"/hooks/{CHAT_TOKEN}":
            subject, _, text = body.get("text", "").partition("\r\n")
        else:
            continue
        if _kind(subject) == kind:
            found.append((subject, text, at))
    return found


def _kind(subject: str) -> str:
    return next((kind for kind, phrase in SUBJECTS.items() if phrase in subject), "?")


def both(stack: Stack, kind: str, wanted: int = 1) -> list[tuple[str, str, float]]:
    """The messages of ``kind`` once both blocks delivered ``wanted`` (the webhook's)."""

    def arrived() -> list[tuple[str, str, float]]:
        hook, chat = messages(stack, kind, "webhook"), messages(stack, kind, "chat")
        return hook if len(hook) >= wanted and len(chat) >= wanted else []

    return wait_until(arrived, f"{wanted} {kind} message(s) through both blocks", TIMEOUT_S)


def nightly() -> tuple[str, float]:
    """A nightly run of web-3 (Completed): its name and when it ended."""
    run = trigger_snapshot(
        {"servers": ["web-3"]}, deployment="snapshot-servers/nightly", timeout=TIMEOUT_S
    )
    assert run.succeeded, run.message
    return run.flow_run_name, time.time()


def test_a_nightly_run_closes_the_window_setup_opened(alert_stack: Stack) -> None:
    """First in the module: the run comes within MISSED_S of setup, so nothing is missed yet."""
    del alert_stack  # the run is what counts
    marks["first"] = nightly()


def watch_events() -> int:
    """How many ``hsnap.watch.started`` events the server holds that the missed-run rule takes."""
    from prefect.automations import Automation  # noqa: PLC0415
    from prefect.server.events.schemas.automations import EventTrigger  # noqa: PLC0415
    from prefect.server.events.schemas.events import ReceivedEvent  # noqa: PLC0415

    rule = EventTrigger.model_validate(Automation.read(name=MISSED_RUN_NAME).trigger.model_dump())
    found = stored_events(WATCH_EVENT, EventResourceFilter(id_prefix=["hsnap.watch."]))
    events = [ReceivedEvent.model_validate(e.model_dump()) for e in found]
    return sum(1 for e in events if rule.covers(e) and rule.starts_after(e.event))


def test_setup_creates_every_alert_once_sending_through_both_blocks(alert_stack: Stack) -> None:
    first = " ".join(alert_stack.first_setup.stdout.split())  # type: ignore[attr-defined]
    for name in ALERTS:
        assert f"created automation '{name}'" in first
    assert "Alerts go to: mattermost-webhook/chat, custom-webhook/hsnap-notify-webhook" in first

    again = alert_stack.run(
        "setup",
        "--token-stdin",
        "--project-dir",
        str(REPO),
        "--notify",
        "chat",
        stdin="sim-token\n",
    )
    unknown = alert_stack.run(
        "setup",
        "--token-stdin",
        "--project-dir",
        str(REPO),
        "--notify",
        "pager",
        stdin="sim-token\n",
    )

    assert again.returncode == 0, again.stderr
    text = " ".join(again.stdout.split())
    for name in ALERTS:
        assert f"automation '{name}' already set up" in text
    assert watch_events() == 1  # setup opened the missed-run window once, the rerun not again
    assert unknown.returncode == 2
    assert "--notify 'pager': no block of that name" in said(unknown.stderr)
    assert "Traceback" not in unknown.stderr


def test_a_failed_run_and_a_server_left_off_are_each_told_once(alert_stack: Stack) -> None:
    state = alert_stack.sim.state
    web_2, db_1 = state.server_by_name("web-2"), state.server_by_name("db-1")
    holder = state.lock_server(web_2.id, command="rebuild_server", duration=None)
    fault = state.add_fault(
        method="POST", path=f"/servers/{db_1.id}/actions/poweron", code="unavailable"
    )
    params = {
        "servers": ["web-2", "db-1"],
        "consistent": True,
        "lock_wait_minutes": 1,
        "poweron_wait_minutes": 2,
    }
    try:
        run = trigger_snapshot(params, wait=True, timeout=TIMEOUT_S)
    finally:
        state.finish_action(holder)
        state.project().faults.remove(fault.id or 0)
    assert run.state == "Failed", run.message
    marks["db-1 image"] = next(int(r["image id"]) for r in run.rows if r["server"] == "db-1")

    (failed,) = both(alert_stack, "failed-run")
    (off,) = both(alert_stack, "left-off")

    subject, body, _ = failed
    assert subject == "hsnap: snapshot-servers run failed (project default)"
    assert (
        f"snapshot-servers/on-demand run {run.flow_run_name} for project default ended Failed"
        in body
    )
    assert "web-2" in body
    assert body.endswith(f"{UI}/runs/flow-run/{run.flow_run_id}")
    subject, body, _ = off
    assert subject == "hsnap: server db-1 left powered off (project default)"
    assert f"server db-1 (id {db_1.id}) in project default" in body
    assert body.endswith(f"{UI}/runs/flow-run/{run.flow_run_id}")


def test_a_crashed_run_is_told_once(alert_stack: Stack) -> None:
    from prefect.client.orchestration import get_client  # noqa: PLC0415
    from prefect.deployments import run_deployment  # noqa: PLC0415
    from prefect.states import Crashed  # noqa: PLC0415

    # scheduled a day ahead, so no worker takes it; its worker "dies" as Prefect records it
    later = datetime.now(UTC) + timedelta(days=1)
    flow_run: Any = run_deployment("snapshot-servers/on-demand", timeout=0, scheduled_time=later)
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(
            UUID(str(flow_run.id)), Crashed(message="worker lost"), force=True
        )

    ((subject, body, _),) = both(alert_stack, "crashed-run")

    assert subject == "hsnap: snapshot-servers run crashed (project default)"
    assert f"run {flow_run.name} for project default crashed: worker lost" in body


def test_a_drill_whose_snapshot_does_not_boot_is_told_once_as_a_drill(alert_stack: Stack) -> None:
    alert_stack.sim.state.set_image_boot(marks["db-1 image"], "error")

    run = trigger_snapshot(
        {"servers": ["db-1"], "boot_wait_minutes": 10},
        deployment="verify-snapshots/weekly-drill",
        timeout=TIMEOUT_S,
    )

    assert run.state == "Failed", run.message
    ((subject, body, _),) = both(alert_stack, "drill-failed")
    assert subject == "hsnap: restore drill failed (project default)"
    assert f"db-1 (image {marks['db-1 image']})" in body
    assert run.flow_run_name not in "".join(
        b for _, b, _ in messages(alert_stack, "failed-run", "webhook")
    )


def test_health_shows_what_needs_a_person_and_exits_1(alert_stack: Stack) -> None:
    hours = {"HSNAP_MISSED_RUN_HOURS": "1", "HSNAP_RPO_HOURS": "1"}  # no clock race here
    answer = run_hsnap({**alert_stack.env, **hours}, "health", "--json")
    dead = run_hsnap(
        {**alert_stack.env, "PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api"}, "health"
    )

    assert answer.returncode == 1, answer.stdout + answer.stderr
    (default,) = json.loads(answer.stdout)["projects"]
    assert default["nightly"]["last_run"]["name"] == marks["first"][0]
    assert default["nightly"]["overdue"] is False
    assert default["left_off"] == ["db-1"]
    assert default["drill"]["last_run"]["state"] == "Failed"
    assert [f["server"] for f in default["drill"]["failed"]] == ["db-1"]
    open_alerts = {a["alert"] for a in default["open_alerts"]}
    assert {"failed-run", "crashed-run", "drill-failed", "left-off"} <= open_alerts
    assert dead.returncode == 2
    assert "cannot read from the Prefect server" in said(dead.stderr)
    assert "Traceback" not in dead.stderr


def test_hsnap_block_types_register_the_prefect_way(alert_stack: Stack) -> None:
    from prefect.client.orchestration import get_client  # noqa: PLC0415

    answer = subprocess.run(
        [sys.executable, "-m", "prefect", "block", "register", "-m", "hsnap.projects.block"],
        env=alert_stack.env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert answer.returncode == 0, answer.stdout + answer.stderr
    assert "Hetzner Project" in answer.stdout  # found in the module
    with get_client(sync_client=True) as client:
        kind = client.read_block_type_by_slug("hetzner-project")
    assert kind.description
    assert "Hetzner Cloud project" in kind.description
    assert str(kind.documentation_url).endswith("/docs/projects.md")


def test_each_alert_fires_once_per_incident_through_each_block(alert_stack: Stack) -> None:
    """Last: the night missed after the first nightly run is told once and not again during a
    further window; web-3's stale alert once per incident, the one a newer snapshot resolved
    not again; every other alert once."""
    first, _ = marks["first"]
    ((_, body, fired),) = both(alert_stack, "missed-run")
    assert f"its last Completed run, {first}, ended" in body
    assert "within 55 s" in body
    quiet_until(alert_stack, "missed-run", fired + MISSED_S + 2)
    second, _ = nightly()  # resolves the missed night and web-3's first stale incident

    def web_3_again() -> list[str]:
        # through both blocks: each delivers on its own, in either order
        seen = {
            via: [b for s, b, _ in messages(alert_stack, "stale-server", via) if "web-3" in s]
            for via in ("webhook", "chat")
        }
        return seen["chat"] if all(len(bodies) >= 2 for bodies in seen.values()) else []

    wait_until(web_3_again, "web-3's stale alert after the second nightly run", TIMEOUT_S)
    for via in ("webhook", "chat"):
        counts = {kind: len(messages(alert_stack, kind, via)) for kind in SUBJECTS}
        assert counts == {
            "failed-run": 1,
            "crashed-run": 1,
            "missed-run": 1,  # none for setup's window, which the first nightly run closed
            "stale-server": 3,  # db-1; web-3 after each nightly run
            "drill-failed": 1,
            "left-off": 1,
        }, via
        stale = [(s.split()[2], b) for s, b, _ in messages(alert_stack, "stale-server", via)]
        assert sorted(name for name, _ in stale) == ["db-1", "web-3", "web-3"]
        web_3 = [b for name, b in stale if name == "web-3"]
        assert f"in run {first}." in web_3[0]
        assert f"in run {second}." in web_3[1]


def quiet_until(stack: Stack, kind: str, until: float) -> None:
    """Watch both blocks until ``until`` (a time.time()): no new ``kind`` message meanwhile."""
    seen = {via: len(messages(stack, kind, via)) for via in ("webhook", "chat")}
    while time.time() < until:
        now = {via: len(messages(stack, kind, via)) for via in ("webhook", "chat")}
        assert now == seen, messages(stack, kind, "webhook")[seen["webhook"] :]
        time.sleep(0.25)
