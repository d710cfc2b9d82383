"""``restore --replace``, second half: the server again, as its recipe says, one row per step.

Addresses come first: a Primary IP that still exists and is free goes into the create request
itself (so does every direct firewall, the volumes and the placement group, so that the server
boots behind its firewalls); one that is gone or taken means a new address, said loudly before
anything else. Then each remaining step compares what is with what the recipe says and does only
the difference, so a re-run after a crash or a failed step finishes the missing steps. A step that
cannot be done becomes a ``failed`` row saying what to do; the others still happen.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from hsnap.clock import Deadline
from hsnap.cloud.client import Cloud
from hsnap.cloud.waiting import Log, ServerRun, wait_unlocked
from hsnap.errors import GoneError, HsnapError, PermanentError
from hsnap.models import ActionRef, ServerRef
from hsnap.policy import RESTART_LABEL, SERVER_ID_LABEL
from hsnap.restore.replace_plan import REPLACED_BY_LABEL, ReplacePlan, check_alive, lineage
from hsnap.restore.replace_wiring import converge
from hsnap.restore.servers import wait_running
from hsnap.snapshot.recipe import PrimaryIp

log = logging.getLogger(__name__)
Status = Literal["done", "kept", "changed", "failed"]
Json = dict[str, Any]


@dataclass(frozen=True)
class Row:
    """One step of a replace: what, its outcome, and (when not plainly done) what to know or do."""

    step: str
    target: str
    status: Status
    detail: str = ""


@dataclass(frozen=True)
class ReplaceResult:
    """What ``--replace`` did: JSON-friendly, what the flow returns and the CLI prints."""

    source: str
    server: str
    server_id: int
    image_id: int
    rows: tuple[Row, ...] = field(default=())
    #: loud lines: addresses that changed, said before the table
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0
    mode: str = "replace"

    @property
    def failed(self) -> list[Row]:
        return [r for r in self.rows if r.status == "failed"]

    @property
    def changed(self) -> list[Row]:
        return [r for r in self.rows if r.status == "changed"]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReplaceResult:
        rows = tuple(Row(**r) for r in data.pop("rows", ()))
        warnings = tuple(data.pop("warnings", ()))
        return cls(**data, rows=rows, warnings=warnings)


class Steps:
    """The rows of one replace, and the actions it runs one after the other on the new server."""

    def __init__(self, cloud: Cloud, out: Log, timeout_s: float) -> None:
        self.cloud, self.out, self.timeout_s = cloud, out, timeout_s
        self.rows: list[Row] = []
        self.warnings: list[str] = []
        self.server_id = 0

    def add(self, step: str, target: str, status: Status, detail: str = "") -> None:
        self.rows.append(Row(step, target, status, detail))
        level = logging.WARNING if status in ("failed", "changed") else logging.INFO
        self.out.log(level, "%s %s: %s%s", step, target, status, f" ({detail})" if detail else "")

    def loud(self, line: str) -> None:
        self.warnings.append(line)
        self.out.warning("%s", line)

    def act(self, path: str, body: Json | None, what: str, done: tuple[str, ...] = ()) -> None:
        """POST an action on a resource, waiting out locks, then wait until it has finished.

        ``done``: error codes that mean it is already so (an earlier, killed run's action ended
        while this one waited for its lock).
        """
        deadline = self.deadline()
        while True:
            try:
                data = self.cloud.raw("POST", path, what, json=body)
                break
            except PermanentError as exc:
                if exc.code in done:
                    return
                if exc.code != "locked" or deadline.expired():
                    raise
                deadline.sleep(2.0)
        action = data.get("action") or {}
        if action.get("id"):
            final = self.cloud.watcher.wait(int(action["id"]), deadline)
            if final is None:
                raise PermanentError(f"{what}: still running at the deadline", code="timeout")
            if final.status == "error":
                raise PermanentError(f"{what}: {final.error_message} ({final.error_code})")

    def deadline(self) -> Deadline:
        """A fresh deadline for one wait (each step gets the whole allowance)."""
        return Deadline(self.cloud.clock, self.timeout_s)

    def attempt(self, step: str, target: str, fn: Any, advice: str) -> bool:
        """Run one step's change; a failure becomes a ``failed`` row with ``advice``."""
        try:
            fn()
        except HsnapError as exc:
            if isinstance(exc, PermanentError):
                check_alive(exc)
            self.add(step, target, "failed", f"{exc}; {advice}")
            return False
        return True

    def server(self) -> Json:
        data = self.cloud.raw("GET", f"/servers/{self.server_id}", f"server {self.server_id}")
        return dict(data["server"])


def replace(cloud: Cloud, plan: ReplacePlan, out: Log | None = None) -> ReplaceResult:
    """Bring the server back as its recipe says; every step is a row (see the module doc)."""
    steps = Steps(cloud, out or log, plan.boot_timeout_s)
    started = cloud.clock.now()
    recipe = plan.recipe
    if plan.resume is None:
        body = create_body(steps, plan)
        data = cloud.raw("POST", "/servers", f"creating server {plan.name}", json=body)
        steps.server_id = int(data["server"]["id"])
        steps.add(
            "server",
            plan.name,
            "done",
            f"created (id {steps.server_id}) from image {plan.image.id}",
        )
        ref = ServerRef(steps.server_id, plan.name, "initializing", {})
        action = data["action"]
        wait_running(ServerRun(cloud, ref, steps.out), _action(action), steps.deadline(), "create")
    else:
        steps.server_id = int(plan.resume["id"])
        # what the earlier run started (an attach, an assign) ends before anything is compared
        run = ServerRun(cloud, ServerRef(steps.server_id, plan.name, "running", {}), steps.out)
        wait_unlocked(run, steps.deadline(), "its steps were not finished", "--boot-wait-minutes")
        steps.add(
            "server",
            plan.name,
            "kept",
            f"id {steps.server_id}, made by an earlier --replace: finishing its missing steps",
        )
    converge(steps, recipe)
    _history(steps, plan)
    if not any(r.status == "failed" for r in steps.rows):
        labels = cloud.get_image(plan.image.id).labels  # the history step relabelled it
        cloud.set_image_labels(plan.image.id, {**labels, REPLACED_BY_LABEL: str(steps.server_id)})
    return ReplaceResult(
        source=recipe.name,
        server=plan.name,
        server_id=steps.server_id,
        image_id=plan.image.id,
        rows=tuple(steps.rows),
        warnings=tuple(steps.warnings),
        seconds=round(cloud.clock.now() - started, 1),
    )


def _action(data: Json) -> ActionRef:
    return ActionRef(
        id=int(data["id"]), command=str(data.get("command", "")), status="running", progress=0
    )


def create_body(steps: Steps, plan: ReplacePlan) -> Json:
    """POST /servers: the recorded name, type, place, labels, and what can go in at create.

    Reads whether each Primary IP, firewall, volume and the placement group can be used (and
    says loudly which addresses cannot); changes nothing.
    """
    recipe = plan.recipe
    public: Json = {
        "enable_ipv4": recipe.ipv4 is not None,
        "enable_ipv6": recipe.ipv6 is not None or recipe.ipv4 is None,
    }
    for key, address in (("ipv4", recipe.ipv4), ("ipv6", recipe.ipv6)):
        if address is not None and _reusable(steps, key, address):
            public[key] = address.id
    labels = {k: v for k, v in recipe.labels.items() if k != RESTART_LABEL}
    body: Json = {
        "name": plan.name,
        "server_type": recipe.server_type,
        "image": str(plan.image.id),
        "location": recipe.location,
        "labels": labels,
        "start_after_create": True,
        "public_net": public,
    }
    if recipe.placement_group is not None and _exists(
        steps, "placement_groups", recipe.placement_group
    ):
        body["placement_group"] = recipe.placement_group
    walls = [f.id for f in recipe.firewalls if f.direct and _exists(steps, "firewalls", f.id)]
    if walls:
        body["firewalls"] = [{"firewall": w} for w in walls]
    free = [v for v in recipe.volumes if _free_volume(steps, v.id, recipe.location)]
    if free:
        body["volumes"] = [v.id for v in free]
        body["automount"] = any(v.automount for v in free)
    return body


def _exists(steps: Steps, kind: str, item_id: int) -> bool:
    try:
        steps.cloud.raw("GET", f"/{kind}/{item_id}", f"{kind} {item_id}")
    except GoneError:
        return False  # its step reports it after the create
    return True


def _free_volume(steps: Steps, volume_id: int, location: str) -> bool:
    try:
        volume = steps.cloud.raw("GET", f"/volumes/{volume_id}", f"volume {volume_id}")["volume"]
    except GoneError:
        return False
    return volume.get("server") is None and (volume.get("location") or {}).get("name") == location


def _reusable(steps: Steps, key: str, address: PrimaryIp) -> bool:
    """Whether the recorded Primary IP can go into the create request; says loudly if not."""
    what = f"{key} {address.ip}"
    try:
        ip = steps.cloud.raw("GET", f"/primary_ips/{address.id}", f"Primary IP {address.id}")
    except GoneError:
        steps.loud(
            f"ADDRESS CHANGES: {what} (Primary IP {address.id}) no longer exists; the "
            "server gets a new address: update DNS, allow-lists and clients"
        )
        return False
    holder = ip["primary_ip"].get("assignee_id")
    if holder is not None:
        steps.loud(
            f"ADDRESS CHANGES: {what} (Primary IP {address.id}) is assigned to server "
            f"{holder}; the server gets a new address"
        )
        return False
    return True


def _history(steps: Steps, plan: ReplacePlan) -> None:
    """hsnap's snapshots of the replaced server become this server's (snapshots, retention...)."""
    olds = lineage(steps.cloud, plan.sources, steps.server_id)
    for image in olds:
        labels = {**image.labels, SERVER_ID_LABEL: str(steps.server_id)}
        ok = steps.attempt(
            "history",
            f"image {image.id}",
            lambda i=image.id, lb=labels: steps.cloud.set_image_labels(i, lb),
            "re-run --replace to finish",
        )
        if not ok:
            return
    steps.add(
        "history",
        "snapshots",
        "done" if olds else "kept",
        f"{len(olds)} snapshot(s) of the replaced server now count as this server's"
        if olds
        else "every snapshot already counts as this server's",
    )


def replaced(result: ReplaceResult) -> str:
    """One line for logs and the summary artifact."""
    failed, changed = len(result.failed), len(result.changed)
    state = (
        "as it was"
        if not failed and not changed
        else (f"{failed} step(s) failed, {changed} changed")
    )
    return (
        f"{result.server} replaced (id {result.server_id}) from image {result.image_id}: "
        f"{state}; {len(result.rows)} step(s) in {result.seconds:g}s"
    )
