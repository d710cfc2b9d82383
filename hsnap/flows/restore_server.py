"""The restore flow: one server back from a snapshot, as a new server or rebuilt in place."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from prefect import State, flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run
from prefect.states import Completed
from pydantic import Field

from hsnap.flows.local_run import run_and_read
from hsnap.restore.quarantine import describe
from hsnap.restore.restore import RestoreRequest, RestoreResult
from hsnap.settings import DEFAULT_TOKEN_SECRET, load_settings
from hsnap.tasks.restore import restore

Minutes = Annotated[float, Field(gt=0, le=24 * 60)]


@flow(name="restore-server", validate_parameters=True)
def restore_server(
    server: str,
    new_name: str | None = None,
    in_place: bool = False,
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
        new_name: create a new server of this name (same type, location and labels by default).
        in_place: rebuild ``server`` itself from the image; needs ``confirm``.
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


def run_locally(**parameters: Any) -> RestoreResult:
    """Run the flow in this process; raises its error if the restore did not happen."""
    return RestoreResult(**run_and_read(restore_server, **parameters))
