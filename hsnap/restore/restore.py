"""``hsnap restore``: a server back from a snapshot, as a new server or rebuilt in place.

Every input is checked before anything changes (``plan_restore`` only reads): the server and the
image exist, the image is available, its architecture and disk fit the server type, the location
offers the type, the new name is free, an in-place rebuild is confirmed and not protected. An
in-place rebuild first takes a safety snapshot of the disk it is about to destroy.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from hsnap.clock import Deadline
from hsnap.cloud.client import Cloud
from hsnap.cloud.convert import NewServer
from hsnap.cloud.waiting import Log, ServerRun, start_unlocked
from hsnap.errors import ConfigError, GoneError, PermanentError
from hsnap.models import ImageRef, ServerDetails
from hsnap.policy import ownership_labels
from hsnap.restore.policy import made_from, newest_available
from hsnap.restore.quarantine import opened, parse_allow, quarantined
from hsnap.restore.servers import wait_running
from hsnap.snapshot.take import SnapshotError, SnapshotPlan, take_snapshot

log = logging.getLogger(__name__)
_HOSTNAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,61}[A-Za-z0-9])?$")
#: on a safety snapshot: it holds the disk a restore in place replaced
SAFETY_LABEL = "hsnap/safety"


@dataclass(frozen=True)
class RestoreRequest:
    """What the user asked for (CLI options or flow parameters), before any check."""

    server: str
    new_name: str | None = None
    in_place: bool = False
    #: the server is gone: create it again as its snapshot's recipe says (restore --replace)
    replace: bool = False
    image_id: int | None = None
    server_type: str | None = None
    location: str | None = None
    confirmed: bool = False
    safety_snapshot: bool = True
    boot_timeout_s: float = 1800.0
    lock_timeout_s: float = 1800.0
    snapshot_timeout_s: float = 7200.0
    #: restore --as: quarantined (default) or ``--open``; ``allow``: inbound SSH ranges
    quarantine: bool = True
    allow: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.allow and (self.new_name is None or not self.quarantine):
            raise ConfigError(
                "--allow opens SSH into a quarantined copy: only with --as, not --open"
            )
        object.__setattr__(self, "allow", parse_allow(self.allow))


@dataclass(frozen=True)
class RestorePlan:
    """A checked restore: the original, the image, and where the result runs."""

    request: RestoreRequest
    original: ServerDetails
    image: ImageRef
    server_type: str
    location: str

    def destroys(self) -> str:
        """What an in-place restore destroys, in words (shown before anything happens)."""
        o, i = self.original, self.image
        created = i.created.strftime("%Y-%m-%d %H:%M UTC") if i.created else "unknown date"
        safety = (
            "a safety snapshot of the current disk is taken first"
            if self.request.safety_snapshot
            else "NO safety snapshot is taken (--no-safety-snapshot)"
        )
        return (
            f"rebuilding {o.name} (id {o.id}, {o.server_type} in {o.location}, {o.status}) "
            f"from image {i.id} ({i.description!r}, {created}) destroys everything on its "
            f"{o.disk_gb:g} GB disk as it is now; {safety}"
        )


@dataclass(frozen=True)
class RestoreResult:
    """A restored server: JSON-friendly, what the flow returns and the CLI prints."""

    mode: Literal["new", "in-place"]
    source: str
    server: str
    server_id: int
    image_id: int
    server_type: str
    location: str
    ipv4: str | None
    ipv6: str | None
    seconds: float
    safety_image_id: int | None = None
    #: restore --as: ``quarantined`` or ``open`` (empty in place)
    isolation: str = ""
    firewall_ids: tuple[int, ...] = ()
    allowed: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_restore(cloud: Cloud, request: RestoreRequest) -> RestorePlan:
    """Check every input against the project (reads only); ConfigError on bad input."""
    check_request(request)
    original = cloud.find_server_details(request.server) or _deleted(cloud, request)
    image = _image(cloud, request, original)
    if request.in_place:
        if original.rebuild_protected:
            raise ConfigError(
                f"{original.name} has rebuild protection: remove it first (nothing changed)"
            )
        _check_fit(image, original.architecture, original.disk_gb, f"server {original.name}")
        return RestorePlan(request, original, image, original.server_type, original.location)
    kind = request.server_type or original.server_type
    location = request.location or original.location
    types = {t.name: t for t in cloud.server_types()}
    if kind not in types:
        raise ConfigError(f"unknown server type {kind!r}; known: {', '.join(sorted(types))}")
    _check_fit(image, types[kind].architecture, types[kind].disk_gb, f"server type {kind}")
    if location not in types[kind].locations:
        raise ConfigError(f"server type {kind} is not offered in location {location!r}")
    assert request.new_name is not None  # check_request
    if cloud.find_server(request.new_name) is not None:
        raise ConfigError(f"a server named {request.new_name!r} already exists; pick another")
    return RestorePlan(request, original, image, kind, location)


def _deleted(cloud: Cloud, request: RestoreRequest) -> ServerDetails:
    """A server that no longer exists, known by the snapshots made of it (restore --as only)."""
    unknown = ConfigError(f"no server named {request.server!r} in this project")
    if request.in_place:
        raise unknown
    made = [i for i in cloud.find_images() if i.created_from == request.server]
    source = max((i.created_from_id or 0 for i in made), default=0)
    if not source:
        raise unknown
    if not (request.server_type and request.location):
        raise ConfigError(
            f"{request.server} no longer exists (its snapshots do): pass --server-type and "
            "--location for the new server"
        )
    return ServerDetails(
        id=source,
        name=request.server,
        status="deleted",
        server_type=request.server_type,
        architecture="",
        disk_gb=0.0,
        location=request.location,
        ipv4="",  # its addresses are unknown: the new server gets both kinds
        ipv6="",
    )


def check_request(request: RestoreRequest) -> None:
    """Raise ConfigError unless the request names exactly one way to restore, sensibly."""
    if sum((request.in_place, request.replace, request.new_name is not None)) != 1:
        raise ConfigError(
            "say how to restore: --as NEW_NAME (a new server), --in-place (rebuild it) or "
            "--replace (it is gone: create it again as it was)"
        )
    if request.in_place and (request.server_type or request.location):
        raise ConfigError("--in-place keeps the server's type and location")
    if request.replace and (request.server_type or request.location):
        raise ConfigError("--replace restores the recorded type and location")
    if request.new_name is not None and not _HOSTNAME.match(request.new_name):
        raise ConfigError(f"{request.new_name!r} is not a valid server name (a hostname)")


def _image(cloud: Cloud, request: RestoreRequest, original: ServerDetails) -> ImageRef:
    if request.image_id is None:
        found = newest_available(i for i in cloud.find_images() if made_from(i, original.id))
        if found is None:
            raise ConfigError(f"{original.name} has no available snapshot; pass --image ID")
        return found
    try:
        image = cloud.get_image(request.image_id)
    except GoneError:
        raise ConfigError(f"no image with id {request.image_id} in this project") from None
    if image.status != "available":
        raise ConfigError(f"image {image.id} is {image.status}, not available")
    return image


def _check_fit(image: ImageRef, architecture: str, disk_gb: float, target: str) -> None:
    if image.architecture != architecture:
        raise ConfigError(
            f"image {image.id} is an {image.architecture} image; {target} is {architecture}"
        )
    if image.disk_size is not None and image.disk_size > disk_gb:
        raise ConfigError(
            f"image {image.id} needs a {image.disk_size:g} GB disk; {target} has {disk_gb:g} GB"
        )


def restore_new(cloud: Cloud, plan: RestorePlan, out: Log | None = None) -> RestoreResult:
    """Create the new server from the image and wait until it runs."""
    original, request = plan.original, plan.request
    assert request.new_name is not None
    started = cloud.clock.now()
    how = (
        quarantined(cloud, original.id, request.allow)
        if request.quarantine
        else opened(cloud, original)
    )
    spec = NewServer(
        name=request.new_name,
        server_type=plan.server_type,
        image_id=plan.image.id,
        location=plan.location,
        labels=how.labels,
        ipv4=how.ipv4,
        ipv6=how.ipv6,
        firewall_ids=how.firewall_ids,
        network_ids=how.network_ids,
    )
    created, action = cloud.create_server(spec)
    run = ServerRun(cloud, created.ref, out or log)
    run.say("creating", "restoring %s from image %s", original.name, plan.image.id)
    try:
        wait_running(run, action, Deadline(cloud.clock, request.boot_timeout_s), "create_server")
    except PermanentError as exc:
        raise PermanentError(
            f"{created.name} (id {created.id}) was created but {exc}; it is left for you to "
            "inspect (or delete)",
            code=exc.code,
        ) from None
    done = _result(cloud, plan, "new", created.id, started)
    return replace(done, isolation=how.mode, firewall_ids=how.firewall_ids, allowed=how.allowed)


def restore_in_place(
    cloud: Cloud, plan: RestorePlan, run_id: str, out: Log | None = None
) -> RestoreResult:
    """Safety snapshot (unless declined), rebuild from the image, wait until it runs."""
    request, original = plan.request, plan.original
    if not request.confirmed:
        raise ConfigError(f"nothing changed: {plan.destroys()}. Add --yes to do it")
    run = ServerRun(cloud, original.ref, out or log)
    started = cloud.clock.now()
    safety = _safety_snapshot(cloud, plan, run_id, run.log) if request.safety_snapshot else None
    action = start_unlocked(
        run,
        Deadline(cloud.clock, request.lock_timeout_s),
        lambda: cloud.rebuild(original.id, plan.image.id),
        "the server was not rebuilt",
        "--lock-wait-minutes",
    )
    run.say("creating", "rebuilding from image %s (action %s)", plan.image.id, action.id)
    wait_running(run, action, Deadline(cloud.clock, request.boot_timeout_s), "rebuild")
    return _result(cloud, plan, "in-place", original.id, started, safety=safety)


def _safety_snapshot(cloud: Cloud, plan: RestorePlan, run_id: str, out: Log) -> int:
    original = plan.original
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    snapshot = SnapshotPlan(
        server=original.ref,
        description=f"{original.name}-before-restore-{stamp}",
        labels={**ownership_labels(original.id, run_id), SAFETY_LABEL: "restore"},
        run_id=run_id,
        lock_timeout_s=plan.request.lock_timeout_s,
        snapshot_timeout_s=plan.request.snapshot_timeout_s,
    )
    try:
        outcome = take_snapshot(cloud, snapshot, log=out)
    except SnapshotError as exc:
        raise PermanentError(
            f"the safety snapshot failed, so the server was not rebuilt: {exc.outcome.error}",
            code=exc.outcome.error_code or "safety_snapshot_failed",
        ) from None
    assert outcome.image_id is not None
    return outcome.image_id


def _result(
    cloud: Cloud,
    plan: RestorePlan,
    mode: Literal["new", "in-place"],
    server_id: int,
    started: float,
    *,
    safety: int | None = None,
) -> RestoreResult:
    done = cloud.server_details(server_id)
    return RestoreResult(
        mode=mode,
        source=plan.original.name,
        server=done.name,
        server_id=done.id,
        image_id=plan.image.id,
        server_type=done.server_type,
        location=done.location,
        ipv4=done.ipv4,
        ipv6=done.ipv6,
        seconds=round(cloud.clock.now() - started, 1),
        safety_image_id=safety,
    )
