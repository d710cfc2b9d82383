"""The restore flow: one server back from a snapshot, as a new server or rebuilt in place."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Annotated, Any

from prefect import State, flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run
from prefect.states import Completed, Failed
from pydantic import Field

from hsnap.flows.local_run import run_and_read
from hsnap.restore.quarantine import describe
from hsnap.restore.replace import ReplaceResult, replaced
from hsnap.restore.restore import RestoreRequest, RestoreResult
from hsnap.settings import DEFAULT_TOKEN_SECRET, load_settings
from hsnap.tasks.restore import restore

Minutes = Annotated[float, Field(gt=0, le=24 * 60)]


@flow(name="restore-server", validate_parameters=True)
def restore_server(
    server: str,
    new_name: str | None = None,
    in_place: bool = False,
    replace: bool = False,
    image_id: int | None = None,
    server_type: str | None = None,
    location: str | None = None,
    confirm: bool = False,
    safety_snapshot: bool = True,
    boot_wait_minutes: Minutes = 30.0,
    lock_wait_minutes: Minutes = 30.0,
    snapshot_wait_minutes: Minutes = 120.0,
    quarantine: bool = True,
    allow: list[str] | None = None,
    token_secret: str = DEFAULT_TOKEN_SECRET,
    project: str | None = None,
) -> State[Any]:
    """Restore a server from its newest snapshot (or a given image): as a new server, or in place.

    Args:
        server: the name of the server whose snapshot is restored.
        new_name: create a new server of this name (same type and location by default),
            quarantined unless ``quarantine`` is false.
        in_place: rebuild ``server`` itself from the image; needs ``confirm``.
        replace: the server is gone: create it again as its snapshot's recipe says (name, type,
            location, labels, addresses, networks, firewalls, volumes, floating IPs, load
            balancers, placement group, protection, backups, reverse DNS); a step that cannot
            be done fails the run, named, after the others were done. Safe to run again.
        image_id: restore this image instead of the server's newest available snapshot.
        server_type: with new_name: another server type (must fit the image).
        location: with new_name: another location.
        confirm: really rebuild in place (destroys the server's current disk); without it the run
            fails at once, saying what would be destroyed, and changes nothing.
        safety_snapshot: in place: snapshot the current disk first (strongly advised).
        boot_wait_minutes: how long the restored server may take to run.
        lock_wait_minutes: how long to wait for a locked server.
        snapshot_wait_minutes: how long the safety snapshot may take.
        quarantine: with new_name: no public IPv4, no private network, hsnap's labels only and
            hsnap's firewall (nothing out, nothing in); false (``--open``): the original's
            networks, firewalls and labels, new addresses.
        allow: with new_name, quarantined: CIDR ranges SSH may come from.
        token_secret: Prefect Secret block with the API token, used when HCLOUD_TOKEN is unset.
        project: a HetznerProject block (token and endpoint) instead of the two above.
    """
    load_settings(token_secret, project)
    request = RestoreRequest(
        server=server,
        new_name=new_name,
        in_place=in_place,
        replace=replace,
        image_id=image_id,
        server_type=server_type,
        location=location,
        confirmed=confirm,
        safety_snapshot=safety_snapshot,
        boot_timeout_s=boot_wait_minutes * 60,
        lock_timeout_s=lock_wait_minutes * 60,
        snapshot_timeout_s=snapshot_wait_minutes * 60,
        quarantine=quarantine,
        allow=tuple(allow or ()),
    )
    run_id = str(flow_run.id or uuid.uuid4())
    result = restore(request, run_id, token_secret, project)
    if isinstance(result, ReplaceResult):
        return publish_replace(result)
    message = summary(result)
    create_markdown_artifact(markdown=f"# {message}\n", key="restore-summary")
    get_run_logger().info(message)
    return Completed(message=message, data=result.to_dict())


def summary(result: RestoreResult) -> str:
    """One line: what was restored from which image, where it runs, how long it took."""
    how = "rebuilt in place" if result.mode == "in-place" else f"restored as {result.server}"
    ips = ", ".join(ip for ip in (result.ipv4, result.ipv6) if ip) or "no public IP"
    safety = (
        f"; safety snapshot {result.safety_image_id}" if result.safety_image_id is not None else ""
    )
    wired = describe(result.isolation, result.firewall_ids, result.allowed)
    return (
        f"{result.source} {how} (id {result.server_id}, {result.server_type} in "
        f"{result.location}) from image {result.image_id}: running after {result.seconds:g}s; "
        f"{ips}{safety}" + (f"\n{wired}" if wired else "")
    )


def publish_replace(result: ReplaceResult) -> State[Any]:
    """The steps as a table artifact, the loud lines first in the summary; Failed unless as it was.

    A changed address or a step that could not be done fails the run: the server is back, but
    not as it was, and someone has to act.
    """
    create_table_artifact(
        table=[asdict(r) for r in result.rows], key="restore-report", description=replaced(result)
    )
    lines = [f"# {replaced(result)}", "", *(f"**{w}**" for w in result.warnings)]
    lines += [f"- {r.step} {r.target}: {r.status} {r.detail}".rstrip() for r in result.failed]
    create_markdown_artifact(markdown="\n".join(lines) + "\n", key="restore-summary")
    message = replaced(result)
    get_run_logger().info(message)
    if result.failed or result.changed:
        return Failed(message=message, data=result.to_dict())
    return Completed(message=message, data=result.to_dict())


def run_locally(**parameters: Any) -> RestoreResult | ReplaceResult:
    """Run the flow in this process; raises its error if the restore did not happen."""
    data = run_and_read(restore_server, **parameters)
    if data.get("mode") == "replace":
        return ReplaceResult.from_dict(data)
    return RestoreResult(**data)
