"""What each hsnap alert says: a subject and a body, as Jinja templates Prefect renders per firing.

Prefect renders them on the server when an automation fires, with the triggering ``event`` and
the objects it names (``flow_run``, ``flow``, ``deployment``) in the context. Every message says
what happened, names the project and the servers, ends with the flow run's page in the UI when
the server knows its ``PREFECT_UI_URL``, and stays short enough for a chat message or an SMS:
run messages are cut to ``MESSAGE_CHARS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from hsnap.deployment.windows import describe

MESSAGE_CHARS = 300
#: the longest subject plus body any alert renders to (what the unit tests hold it to)
MAX_CHARS = 700

_RUN_PROJECT = (
    "{% if flow.name == 'snapshot-fleet' %}all projects{% else %}project "
    "{{ flow_run.parameters.project | default('default', true) }}{% endif %}"
)
_SERVER_PROJECT = "project {{ event.resource['hcloud.project'] | default('default', true) }}"
_SERVER = "{{ event.resource.name }} (id {{ event.resource.id | replace('hcloud.server.', '') }})"
_DEPLOYMENT = "{% if deployment %}/{{ deployment.name }}{% endif %}"
_STATE_MESSAGE = (
    "{{ (flow_run.state.message or 'no message') | truncate(" + str(MESSAGE_CHARS) + ", true) }}"
)
_LINK = (
    "{% if flow_run %}{% set url = flow_run | ui_url %}"
    "{% if url %}\n{{ url }}{% endif %}{% endif %}"
)
_WHEN = "{{ event.occurred.strftime('%Y-%m-%d %H:%M UTC') }}"


@dataclass(frozen=True)
class Message:
    """One alert's notification: subject and body templates."""

    subject: str
    body: str


def failed_run() -> Message:
    return Message(
        subject=f"hsnap: {{{{ flow.name }}}} run failed ({_RUN_PROJECT})",
        body=(
            f"The {{{{ flow.name }}}}{_DEPLOYMENT} run {{{{ flow_run.name }}}} for {_RUN_PROJECT} "
            f"ended Failed: {_STATE_MESSAGE}{_LINK}"
        ),
    )


def crashed_run() -> Message:
    return Message(
        subject=f"hsnap: {{{{ flow.name }}}} run crashed ({_RUN_PROJECT})",
        body=(
            f"The {{{{ flow.name }}}}{_DEPLOYMENT} run {{{{ flow_run.name }}}} for {_RUN_PROJECT} "
            f"crashed: {_STATE_MESSAGE}. Servers it shut down may still be off: "
            f"run hsnap recover.{_LINK}"
        ),
    )


def missed_run(deployment: str, window: timedelta) -> Message:
    since = (
        f"{{% if flow_run %}}its last Completed run, {{{{ flow_run.name }}}}, ended {_WHEN}"
        f"{{% else %}}hsnap setup started watching at {_WHEN}{{% endif %}}"
    )
    return Message(
        subject="hsnap: nightly snapshot run missed (project default)",
        body=(
            f"No run of {deployment} (project default) ended Completed within "
            f"{describe(window)}: {since}. Is the worker down, the schedule paused or the "
            f"deployment deleted?{_LINK}"
        ),
    )


def stale_server(window: timedelta) -> Message:
    return Message(
        subject=(
            f"hsnap: server {{{{ event.resource.name }}}} has no new snapshot ({_SERVER_PROJECT})"
        ),
        body=(
            f"Server {_SERVER} in {_SERVER_PROJECT} has had no new snapshot for "
            f"{describe(window)}: its last one succeeded at {_WHEN}"
            "{% if flow_run %} in run {{ flow_run.name }}{% endif %}."
            f"{_LINK}"
        ),
    )


def drill_failed() -> Message:
    return Message(
        subject=f"hsnap: restore drill failed ({_RUN_PROJECT})",
        body=(
            f"The restore drill {{{{ flow_run.name }}}} for {_RUN_PROJECT} found snapshots "
            f"that do not boot, or could not run: {_STATE_MESSAGE}{_LINK}"
        ),
    )


def left_off() -> Message:
    error = (
        "{{ (event.payload.error or 'it did not start') | truncate("
        + str(MESSAGE_CHARS)
        + ", true) }}"
    )
    return Message(
        subject=f"hsnap: server {{{{ event.resource.name }}}} left powered off ({_SERVER_PROJECT})",
        body=(
            f"hsnap shut down server {_SERVER} in {_SERVER_PROJECT} for a consistent snapshot "
            f"and could not start it again: {error}. Start it, or run hsnap recover.{_LINK}"
        ),
    )
