"""What each alert says, rendered by Prefect's own template engine as its server renders it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from prefect.server.events.jinja_filters import all_filters
from prefect.server.events.schemas.events import ReceivedEvent
from prefect.server.schemas.core import Deployment, Flow, FlowRun
from prefect.server.schemas.states import State, StateType
from prefect.server.utilities.user_templates import (
    register_user_template_filters,
    render_user_template_sync,
)
from prefect.settings import PREFECT_UI_URL, temporary_settings

from hsnap.deployment import messages
from hsnap.deployment.messages import MAX_CHARS, Message

UI = "http://prefect.example:4200"
WHEN = datetime(2026, 12, 5, 2, 31, tzinfo=UTC)
RUN_ID = uuid4()


@pytest.fixture(autouse=True)
def ui_url() -> Iterator[None]:
    register_user_template_filters(all_filters)
    with temporary_settings(updates={PREFECT_UI_URL: UI}):
        yield


def render(message: Message, **context: Any) -> tuple[str, str]:
    return (
        render_user_template_sync(message.subject, context),
        render_user_template_sync(message.body, context),
    )


def run_context(
    flow: str, state: StateType, message: str, project: str | None = None
) -> dict[str, Any]:
    flow_obj = Flow(id=uuid4(), name=flow)
    run = FlowRun(
        id=RUN_ID,
        name="brave-otter",
        flow_id=flow_obj.id,
        parameters={"project": project} if project else {},
        state=State(type=state, name=state.value.title(), message=message),
    )
    deployment = Deployment(id=uuid4(), name="nightly", flow_id=flow_obj.id)
    event = ReceivedEvent(
        occurred=WHEN,
        event=f"prefect.flow-run.{state.value.title()}",
        resource={"prefect.resource.id": f"prefect.flow-run.{RUN_ID}"},
        id=uuid4(),
    )
    return {"flow": flow_obj, "flow_run": run, "deployment": deployment, "event": event}


def server_event(name: str, error: str | None = None, run: bool = True) -> dict[str, Any]:
    related = (
        [{"prefect.resource.id": f"prefect.flow-run.{RUN_ID}", "prefect.resource.role": "flow-run"}]
        if run
        else []
    )
    event = ReceivedEvent(
        occurred=WHEN,
        event=name,
        resource={
            "prefect.resource.id": "hcloud.server.42",
            "prefect.resource.name": "web-1",
            "hcloud.project": "shop",
        },
        related=related,
        payload={"error": error},
        id=uuid4(),
    )
    context: dict[str, Any] = {"event": event}
    if run:
        context["flow_run"] = run_context("snapshot-servers", StateType.COMPLETED, "ok")["flow_run"]
    return context


def test_a_failed_run_says_what_failed_for_which_project_and_links_the_run() -> None:
    context = run_context(
        "snapshot-servers", StateType.FAILED, "1 of 3 server(s) failed: web-2", "shop"
    )

    subject, body = render(messages.failed_run(), **context)

    assert subject == "hsnap: snapshot-servers run failed (project shop)"
    assert body.splitlines() == [
        "The snapshot-servers/nightly run brave-otter for project shop ended Failed: "
        "1 of 3 server(s) failed: web-2",
        f"{UI}/runs/flow-run/{RUN_ID}",
    ]


def test_a_run_without_a_project_is_the_default_project_and_a_fleet_is_all_of_them() -> None:
    single = run_context("snapshot-servers", StateType.FAILED, "x")
    fleet = run_context("snapshot-fleet", StateType.FAILED, "x")

    assert "(project default)" in render(messages.failed_run(), **single)[0]
    assert "(all projects)" in render(messages.failed_run(), **fleet)[0]


def test_a_crash_says_servers_may_be_off_and_how_to_bring_them_back() -> None:
    context = run_context("snapshot-servers", StateType.CRASHED, "process killed")

    subject, body = render(messages.crashed_run(), **context)

    assert subject == "hsnap: snapshot-servers run crashed (project default)"
    assert "crashed: process killed. Servers it shut down may still be off" in body
    assert "hsnap recover" in body


def test_a_drill_failure_names_the_snapshots_from_the_run_message() -> None:
    verdict = "1 drill(s) failed, 0 proven (cost 0.0060 EUR): web-1 (image 7)"
    context = run_context("verify-snapshots", StateType.FAILED, verdict, "shop")

    subject, body = render(messages.drill_failed(), **context)

    assert subject == "hsnap: restore drill failed (project shop)"
    assert verdict in body


def test_a_stale_server_is_named_with_its_id_project_and_last_snapshot() -> None:
    subject, body = render(
        messages.stale_server(timedelta(hours=26)), **server_event("hsnap.snapshot.succeeded")
    )

    assert subject == "hsnap: server web-1 has no new snapshot (project shop)"
    assert body.startswith(
        "Server web-1 (id 42) in project shop has had no new snapshot for 26 h: its last one "
        "succeeded at 2026-12-05 02:31 UTC in run brave-otter."
    )
    assert body.endswith(f"/runs/flow-run/{RUN_ID}")


def test_a_server_left_off_says_why_and_what_to_do() -> None:
    context = server_event("hsnap.server.left-off", "power on failed: action_failed")

    subject, body = render(messages.left_off(), **context)

    assert subject == "hsnap: server web-1 left powered off (project shop)"
    assert "could not start it again: power on failed: action_failed. Start it, or run" in body


def test_a_missed_night_says_since_when_with_or_without_an_earlier_run() -> None:
    message = messages.missed_run("snapshot-servers/nightly", timedelta(hours=26))
    after_run = run_context("snapshot-servers", StateType.COMPLETED, "all good")
    after_setup = {"event": after_run["event"]}

    _, body = render(message, **after_run)
    _, fresh = render(message, **after_setup)

    assert "No run of snapshot-servers/nightly (project default) ended Completed within 26 h: " in (
        body
    )
    assert "its last Completed run, brave-otter, ended 2026-12-05 02:31 UTC." in body
    assert "hsnap setup started watching at 2026-12-05 02:31 UTC." in fresh
    assert "http" not in fresh  # no run to link to


def test_without_a_ui_url_there_is_no_link() -> None:
    context = run_context("snapshot-servers", StateType.FAILED, "x")
    with temporary_settings(updates={PREFECT_UI_URL: None, "PREFECT_API_URL": None}):
        _, body = render(messages.failed_run(), **context)

    assert "http" not in body
    assert "None" not in body


@pytest.mark.parametrize(
    "message",
    [messages.failed_run(), messages.crashed_run(), messages.drill_failed()],
    ids=["failed", "crashed", "drill"],
)
def test_a_long_run_message_is_cut_to_fit_a_chat_message(message: Message) -> None:
    names = ", ".join(f"server-{i}" for i in range(500))
    context = run_context("snapshot-servers", StateType.FAILED, names, "x" * 60)

    subject, body = render(message, **context)

    assert len(subject) + len(body) <= MAX_CHARS
    assert "server-0, server-1" in body
    assert "server-499" not in body


def test_a_long_left_off_error_is_cut_too() -> None:
    subject, body = render(messages.left_off(), **server_event("hsnap.server.left-off", "e" * 5000))

    assert len(subject) + len(body) <= MAX_CHARS
