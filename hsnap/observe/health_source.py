"""Read what ``hsnap health`` judges from the Prefect server: runs, hsnap events, alert firings.

Everything comes from Prefect's API (no Hetzner call): flow runs of hsnap's flows, ``hsnap.*``
events about servers and ``prefect.automation.triggered`` events of hsnap's automations, all
within a look-back (Prefect keeps events 7 days by default).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from hsnap.deployment.alerts import ALERTS, FAILED_RUN_FLOWS
from hsnap.deployment.crashes import HSNAP_FLOWS
from hsnap.errors import ConfigError
from hsnap.observe.health import Firing, RunRecord, ServerEvent

TRIGGERED = "prefect.automation.triggered"
MAX_RUNS = 2000
PAGE = 200  # the most Prefect's API returns at once


def read_all(
    since: datetime, until: datetime
) -> tuple[list[RunRecord], list[ServerEvent], list[Firing]]:
    """Runs, server events and alert firings between ``since`` and ``until``."""
    import httpx  # noqa: PLC0415
    from prefect.exceptions import PrefectHTTPStatusError  # noqa: PLC0415

    try:
        runs = read_runs(since)
        events, firings = read_events(since, until)
    except (httpx.HTTPError, PrefectHTTPStatusError, OSError) as exc:
        raise ConfigError(
            f"cannot read from the Prefect server: {type(exc).__name__}: {exc}"
        ) from None
    return runs, events, firings


def read_runs(since: datetime) -> list[RunRecord]:
    """hsnap's flow runs expected since ``since`` (not those still Scheduled)."""
    from prefect.client.orchestration import get_client  # noqa: PLC0415
    from prefect.client.schemas import filters as f  # noqa: PLC0415
    from prefect.client.schemas.objects import StateType  # noqa: PLC0415
    from prefect.client.schemas.sorting import FlowRunSort  # noqa: PLC0415

    flows = sorted({*HSNAP_FLOWS, *FAILED_RUN_FLOWS})
    with get_client(sync_client=True) as client:
        flow_names = {
            fl.id: fl.name
            for fl in client.read_flows(flow_filter=f.FlowFilter(name=f.FlowFilterName(any_=flows)))
        }
        wanted = f.FlowRunFilter(
            expected_start_time=f.FlowRunFilterExpectedStartTime(after_=_pendulum(since)),
            state=f.FlowRunFilterState(
                type=f.FlowRunFilterStateType(not_any_=[StateType.SCHEDULED])
            ),
        )
        runs: list[Any] = []
        while flow_names and len(runs) < MAX_RUNS:  # the API pages at most PAGE runs
            page = client.read_flow_runs(
                flow_filter=f.FlowFilter(id=f.FlowFilterId(any_=list(flow_names))),
                flow_run_filter=wanted,
                sort=FlowRunSort.EXPECTED_START_TIME_DESC,
                limit=PAGE,
                offset=len(runs),
            )
            runs.extend(page)
            if len(page) < PAGE:
                break
        ids = list({r.deployment_id for r in runs if r.deployment_id})
        deployments = (
            {
                d.id: d.name
                for d in client.read_deployments(
                    deployment_filter=f.DeploymentFilter(id=f.DeploymentFilterId(any_=ids))
                )
            }
            if ids
            else {}
        )
    return [
        RunRecord(
            id=str(r.id),
            name=r.name,
            flow=flow_names.get(r.flow_id, "?"),
            deployment=deployments.get(r.deployment_id) if r.deployment_id else None,
            project=str((r.parameters or {}).get("project") or "default"),
            state=(r.state.name if r.state else None) or "Unknown",
            when=r.end_time or r.start_time or r.expected_start_time or since,
            message=r.state.message if r.state else None,
        )
        for r in runs
    ]


def read_events(since: datetime, until: datetime) -> tuple[list[ServerEvent], list[Firing]]:
    """hsnap's server events and the firings of hsnap's alert automations."""
    events: list[ServerEvent] = []
    firings: list[Firing] = []
    for event in _stored(since, until):
        if event.event == TRIGGERED:
            firing = _firing(event)
            if firing is not None:
                firings.append(firing)
        elif event.resource.id.startswith("hcloud.server."):
            events.append(
                ServerEvent(
                    event=event.event,
                    server=event.resource.name or event.resource.id,
                    project=event.resource.get("hcloud.project") or "default",
                    occurred=event.occurred,
                    run_id=_related_run(event.related),
                    error=(event.payload or {}).get("error"),
                )
            )
    return events, firings


def _stored(since: datetime, until: datetime) -> Iterator[Any]:
    from prefect.client.orchestration import get_client  # noqa: PLC0415
    from prefect.events.filters import (  # noqa: PLC0415
        EventFilter,
        EventNameFilter,
        EventOccurredFilter,
    )

    wanted = EventFilter(
        occurred=EventOccurredFilter(since=_pendulum(since), until=_pendulum(until)),
        event=EventNameFilter(prefix=["hsnap.", TRIGGERED]),
    )
    with get_client(sync_client=True) as client:
        page = client.read_events(filter=wanted, limit=50)
        yield from page.events
        while page.next_page:
            page = client.read_events_page(str(page.next_page))
            yield from page.events


def _firing(event: Any) -> Firing | None:
    alert = ALERTS.get(event.resource.name or "")
    if alert is None:
        return None
    trigger: dict[str, Any] = (event.payload or {}).get("triggering_event") or {}
    resource: dict[str, str] = trigger.get("resource") or {}
    rid = resource.get("prefect.resource.id", "")
    server = resource.get("prefect.resource.name") if rid.startswith("hcloud.server.") else None
    run_id = rid.removeprefix("prefect.flow-run.") if rid.startswith("prefect.flow-run.") else None
    return Firing(
        alert=alert,
        occurred=event.occurred,
        project=resource.get("hcloud.project") if server else None,
        server=server,
        run_id=run_id or _related_run(trigger.get("related") or []),
    )


def _related_run(related: Any) -> str | None:
    for item in related:
        rid = str(item.get("prefect.resource.id", ""))
        if rid.startswith("prefect.flow-run."):
            return rid.removeprefix("prefect.flow-run.")
    return None


def _pendulum(value: datetime) -> Any:
    """Prefect's filters are typed for their own DateTime; a datetime is what they accept."""
    return value
