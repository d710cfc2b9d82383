"""hsnap's notion of elapsed time, with the same scale factor as the simulator it may talk to.

Against the real API the scale is 1. Against ``hcloud_sim --time-scale X`` hsnap runs with
``HSNAP_TIME_SCALE=X`` so that its deadlines, poll intervals and backoffs shrink alike and a run
makes the same requests it would make in real time, in a fraction of the time.
"""

from __future__ import annotations

import math
import time


class Clock:
    def __init__(self, scale: float = 1.0) -> None:
        if not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"time scale must be a finite number > 0, got {scale}")
        self.scale = scale

    def now(self) -> float:
        """Monotonic seconds of API time (for measuring durations and deadlines)."""
        return time.monotonic() * self.scale

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of API time."""
        if seconds > 0:
            time.sleep(seconds / self.scale)

    def deadline(self, seconds: float) -> Deadline:
        return Deadline(self, seconds)


class Deadline:
    """A point in API time after which a wait gives up."""

    def __init__(self, clock: Clock, seconds: float) -> None:
        self.clock = clock
        self.seconds = seconds
        self.start = clock.now()

    def elapsed(self) -> float:
        return self.clock.now() - self.start

    def remaining(self) -> float:
        return max(0.0, self.seconds - self.elapsed())

    def expired(self) -> bool:
        return self.remaining() <= 0

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` but never past the deadline."""
        self.clock.sleep(min(seconds, self.remaining()))
