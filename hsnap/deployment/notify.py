"""Tell a person when a snapshot or audit run fails: a Prefect automation that calls a webhook.

The webhook URL (Slack, Mattermost, ntfy, any endpoint taking a JSON POST) is stored in a Prefect
``Webhook`` block, where Prefect keeps it encrypted; the automation fires when a run of the
``snapshot-servers`` or ``audit-snapshots`` flow ends Failed or Crashed, on whichever deployment
or worker it ran. The proactive alerts (``alerts.py``) share the block.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from pydantic import SecretStr

from hsnap.deployment.setup import SetupStep

FLOW_NAME = "snapshot-servers"
#: flows whose Failed or Crashed runs call the webhook (the audit fails naming stale servers)
FLOWS = [FLOW_NAME, "audit-snapshots"]
BLOCK_NAME = "hsnap-failure-webhook"
AUTOMATION_NAME = "hsnap: snapshot run failed"
#: Jinja template Prefect renders per event; ``text`` is what Slack-style webhooks show
PAYLOAD = (
    '{"text": "hsnap: {{ flow.name }} run {{ flow_run.name }} ended {{ flow_run.state.name }}: '
    '{{ flow_run.state.message }}", "flow_run_id": "{{ flow_run.id }}", '
    '"state": "{{ flow_run.state.name }}"}'
)


def ensure_failure_webhook(url: str) -> SetupStep:
    """The webhook block holds ``url`` and one automation calls it when a run fails or crashes."""
    from prefect.automations import Automation, CallWebhook, EventTrigger, Posture  # noqa: PLC0415

    block_id, changed = save_webhook_block(url)
    automation = Automation(
        name=AUTOMATION_NAME,
        description="Calls the hsnap webhook when a snapshot or audit run fails or crashes.",
        enabled=True,
        trigger=EventTrigger(
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related={"prefect.resource.role": "flow", "prefect.resource.name": FLOWS},
            expect={"prefect.flow-run.Failed", "prefect.flow-run.Crashed"},
            posture=Posture.Reactive,
            threshold=1,
            within=timedelta(0),
        ),
        actions=[CallWebhook(block_document_id=block_id, payload=PAYLOAD)],
    )
    return ensure_automation(automation, "notify", block_changed=changed)


def save_webhook_block(url: str) -> tuple[UUID, bool]:
    """The ``Webhook`` block BLOCK_NAME POSTs to ``url``; its id, and whether it changed."""
    from prefect.blocks.webhook import Webhook  # noqa: PLC0415
    from prefect.types import SecretDict  # noqa: PLC0415

    changed = _save_block(
        Webhook, Webhook(method="POST", url=SecretStr(url), headers=SecretDict({}))
    )
    block: Any = Webhook.load(BLOCK_NAME)
    return block._block_document_id, changed


def ensure_automation(automation: Any, what: str, *, block_changed: bool = False) -> SetupStep:
    """Create ``automation``, or update the one of that name where it differs (or is disabled)."""
    name = automation.name
    existing = _automation(name)
    if existing is None:
        automation.create()
        return SetupStep(what, True, f"created automation {name!r}")
    if _same(existing, automation) and existing.enabled and not block_changed:
        return SetupStep(what, False, f"automation {name!r} already set up")
    existing.trigger, existing.actions = automation.trigger, automation.actions
    existing.description = automation.description
    existing.enabled = True
    existing.update()
    return SetupStep(what, True, f"updated automation {name!r}")


def _save_block(kind: Any, block: Any) -> bool:
    """Save ``block`` under BLOCK_NAME unless an equal one is there; True if it changed."""
    try:
        current = kind.load(BLOCK_NAME)
    except ValueError:
        current = None
    if current is not None and current.url.get_secret_value() == block.url.get_secret_value():
        return False
    block.save(BLOCK_NAME, overwrite=True)
    return True


def _automation(name: str) -> Any:
    from prefect.automations import Automation  # noqa: PLC0415
    from prefect.exceptions import ObjectNotFound  # noqa: PLC0415

    try:
        return Automation.read(name=name)
    except (ValueError, ObjectNotFound):
        return None


def _same(a: Any, b: Any) -> bool:
    keys = {"trigger", "actions", "description"}
    return bool(a.model_dump(include=keys) == b.model_dump(include=keys))
