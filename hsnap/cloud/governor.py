"""One request budget per Hetzner project, shared by every task of a run in this process.

The API's bucket holds ``RateLimit-Limit`` requests and refills one per second (3600/hour). The
governor learns the bucket from the ``RateLimit-*`` headers of every response (so what other
clients of the project spend counts too), keeps its own count between responses, and makes a
request wait instead of letting it come back 429 and fail a server.

It never spends the bucket below a **reserve** kept for the project's other clients (the
cloud-controller-manager, Terraform, the console): by default a quarter of ``RateLimit-Limit``.
At the reserve it paces itself to what refills, one request per refill, in a queue (no herd of
threads waking at once), and tells the run's ``Pacing`` so that the run can say so.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from hsnap.clock import Clock
from hsnap.settings import Settings

HOUR = 3600.0
#: the default reserve: this share of ``RateLimit-Limit`` is left to the project's other clients
DEFAULT_RESERVE_SHARE = 0.25


def default_reserve(limit: int) -> int:
    return int(limit * DEFAULT_RESERVE_SHARE)


@dataclass
class Pacing:
    """When one run's requests waited for the reserve; filled in by the governor."""

    reserve: int | None = None  # None: a quarter of RateLimit-Limit
    on_start: Callable[[int, int], None] | None = None  # (requests left, reserve) at a start
    episodes: int = 0
    kept: int = 0  # the reserve, in requests, the last time it was applied
    _closed_s: float = field(default=0.0, repr=False)  # API seconds of ended episodes
    _since: float | None = field(default=None, repr=False)  # the current episode's start
    _until: float = field(default=0.0, repr=False)  # its last paced request so far

    @property
    def paced_s(self) -> float:
        """API seconds during which the run's requests went at the refill, not at once."""
        current = max(0.0, self._until - self._since) if self._since is not None else 0.0
        return self._closed_s + current

    def begin(self, now: float, reserve: int) -> bool:
        """A request must wait for the refill; True if that starts an episode of pacing."""
        self.kept = reserve
        if self._since is not None:
            return False
        self._since = self._until = now
        self.episodes += 1
        return True

    def paced(self, now: float) -> None:
        """A request that waited in line went, at ``now``."""
        self._until = max(self._until, now)

    def end(self) -> None:
        if self._since is not None:
            self._closed_s += max(0.0, self._until - self._since)
            self._since = None

    def describe(self) -> str | None:
        """ "paced for 4m to keep 900 requests for other clients", or None if it never paced."""
        if not self.episodes:
            return None
        minutes, seconds = divmod(round(self.paced_s), 60)
        took = f"{minutes}m{seconds:02d}s" if minutes and seconds else f"{minutes}m"
        took = took if minutes else f"{seconds}s"
        if self.kept:
            return f"paced for {took} to keep {self.kept} requests for other clients"
        return f"paced for {took} while the project's request budget refilled"


class RateGovernor:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self.limit: int | None = None
        self._tokens: float | None = None  # estimated requests left, as of _at
        self._at = clock.now()
        self._in_flight = 0
        self._next_slot = 0.0  # API time the next paced request may go (a queue, not a herd)
        self.requests = 0
        self.responses_429 = 0
        self.waited_s = 0.0
        self.pacing: Pacing | None = None  # the run now using this project, if any

    @property
    def refill_per_s(self) -> float:
        return (self.limit or HOUR) / HOUR

    @property
    def reserve(self) -> int:
        """Requests never spent: the run's reserve, or a quarter of the bucket."""
        chosen = self.pacing.reserve if self.pacing is not None else None
        limit = self.limit or int(HOUR)
        if chosen is None:
            return default_reserve(limit)
        return min(chosen, limit - 1)  # a reserve of the whole bucket would stop hsnap forever

    def remaining(self) -> float | None:
        """The estimated requests left in the bucket now (None before any response)."""
        with self._lock:
            return self._estimate(self.clock.now())

    def _estimate(self, now: float) -> float | None:
        if self._tokens is None:
            return None
        capacity = float(self.limit or HOUR)
        return min(capacity, self._tokens + (now - self._at) * self.refill_per_s)

    def pressure(self) -> float:
        """0 while at least half the bucket is left, rising to 1 as it empties."""
        with self._lock:
            tokens = self._estimate(self.clock.now())
        if tokens is None:
            return 0.0
        half = (self.limit or HOUR) / 2
        return max(0.0, min(1.0, 1 - tokens / half))

    def before_request(self) -> None:
        """Block until the budget allows one more request above the reserve, then count it."""
        my_turn = False  # woken at the slot this request queued for: the line is behind it
        while True:
            with self._lock:
                now = self.clock.now()
                tokens = self._estimate(now)
                floor = self.reserve + 1
                if tokens is None or (tokens >= floor and (my_turn or now >= self._next_slot)):
                    if tokens is not None:
                        self._tokens, self._at = tokens - 1, now
                    self._in_flight += 1
                    self.requests += 1
                    if self.pacing is not None:
                        if my_turn:
                            self.pacing.paced(now)
                        elif now >= self._next_slot:
                            self.pacing.end()  # nobody waits in line: the episode is over
                    return
                # at the reserve: wait for the refill, in line behind the requests already waiting
                step = 1 / self.refill_per_s
                slot = max(now + max(0.0, floor - tokens) * step, self._next_slot)
                self._next_slot = slot + step
                wait = slot - now
                self.waited_s += wait
                pacing = self.pacing
                started = pacing is not None and pacing.begin(now, self.reserve)
            if started and pacing is not None and pacing.on_start is not None:
                pacing.on_start(max(0, int(tokens)), self.reserve)  # outside the lock: it logs
            self.clock.sleep(wait)
            my_turn = True

    def observe(self, response: requests.Response) -> None:
        headers = response.headers
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
            try:
                limit = int(headers["RateLimit-Limit"])
                remaining = int(headers["RateLimit-Remaining"])
            except (KeyError, ValueError):
                return
            self.limit = limit
            # requests still in flight may not be counted in this answer yet: count them
            self._tokens, self._at = float(remaining - self._in_flight), self.clock.now()
            if response.status_code == 429:
                self.responses_429 += 1
                self._tokens = 0.0

    def unanswered(self) -> None:
        """A request that got no answer (a connection error): no longer in flight."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)

    def wait_for_token(self) -> None:
        """After a 429: the next request waits until the bucket has refilled one request."""
        with self._lock:
            if self._tokens is None or self._tokens > 0:
                self._tokens, self._at = 0.0, self.clock.now()

    @contextmanager
    def paced_for(self, pacing: Pacing) -> Iterator[Pacing]:
        """Apply a run's reserve (and tell it about pacing) for the block; cleared on every path."""
        with self._lock:
            previous, self.pacing = self.pacing, pacing
        try:
            yield pacing
        finally:
            with self._lock:
                self.pacing = previous


class GovernedAdapter(HTTPAdapter):
    """A requests adapter that passes every request through a governor."""

    def __init__(self, governor: RateGovernor) -> None:
        # threads wait for a pooled connection rather than open (and drop) one each
        super().__init__(pool_connections=4, pool_maxsize=32, pool_block=True)
        self.governor = governor

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.governor.before_request()
        try:
            response = super().send(request, **kwargs)
        except BaseException:
            self.governor.unanswered()
            raise
        self.governor.observe(response)
        return response


_GOVERNORS: dict[str, RateGovernor] = {}
_REGISTRY_LOCK = threading.Lock()


def governor_for(settings: Settings, clock: Clock) -> RateGovernor:
    """The process-wide governor of the project behind this endpoint and token."""
    digest = hashlib.sha256(
        f"{settings.endpoint}\0{settings.token.get_secret_value()}".encode()
    ).hexdigest()
    with _REGISTRY_LOCK:
        governor = _GOVERNORS.get(digest)
        if governor is None or governor.clock.scale != clock.scale:
            governor = _GOVERNORS[digest] = RateGovernor(clock)
        return governor
