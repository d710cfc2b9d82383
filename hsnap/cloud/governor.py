"""One request budget per Hetzner project, shared by every task of a run in this process.

The API's bucket holds ``RateLimit-Limit`` requests and refills one per second (3600/hour). The
governor learns the bucket from the ``RateLimit-*`` headers of every response, keeps its own count
between responses, and makes a request wait when the bucket is known to be empty, instead of letting
it come back 429 and fail a server.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from hsnap.clock import Clock
from hsnap.settings import Settings

HOUR = 3600.0


class RateGovernor:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self.limit: int | None = None
        self._tokens: float | None = None  # estimated requests left, as of _at
        self._at = clock.now()
        self.requests = 0
        self.responses_429 = 0
        self.waited_s = 0.0

    @property
    def refill_per_s(self) -> float:
        return (self.limit or HOUR) / HOUR

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
        """Block until the budget allows one more request, then count it."""
        while True:
            with self._lock:
                now = self.clock.now()
                tokens = self._estimate(now)
                if tokens is None or tokens >= 1:
                    if tokens is not None:
                        self._tokens, self._at = tokens - 1, now
                    self.requests += 1
                    return
                wait = (1 - tokens) / self.refill_per_s
            self.waited_s += wait
            self.clock.sleep(wait)

    def observe(self, response: requests.Response) -> None:
        headers = response.headers
        try:
            limit = int(headers["RateLimit-Limit"])
            remaining = int(headers["RateLimit-Remaining"])
        except (KeyError, ValueError):
            return
        with self._lock:
            self.limit = limit
            self._tokens, self._at = float(remaining), self.clock.now()
            if response.status_code == 429:
                self.responses_429 += 1
                self._tokens = 0.0

    def wait_for_token(self) -> None:
        """After a 429: the next request waits until the bucket has refilled one request."""
        with self._lock:
            if self._tokens is None or self._tokens > 0:
                self._tokens, self._at = 0.0, self.clock.now()


class GovernedAdapter(HTTPAdapter):
    """A requests adapter that passes every request through a governor."""

    def __init__(self, governor: RateGovernor) -> None:
        super().__init__(pool_connections=4, pool_maxsize=64)
        self.governor = governor

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.governor.before_request()
        response = super().send(request, **kwargs)
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
