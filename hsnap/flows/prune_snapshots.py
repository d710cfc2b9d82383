"""The prune flow: apply a retention policy to the snapshots hsnap made, and only to those."""

from __future__ import annotations

from typing import Any

from prefect import State, flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.states import Completed, Failed

from hsnap.errors import HsnapError
from hsnap.flows.local_run import refuse, run_and_read
from hsnap.models import PruneRow
from hsnap.policy import check_timezone
from hsnap.retention.policy import RetentionPolicy
from hsnap.settings import DEFAULT_TOKEN_SECRET, load_settings
from hsnap.snapshot import report as reporting
from hsnap.tasks.prune import prune


@flow(name="prune-snapshots", validate_parameters=True)
def prune_snapshots(
    retention: RetentionPolicy | None = None,
    timezone: str = "UTC",
    dry_run: bool = False,
    token_secret: str = DEFAULT_TOKEN_SECRET,
    project: str | None = None,
) -> State[Any]:
    """Delete hsnap's old snapshots by a retention policy; never touches an image it did not make.

    Args:
        retention: how many snapshots to keep (keep_last, hourly, daily, weekly, monthly, yearly,
            min_keep, max_deletions, keep_orphans); default: 7 daily, 4 weekly, 6 monthly.
        timezone: the calendar (IANA name) that defines days, weeks, months and years.
        dry_run: publish the plan, delete nothing (works with a read-only token).
        token_secret: Prefect Secret block with the API token, used when HCLOUD_TOKEN is unset.
        project: a HetznerProject block (token and endpoint) instead of the two above.
    """
    try:  # bad timezone, missing token, unsafe endpoint, a token that may not delete
        check_timezone(timezone)
        load_settings(token_secret, project)
        rows = prune(
            retention or RetentionPolicy(), timezone, None, [], dry_run, token_secret, project
        )
    except HsnapError as exc:
        return refuse(exc)
    return publish_prune_plan(rows)


def publish_prune_plan(rows: list[PruneRow]) -> State[Any]:
    """Publish the plan (every managed snapshot: kept or deleted, and why)."""
    verdict = reporting.prune_verdict(rows)
    create_table_artifact(table=reporting.prune_rows(rows), key="prune-plan", description=verdict)
    create_markdown_artifact(markdown=reporting.prune_markdown(rows), key="prune-summary")
    get_run_logger().info(verdict)
    data = {"pruned": [r.to_dict() for r in rows]}
    if any(r.result == "failed" for r in rows):
        return Failed(message=verdict, data=data)
    return Completed(message=verdict, data=data)


def run_locally(**parameters: Any) -> list[PruneRow]:
    """Run the flow in this process; the plan rows, whatever the outcome."""
    return [PruneRow.from_dict(r) for r in run_and_read(prune_snapshots, **parameters)["pruned"]]
