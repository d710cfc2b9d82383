"""A run's finished images, read 50 at a time instead of one ``GET /images/{id}`` per server.

When a poll of the shared watcher sees snapshot actions end, their tasks want the final state of
their image (its status and size, for the report). The first one to ask leads: it waits for the
watcher's next poll (the tasks whose actions that poll sees ending join the batch), or less when
the watcher has nothing else to wait for or 50 images are asked for, then reads the whole batch
with one label-selector read per 50 images (``hsnap/flow-run=<run>,hsnap/server-id in (...)``)
and hands each task its image. A task that asks while a read is under way leads the next batch.
So a run reads its images in about half as many requests as its polls, not one per server; an
image's row waits at most one poll interval longer, and the last server's not at all.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from hsnap.errors import GoneError, HsnapError, TransientError
from hsnap.models import ImageRef
from hsnap.policy import MANAGED_BY, MANAGED_BY_VALUE, RUN_LABEL, SERVER_ID_LABEL

if TYPE_CHECKING:
    from hsnap.cloud.client import Cloud

BATCH = 50
#: real seconds without a new request after which a gathered batch is complete (the tasks woken
#: by one poll reach here within milliseconds of each other)
QUIET_S = 0.05
#: API seconds a leader waits at most for the next poll
LINGER_MAX_S = 60.0


class ImageReader:
    """Batched reads of the images one run made (by their ownership labels)."""

    def __init__(self, cloud: Cloud, run_id: str) -> None:
        self.cloud = cloud
        self.run_id = run_id
        self._cond = threading.Condition()
        self._pending: dict[int, int] = {}  # image id -> server id, not yet read
        self._results: dict[int, ImageRef | HsnapError] = {}
        self._leading = False
        self._last_ask = 0.0
        self.reads = 0

    def get(self, server_id: int, image_id: int) -> ImageRef:
        """The image's current state (GoneError if the run's read does not find it)."""
        with self._cond:
            self._pending[image_id] = server_id
            self._last_ask = time.monotonic()
            self._cond.notify_all()
            while image_id not in self._results:
                if not self._leading:
                    self._lead()
                    continue
                self._cond.wait(timeout=1.0)
            result = self._results.pop(image_id)
        if isinstance(result, HsnapError):
            raise result
        return result

    def _lead(self) -> None:
        """Gather what others ask until the next poll, then read it all (lock held)."""
        self._leading = True
        try:
            watcher = self.cloud.watcher
            polls = watcher.polls
            started = time.monotonic()
            longest = LINGER_MAX_S / self.cloud.clock.scale
            while len(self._pending) < BATCH:
                quiet = time.monotonic() - self._last_ask
                polled = watcher.polls != polls or not watcher.busy()
                if (quiet >= QUIET_S and polled) or time.monotonic() - started >= longest:
                    break
                self._cond.wait(timeout=QUIET_S)
            batch, self._pending = self._pending, {}
            self._cond.release()
            try:
                found = self._read(batch)
            finally:
                self._cond.acquire()
            self._results.update(found)
        finally:
            self._leading = False
            self._cond.notify_all()

    def _read(self, batch: dict[int, int]) -> dict[int, ImageRef | HsnapError]:
        results: dict[int, ImageRef | HsnapError] = {}
        ids = sorted(batch)
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            servers = ",".join(sorted({str(batch[i]) for i in chunk}))
            selector = (
                f"{MANAGED_BY}={MANAGED_BY_VALUE},{RUN_LABEL}={self.run_id},"
                f"{SERVER_ID_LABEL} in ({servers})"
            )
            try:
                images = {i.id: i for i in self.cloud.find_images(selector)}
                self.reads += 1
            except HsnapError as exc:
                results.update(dict.fromkeys(chunk, exc))
                continue
            except Exception as exc:  # noqa: BLE001 -- every waiter must hear, not hang
                error = TransientError(f"reading images: {type(exc).__name__}: {exc}")
                results.update(dict.fromkeys(chunk, error))
                continue
            for image_id in chunk:
                results[image_id] = images.get(image_id) or GoneError(
                    f"image {image_id}: not found (deleted?)", code="not_found"
                )
        return results
