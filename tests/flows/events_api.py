"""Reading hsnap's events back through Prefect's events API (``POST /events/filter``)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from prefect.client.orchestration import get_client
from prefect.events import Event
from prefect.events.filters import (
    EventFilter,
    EventNameFilter,
    EventOccurredFilter,
    EventResourceFilter,
)
from prefect.events.worker import EventsWorker


def hsnap_events(prefix: str = "hsnap.") -> list[Event]:
    """hsnap's events stored by the Prefect server (about servers ``hcloud.server.*``)."""
    return stored_events(prefix, EventResourceFilter(id_prefix=["hcloud.server."]))


def flow_run_events(flow_run_id: str, name: str) -> list[Event]:
    """Prefect's own events ``name`` about one flow run (``prefect.flow-run.Completed``, ...)."""
    return stored_events(name, EventResourceFilter(id=[f"prefect.flow-run.{flow_run_id}"]))


def stored_events(prefix: str, resource: EventResourceFilter) -> list[Event]:
    """Events of the last hour whose name starts with ``prefix``, about ``resource``."""
    start = datetime.now(UTC) - timedelta(hours=1)
    found: list[Event] = []
    with get_client(sync_client=True) as client:
        page = client.read_events(
            filter=EventFilter(
                occurred=EventOccurredFilter(since=start, until=datetime.now(UTC)),
                event=EventNameFilter(prefix=[prefix]),
                resource=resource,
            ),
            limit=50,
        )
        found.extend(page.events)
        while page.next_page:
            page = client.read_events_page(str(page.next_page))
            found.extend(page.events)
    return found


def wait_for_events(
    wanted: int, prefix: str = "hsnap.", *, flow_run_id: str, timeout: float = 30.0
) -> list[Event]:
    """The events of one flow run, once at least ``wanted`` of them are stored (or fail)."""
    EventsWorker.drain_all(timeout=10)
    deadline = time.monotonic() + timeout
    while True:
        events = [e for e in hsnap_events(prefix) if related_flow_run(e) == flow_run_id]
        if len(events) >= wanted or time.monotonic() > deadline:
            return events
        time.sleep(0.2)


def related_flow_run(event: Event) -> str | None:
    for resource in event.related:
        if resource.role == "flow-run":
            return resource.id.removeprefix("prefect.flow-run.")
    return None


def related_image(event: Event) -> str | None:
    for resource in event.related:
        if resource.role == "image":
            return resource.id
    return None
