"""Where hsnap's alerts go: Prefect notification blocks, named by the user, and automation upserts.

Any block with Prefect's ``notify`` capability works (Slack, Microsoft Teams, Mattermost, Discord,
PagerDuty, Opsgenie, Twilio, SendGrid, a custom webhook): ``hsnap setup --notify NAME`` finds it by
name (``slug/name`` when two types share a name). ``HSNAP_NOTIFY_WEBHOOK`` becomes one such block,
a ``CustomWebhookNotificationBlock`` named ``WEBHOOK_BLOCK`` that POSTs JSON with ``text``,
``subject`` and ``body``; Prefect keeps the URL encrypted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from hsnap.deployment.setup import SetupStep
from hsnap.errors import ConfigError

WEBHOOK_BLOCK = "hsnap-notify-webhook"
#: what the webhook block POSTs: ``text`` for Slack-style receivers, the parts for the others
WEBHOOK_JSON = {"text": "{{subject}}\n{{body}}", "subject": "{{subject}}", "body": "{{body}}"}


@dataclass(frozen=True)
class NotifyTarget:
    """A notification block alerts are sent through."""

    name: str  # ``slug/name``
    block_document_id: UUID


def find_blocks(names: list[str]) -> list[NotifyTarget]:
    """The notification blocks ``names`` (``name`` or ``slug/name``); a ConfigError says why not."""
    targets: list[NotifyTarget] = []
    for name in dict.fromkeys(n.strip() for n in names):
        if not name:
            raise ConfigError("--notify '': give the name of a Prefect notification block")
        targets.append(_find_block(name))
    return targets


def _find_block(name: str) -> NotifyTarget:
    from prefect.client.orchestration import get_client  # noqa: PLC0415
    from prefect.client.schemas.objects import BlockDocument  # noqa: PLC0415

    slug, _, bare = name.rpartition("/")
    query: dict[str, Any] = {
        "block_documents": {"name": {"any_": [bare]}, "is_anonymous": {"eq_": False}},
        "include_secrets": False,
    }
    with get_client(sync_client=True) as client:
        response = client.request("POST", "/block_documents/filter", json=query)
    found = [
        doc
        for doc in BlockDocument.model_validate_list(response.json())
        if doc.block_type is not None and (not slug or doc.block_type.slug == slug)
    ]
    if not found:
        raise ConfigError(
            f"--notify {name!r}: no block of that name on this Prefect server; create one "
            "in the UI (Blocks, then +: Slack Webhook, Mattermost Webhook, ...) and run setup again"
        )
    notifying = [d for d in found if d.block_schema and "notify" in d.block_schema.capabilities]
    if not notifying:
        kinds = ", ".join(sorted({_slug(d) for d in found}))
        raise ConfigError(f"--notify {name!r}: a {kinds} block cannot send notifications")
    if len(notifying) > 1:
        choices = ", ".join(sorted(f"{_slug(d)}/{bare}" for d in notifying))
        raise ConfigError(f"--notify {name!r}: several blocks have this name; use one of {choices}")
    return NotifyTarget(f"{_slug(notifying[0])}/{bare}", notifying[0].id)


def _slug(doc: Any) -> str:
    return str(doc.block_type.slug)


def save_webhook_block(url: str) -> tuple[NotifyTarget, SetupStep]:
    """The custom webhook block ``WEBHOOK_BLOCK`` POSTs to ``url`` (created or updated)."""
    from prefect.blocks.notifications import CustomWebhookNotificationBlock  # noqa: PLC0415

    wanted = CustomWebhookNotificationBlock(
        name="hsnap",
        url=url,
        method="POST",
        json_data=dict(WEBHOOK_JSON),
        headers=None,
        cookies=None,
        timeout=10,
    )
    try:
        current: Any = CustomWebhookNotificationBlock.load(WEBHOOK_BLOCK)
    except ValueError:
        current = None
    fields = {"url", "method", "json_data", "timeout"}
    same = current is not None and current.model_dump(include=fields) == wanted.model_dump(
        include=fields
    )
    if not same:
        wanted.save(WEBHOOK_BLOCK, overwrite=True)
    block: Any = CustomWebhookNotificationBlock.load(WEBHOOK_BLOCK)
    target = NotifyTarget(f"custom-webhook/{WEBHOOK_BLOCK}", block._block_document_id)
    verb = "created" if current is None else "updated" if not same else "kept"
    detail = f"{verb} block {WEBHOOK_BLOCK} (HSNAP_NOTIFY_WEBHOOK)"
    return target, SetupStep("webhook", not same, detail)


def ensure_automation(automation: Any, what: str) -> SetupStep:
    """Create ``automation``, or update the one of that name where it differs (or is disabled)."""
    name = automation.name
    existing = _automation(name)
    if existing is None:
        automation.create()
        return SetupStep(what, True, f"created automation {name!r}")
    if _same(existing, automation) and existing.enabled:
        return SetupStep(what, False, f"automation {name!r} already set up")
    existing.trigger, existing.actions = automation.trigger, automation.actions
    existing.description = automation.description
    existing.enabled = True
    existing.update()
    return SetupStep(what, True, f"updated automation {name!r}")


def remove_automation(name: str) -> SetupStep | None:
    """Delete the automation ``name`` (one an older hsnap made), if it exists."""
    existing = _automation(name)
    if existing is None:
        return None
    existing.delete()
    return SetupStep("old alert", True, f"removed automation {name!r} (replaced)")


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
