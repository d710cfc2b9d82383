"""The simulator's one source of time.

Simulated time runs ``scale`` times faster than real time, so minutes of API time (a snapshot, an
ACPI shutdown, a rate bucket refilling) pass in seconds of a test. Every timestamp the API shows and
every duration it enforces is read from here; nothing in the simulator calls ``time.time()``.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

#: the fastest the clock may run: a million simulated seconds (11.6 days) per real second
MAX_TIME_SCALE = 1_000_000.0
#: the longest single jump: 100 years
MAX_ADVANCE = 100 * 365 * 86400.0
#: the clock never passes the end of year 9999, the last time RFC 3339 text can show
MAX_SIM_TIME = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()


def _check_scale(scale: float) -> None:
    # "not (0 < scale <= MAX)" also refuses NaN, which every comparison answers False to
    if not 0 < scale <= MAX_TIME_SCALE:
        raise ValueError(f"time scale must be > 0 and at most {MAX_TIME_SCALE:g}, got {scale}")


class SimClock:
    """A scaled clock: ``now()`` is simulated UNIX time in seconds.

    Args:
        scale: simulated seconds that pass per real second (1.0 = real time).
        start: simulated UNIX time at creation; defaults to the real wall clock.
    """

    def __init__(self, scale: float = 1.0, start: float | None = None) -> None:
        _check_scale(scale)
        self._lock = threading.Lock()
        self._scale = scale
        self._base_sim = time.time() if start is None else start
        self._base_real = time.monotonic()

    @property
    def scale(self) -> float:
        return self._scale

    def now(self) -> float:
        """Simulated UNIX time, in seconds."""
        with self._lock:
            return min(
                MAX_SIM_TIME, self._base_sim + (time.monotonic() - self._base_real) * self._scale
            )

    def now_dt(self) -> datetime:
        return datetime.fromtimestamp(self.now(), tz=UTC)

    def advance(self, seconds: float) -> float:
        """Jump simulated time forward (never backward); returns the new time."""
        if not 0 <= seconds <= MAX_ADVANCE:  # also refuses NaN
            raise ValueError(
                f"the clock only moves forward, by at most {MAX_ADVANCE:g} s at a time"
            )
        if self.now() + seconds > MAX_SIM_TIME:
            raise ValueError("that would move the clock past the year 9999")
        with self._lock:
            self._base_sim += seconds
        return self.now()

    def set_scale(self, scale: float) -> None:
        """Change the speed from now on without a jump in simulated time."""
        _check_scale(scale)
        with self._lock:
            real = time.monotonic()
            self._base_sim += (real - self._base_real) * self._scale
            self._base_real = real
            self._scale = scale

    def real_seconds(self, sim_seconds: float) -> float:
        """How long ``sim_seconds`` of simulated time take in real time."""
        return sim_seconds / self._scale


def iso(ts: float | None) -> str | None:
    """RFC 3339 text as the API writes it (``2016-01-30T23:55:00Z``)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
