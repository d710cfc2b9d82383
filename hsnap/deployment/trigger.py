"""Start a deployed snapshot run from code, optionally wait, and read back what happened.

    from hsnap.deployment.trigger import trigger_snapshot

    result = trigger_snapshot({"label_selector": "env=prod"}, wait=True, timeout=3600)
    print(result.state, result.message)
    for row in result.rows:             # the run's snapshot-report table, one row per server
        print(row["server"], row["status"], row["image id"], row["error"])

Needs ``PREFECT_API_URL`` (or Prefect Cloud) and a worker serving the ``hsnap`` pool.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from hsnap.errors import ConfigError
from hsnap.snapshot.report import COLUMNS

DEFAULT_DEPLOYMENT = "snapshot-servers/on-demand"
REPORT_KEY = "snapshot-report"


@dataclass(frozen=True)
class TriggerResult:
    """A triggered flow run as seen through Prefect's API."""

    flow_run_id: str
    flow_run_name: str
    state: str
    message: str | None
    final: bool
    rows: list[dict[str, str]] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.state == "Completed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "flow_run_id": self.flow_run_id,
            "flow_run_name": self.flow_run_name,
            "state": self.state,
            "message": self.message,
            "final": self.final,
            "servers": self.rows,
        }


def trigger_snapshot(
    parameters: dict[str, Any] | None = None,
    *,
    deployment: str = DEFAULT_DEPLOYMENT,
    wait: bool = True,
    timeout: float | None = None,
) -> TriggerResult:
    """Start a run of ``deployment`` with ``parameters``.

    Args:
        parameters: flow parameters (see the flow's docstring); validated by the deployment.
        deployment: ``flow-name/deployment-name``.
        wait: wait for a final state (up to ``timeout`` seconds; None waits as long as it takes).
        timeout: seconds to wait when ``wait`` is true.

    Returns:
        The run's id, state, message and, once final, its report rows.
    """
    from prefect.deployments import run_deployment  # noqa: PLC0415 -- Prefect loads slowly
    from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError  # noqa: PLC0415

    try:
        flow_run: Any = run_deployment(
            deployment, parameters=parameters or {}, timeout=(timeout if wait else 0)
        )
    except ObjectNotFound:
        raise ConfigError(
            f"no deployment {deployment!r} on this Prefect server: run hsnap setup first"
        ) from None
    except PrefectHTTPStatusError as exc:
        if exc.response.status_code not in (409, 422):  # the deployment refused the parameters
            raise
        detail = exc.response.json().get("detail", exc.response.text)
        raise ConfigError(f"{deployment}: {detail}") from None
    state = flow_run.state
    final = bool(state and state.is_final())
    return TriggerResult(
        flow_run_id=str(flow_run.id),
        flow_run_name=flow_run.name,
        state=state.name if state else "Unknown",
        message=state.message if state else None,
        final=final,
        rows=report_rows(str(flow_run.id)) if final else [],
    )


def report_rows(flow_run_id: str, key: str = REPORT_KEY) -> list[dict[str, str]]:
    """The table artifact ``key`` (default ``snapshot-report``) of a flow run; empty if none."""
    from uuid import UUID  # noqa: PLC0415

    from prefect.client.orchestration import get_client  # noqa: PLC0415
    from prefect.client.schemas.filters import (  # noqa: PLC0415
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )

    artifact_filter = ArtifactFilter(
        flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(flow_run_id)]),
        key=ArtifactFilterKey(any_=[key]),
    )
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=artifact_filter)
    if not artifacts:
        return []
    data = artifacts[-1].data
    table = json.loads(data) if isinstance(data, str) else data
    if not isinstance(table, list):
        return []
    # the artifact leaves out columns empty in every row: give every row every column again
    return [{**dict.fromkeys(COLUMNS, ""), **row} for row in table]
