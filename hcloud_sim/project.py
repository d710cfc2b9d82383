"""One Hetzner project's world and its typed verbs: what the API does, without HTTP.

Every verb runs under the simulator's lock after due events were settled, so what it sees is the
state at the current simulated time. Actions end through scheduled events, never through sleeps.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from hcloud_labels import Selector
from hcloud_sim import actions
from hcloud_sim.actions import Effect, Resource
from hcloud_sim.errors import ApiError
from hcloud_sim.faults import FaultSet
from hcloud_sim.model import Action, Duration, Image, Server, TokenBucket
from hcloud_sim.spec import ProjectSpec

if TYPE_CHECKING:
    from hcloud_sim.state import Simulator

T = TypeVar("T")
__all__ = ["Effect", "Project", "Resource"]


class Project:
    def __init__(self, sim: Simulator, spec: ProjectSpec, rng: random.Random) -> None:
        self.sim = sim
        self.spec = spec
        self.catalog = sim.scenario.catalog
        self.name = spec.name
        self.rng = rng
        now = sim.clock.now()
        self.bucket = TokenBucket(
            spec.rate_limit.capacity,
            spec.rate_limit.refill_per_second,
            float(spec.rate_limit.capacity),
            now,
        )
        self.faults = FaultSet(spec.faults)
        self.servers: dict[int, Server] = {}
        self.deleted_servers: dict[int, Server] = {}
        self.images: dict[int, Image] = {}
        self.actions: dict[int, Action] = {}
        #: ids of images created through the API (ground truth for "no duplicate snapshot")
        self.created_images: list[int] = []
        #: how each running action ends, so the control plane can end one early
        self._finishers: dict[int, Effect] = {}
        #: running actions holding the lock of a resource other than a server (``begin_on``)
        self.locks: dict[Resource, set[int]] = {}
        #: each resource family's state (``store``)
        self._stores: dict[type[Any], Any] = {}

    def store(self, cls: type[T]) -> T:
        """This project's instance of a family's state class, made on first use."""
        found = self._stores.get(cls)
        if found is None:
            found = self._stores[cls] = cls()
        return found

    # -- durations -------------------------------------------------------------------------

    def draw(self, duration: Duration) -> float | None:
        """Concrete simulated seconds from a spec; a range is drawn from the seeded generator."""
        if duration is None or isinstance(duration, int | float):
            return None if duration is None else float(duration)
        low, high = duration
        return self.rng.uniform(low, high)

    # -- servers ---------------------------------------------------------------------------

    def server(self, server_id: int) -> Server:
        server = self.servers.get(server_id)
        if server is None:
            raise ApiError("not_found", f"server with ID '{server_id}' not found")
        return server

    def find_servers(
        self,
        *,
        name: str | None = None,
        selector: Selector | None = None,
        statuses: Iterable[str] = (),
    ) -> list[Server]:
        wanted = set(statuses)
        return [
            s
            for s in self.servers.values()
            if (name is None or s.name == name)
            and (selector is None or selector.matches(s.labels))
            and (not wanted or s.status in wanted)
        ]

    def update_server(
        self, server_id: int, *, name: str | None, labels: dict[str, str] | None
    ) -> Server:
        server = self.server(server_id)
        if name is not None and name != server.name:
            self.ensure_name_free(name)
            server.name = name
        if labels is not None and labels != server.labels:
            before, server.labels = server.labels, dict(labels)
            from hcloud_sim.resources import families  # noqa: PLC0415 -- families import us

            for family in families():
                if family.on_server_relabelled is not None:
                    family.on_server_relabelled(self, server, before)
        return server

    def ensure_name_free(self, name: str) -> None:
        """409 uniqueness_error when a server of this project already has ``name``."""
        if any(s.name == name for s in self.servers.values()):
            raise ApiError(
                "uniqueness_error",
                "server name is already used",
                details={"fields": [{"name": "name"}]},
            )

    def delete_server(self, server_id: int, at: float | None = None) -> Server:
        """The server vanishes (as if deleted by someone else); its running actions fail."""
        server = self.server(server_id)
        now = self.sim.clock.now() if at is None else at
        for action_id in sorted(server.lock_holders):
            self._finish(self.actions[action_id], now, ("server_deleted", "server was deleted"))
        del self.servers[server_id]
        self.deleted_servers[server_id] = server
        from hcloud_sim.resources import families  # noqa: PLC0415 -- families import the project

        for family in families():
            if family.on_server_deleted is not None:
                family.on_server_deleted(self, server)
        return server

    def architecture_of(self, server: Server) -> Literal["x86", "arm"]:
        server_type = self.catalog.server_type(server.server_type)
        return server_type.architecture if server_type is not None else "x86"

    # -- actions and locks (hcloud_sim/actions.py) ------------------------------------------

    action = actions.action
    server_actions = actions.server_actions
    begin = actions.begin
    is_locked = actions.is_locked
    begin_on = actions.begin_on
    finish_action = actions.finish_action
    _finish = actions.end
    instant_action = actions.instant_action

    # -- images ----------------------------------------------------------------------------

    def image(self, image_id: int) -> Image:
        image = self.images.get(image_id)
        if image is None:
            raise ApiError("not_found", f"image with ID '{image_id}' not found")
        return image

    def create_image(
        self,
        server_id: int,
        *,
        description: str | None,
        image_type: str,
        labels: dict[str, str],
    ) -> tuple[Image, Action]:
        server = self.server(server_id)
        if server.lock_holders:
            raise ApiError("locked", "cannot perform operation because server is locked")
        quota = self.spec.snapshot_quota
        if image_type == "snapshot" and quota is not None:
            used = sum(1 for i in self.images.values() if i.type == "snapshot")
            if used >= quota:
                raise ApiError(
                    "resource_limit_exceeded",
                    f"snapshot limit exceeded: this project may keep {quota} snapshots",
                    details={"limits": [{"name": "snapshot_limit"}]},
                )
        now = self.sim.clock.now()
        image = Image(
            id=self.sim.next_id("image"),
            type=image_type,  # type: ignore[arg-type]
            status="creating",
            description=description or f"{server.name}-snapshot",
            created=now,
            disk_size=float(server.disk_gb),
            created_from=(server.id, server.name),
            bound_to=server.id if image_type == "backup" else None,
            labels=dict(labels),
            architecture=self.architecture_of(server),
            boot=server.boot,
        )
        size = server.snapshot_size_gb or round(server.disk_gb * self.rng.uniform(0.05, 0.4), 2)
        default_duration = self.spec.duration_for("create_image")
        duration = self.draw(server.snapshot_duration or default_duration)

        def available(t: float) -> None:
            del t
            image.status = "available"
            image.image_size = size

        action = self.begin(
            server,
            "create_image",
            duration=duration,
            error=server.snapshot_error,
            on_success=available,
            extra=[(image.id, "image")],
        )
        image.creating_action = action.id
        self.images[image.id] = image
        self.created_images.append(image.id)
        return image, action

    def find_images(
        self,
        *,
        types: Iterable[str] = (),
        statuses: Iterable[str] = (),
        bound_to: Iterable[int] = (),
        selector: Selector | None = None,
        name: str | None = None,
        architecture: Iterable[str] = (),
        include_deprecated: bool = True,
    ) -> list[Image]:
        t, s, b, a = set(types), set(statuses), set(bound_to), set(architecture)
        return [
            i
            for i in self.images.values()
            if (not t or i.type in t)
            and (not s or i.status in s)
            and (not b or i.bound_to in b)
            and (not a or i.architecture in a)
            and (name is None or i.name == name)
            and (selector is None or selector.matches(i.labels))
            and (include_deprecated or i.deprecated is None)
        ]

    def update_image(
        self,
        image_id: int,
        *,
        description: str | None,
        image_type: str | None,
        labels: dict[str, str] | None,
    ) -> Image:
        image = self.image(image_id)
        if description is not None:
            image.description = description
        if image_type is not None:
            if image.type not in ("snapshot", "backup"):
                raise ApiError("unsupported_error", "only backups can be converted to snapshots")
            image.type = "snapshot"
            image.bound_to = None
        if labels is not None:
            image.labels = dict(labels)
        return image

    def delete_image(self, image_id: int) -> None:
        image = self.image(image_id)
        if image.type in ("system", "app"):
            raise ApiError("forbidden", "system and app images cannot be deleted")
        if image.protection_delete:
            raise ApiError("protected", f"{image.type} deletion is protected")  # the API's words
        if image.creating_action is not None or image.status == "creating":  # seeded ones too
            raise ApiError("locked", "cannot perform operation because image is locked")
        del self.images[image_id]

    def change_image_protection(self, image_id: int, *, delete: bool | None) -> Action:
        image = self.image(image_id)
        if image.type in ("system", "app"):
            raise ApiError("forbidden", "system and app images cannot be protected")
        if delete is not None:
            image.protection_delete = delete
        return self.instant_action("change_protection", [(image.id, "image")])
