"""The audit flow: has every server a snapshot younger than the RPO, and what do snapshots cost?"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from prefect import State, flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.states import Completed, Failed
from pydantic import Field

from hsnap.flows.local_run import run_and_read
from hsnap.observe import audit_report
from hsnap.observe.audit import DEFAULT_RPO_HOURS, audit
from hsnap.settings import DEFAULT_TOKEN_SECRET, load_settings
from hsnap.tasks.audit import read_inventory, read_surroundings


@flow(name="audit-snapshots", validate_parameters=True)
def audit_snapshots(
    rpo_hours: Annotated[float, Field(gt=0, le=24 * 366)] = DEFAULT_RPO_HOURS,
    token_secret: str = DEFAULT_TOKEN_SECRET,
    project: str | None = None,
) -> State[Any]:
    """Check every server has a snapshot younger than the RPO; report counts, GB and monthly cost.

    Lists each server's newest available snapshot (by any maker), its age, its snapshots' count,
    size, monthly cost and last drill; snapshots of deleted servers; servers never snapshotted;
    project totals; and what snapshots do not cover: attached volumes, Primary IPs deleted with
    their server, a newest snapshot without the recipe ``restore --replace`` needs, Hetzner
    Backups that die with the server. Ends Failed, naming the servers that breach the RPO. A
    read-only token is enough.

    Args:
        rpo_hours: the recovery point objective: the oldest a server's newest snapshot may be.
        token_secret: Prefect Secret block with the API token, used when HCLOUD_TOKEN is unset.
        project: a HetznerProject block (token and endpoint) instead of the two above.
    """
    load_settings(token_secret, project)  # fail fast on a missing token or an unsafe endpoint
    servers, snapshots, price = read_inventory(token_secret, project)
    around = read_surroundings(token_secret, project)
    report = audit(
        servers, snapshots, price, now=datetime.now(UTC), rpo_hours=rpo_hours, around=around
    )
    verdict = audit_report.verdict(report)
    create_table_artifact(
        table=audit_report.artifact_rows(report),
        key="audit-snapshots-report",
        description=verdict,
    )
    create_markdown_artifact(markdown=audit_report.markdown(report), key="audit-snapshots-summary")
    get_run_logger().info(verdict)
    data = {
        "report": report.to_dict(),
        "table": audit_report.rows(report),
        "verdict": verdict,
        "uncovered": audit_report.uncovered_summary(report),
    }
    if report.breaches:
        return Failed(message=verdict, data=data)
    return Completed(message=verdict, data=data)


def run_locally(**parameters: Any) -> dict[str, Any]:
    """Run the audit in this process, breached or not.

    Returns ``report`` (``AuditReport.to_dict()``), ``table`` (its rows) and ``verdict``.
    """
    data: dict[str, Any] = run_and_read(audit_snapshots, **parameters)
    return data


if __name__ == "__main__":
    # Audits the project behind HCLOUD_ENDPOINT / HCLOUD_TOKEN (or the Secret block).
    print(audit_snapshots(return_state=True).message)
