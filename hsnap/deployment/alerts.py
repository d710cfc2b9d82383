"""Proactive alerts: tell a person when something that should happen did not.

Two Prefect automations call the same webhook as the failed-run notification:

- **missed run**: no Completed run of the nightly deployment within a window (default 26 h).
  Prefect evaluates it on its own clock, so it fires when the worker is down, the schedule is
  paused or the deployment was deleted: the cases where no run exists to fail.
- **stale server**: for each server (``hcloud.server.<id>``, one bucket per resource), no
  ``hsnap.snapshot.succeeded`` within the RPO (default 26 h) after its last one. It covers a server
  that silently left the selection (a label removed) and one that fails night after night.

Windows come from the environment (``HSNAP_MISSED_RUN_HOURS``, ``HSNAP_RPO_HOURS``) so that tests
use seconds and production hours; Prefect accepts no proactive window under 10 seconds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from hsnap.deployment.notify import FLOW_NAME, ensure_automation, save_webhook_block
from hsnap.deployment.setup import SetupStep
from hsnap.errors import ConfigError

NIGHTLY = "nightly"
MISSED_RUN_NAME = "hsnap: nightly run missed"
STALE_SERVER_NAME = "hsnap: server snapshot stale"
DEFAULT_HOURS = 26.0
MIN_WINDOW = timedelta(seconds=10)  # Prefect's floor for proactive triggers


@dataclass(frozen=True)
class AlertWindows:
    """How long the nightly deployment may go without a Completed run; a server, a snapshot."""

    missed_run: timedelta = timedelta(hours=DEFAULT_HOURS)
    stale_server: timedelta = timedelta(hours=DEFAULT_HOURS)


def windows_from_env(env: Mapping[str, str] = os.environ) -> AlertWindows:
    """``HSNAP_MISSED_RUN_HOURS`` and ``HSNAP_RPO_HOURS`` (hours, fractions allowed), else 26 h."""
    return AlertWindows(
        missed_run=_hours(env, "HSNAP_MISSED_RUN_HOURS"),
        stale_server=_hours(env, "HSNAP_RPO_HOURS"),
    )


def _hours(env: Mapping[str, str], name: str) -> timedelta:
    text = env.get(name, "").strip()
    try:
        window = timedelta(hours=float(text)) if text else timedelta(hours=DEFAULT_HOURS)
    except (ValueError, OverflowError):
        raise ConfigError(f"{name}={text!r}: use a number of hours, e.g. 26") from None
    if window < MIN_WINDOW:
        raise ConfigError(f"{name}={text!r}: Prefect needs a window of at least 10 seconds")
    return window


def describe(window: timedelta) -> str:
    """``26 h``, ``90 min`` or ``12 s``: the window as a message says it."""
    seconds = window.total_seconds()
    if seconds >= 3600:
        return f"{seconds / 3600:.3g} h"
    if seconds >= 60:
        return f"{seconds / 60:.3g} min"
    return f"{seconds:.3g} s"


def missed_run_automation(block_id: UUID, window: timedelta) -> Any:
    """Fires when no run of ``snapshot-servers/nightly`` ended Completed within ``window``."""
    deployment = f"{FLOW_NAME}/{NIGHTLY}"
    text = (
        f"hsnap: deployment {deployment} had no Completed run in the last {describe(window)}: "
        "is the worker down, the schedule paused or the deployment deleted?"
    )
    return _proactive(
        MISSED_RUN_NAME,
        f"Calls the hsnap webhook when {deployment} has no Completed run within "
        f"{describe(window)}.",
        block_id,
        f'{{"text": "{text}", "alert": "missed-run", "deployment": "{deployment}"}}',
        window,
        match={"prefect.resource.id": "prefect.flow-run.*"},
        match_related=[
            {"prefect.resource.role": "flow", "prefect.resource.name": FLOW_NAME},
            {"prefect.resource.role": "deployment", "prefect.resource.name": NIGHTLY},
        ],
        expect={"prefect.flow-run.Completed"},
    )


def stale_server_automation(block_id: UUID, window: timedelta) -> Any:
    """Fires, per server, when no snapshot of it succeeded within ``window`` after the last one."""
    succeeded = "hsnap.snapshot.succeeded"
    server = "{{ event.resource.name }}"
    text = (
        f"hsnap: server {server} ({{{{ event.resource.id }}}}) has had no new snapshot for "
        f"{describe(window)}; its last one succeeded at {{{{ event.occurred }}}}"
    )
    return _proactive(
        STALE_SERVER_NAME,
        f"Calls the hsnap webhook for each server whose last snapshot is older than "
        f"{describe(window)}.",
        block_id,
        f'{{"text": "{text}", "alert": "stale-server", "server": "{server}", '
        '"resource": "{{ event.resource.id }}"}',
        window,
        match={"prefect.resource.id": "hcloud.server.*"},
        after={succeeded},  # each success opens a new window for that server ...
        expect={succeeded},  # ... which the next success closes before it ends
        for_each={"prefect.resource.id"},
    )


def _proactive(
    name: str, description: str, block_id: UUID, payload: str, window: timedelta, **trigger: Any
) -> Any:
    """An automation calling the webhook when an expected event did not come within ``window``."""
    from prefect.automations import Automation, CallWebhook, EventTrigger, Posture  # noqa: PLC0415

    return Automation(
        name=name,
        description=description,
        enabled=True,
        trigger=EventTrigger(posture=Posture.Proactive, threshold=1, within=window, **trigger),
        actions=[CallWebhook(block_document_id=block_id, payload=payload)],
    )


def ensure_alerts(url: str, windows: AlertWindows) -> list[SetupStep]:
    """The missed-run and stale-server automations exist as configured, calling ``url``."""
    block_id, changed = save_webhook_block(url)
    return [
        ensure_automation(
            missed_run_automation(block_id, windows.missed_run), "missed run", block_changed=changed
        ),
        ensure_automation(
            stale_server_automation(block_id, windows.stale_server), "stale", block_changed=changed
        ),
    ]
