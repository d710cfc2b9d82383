"""Declarative fault rules: which requests fail, how, how often.

A rule matches on method and a glob of the path under ``/v1`` (``/servers/*/actions/create_image``).
When it fires it can add latency, answer with an API error before the request is carried out, or
after it was carried out (a 504 on a create that did happen), or drop the connection before or
after. ``probability`` is drawn from a generator seeded per rule, so a run is reproducible;
``count`` caps how often a rule fires (``after`` skips the first matching requests).
"""

from __future__ import annotations

import fnmatch
import random
import threading
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hcloud_sim.errors import ERROR_CODES, ApiError

#: the longest a fault may hold an answer back: an hour of simulated time
MAX_LATENCY = 3600.0


class FaultRule(BaseModel):
    """One fault; see the module docstring. Times are simulated seconds."""

    model_config = ConfigDict(extra="forbid")

    id: int | None = None
    method: str = "*"
    path: str = "*"
    code: str | None = Field(default=None, description="API error code to answer with")
    status: int | None = Field(
        default=None, ge=400, le=599, description="HTTP error status; defaults to the code's"
    )
    message: str | None = None
    when: Literal["before", "after"] = "before"
    drop: bool = False
    latency: float = Field(
        default=0.0,
        ge=0,
        le=MAX_LATENCY,
        allow_inf_nan=False,
        description="simulated seconds the answer is held back",
    )
    probability: float = Field(default=1.0, ge=0.0, le=1.0)
    seed: int = 0
    count: int | None = Field(default=None, ge=0)
    after: int = Field(default=0, ge=0, description="let this many matching requests pass first")
    fired: int = 0

    @model_validator(mode="after")
    def _one_effect(self) -> FaultRule:
        if self.code is not None and self.drop:
            raise ValueError("a fault either answers with an error code or drops the connection")
        if self.code is None and not self.drop and self.latency <= 0:
            raise ValueError("a fault needs a code, drop: true, or a latency")
        if self.code is not None and self.code not in ERROR_CODES and self.status is None:
            raise ValueError(f"unknown error code {self.code!r}: give its HTTP status too")
        return self

    def error(self) -> ApiError:
        assert self.code is not None
        return ApiError(self.code, self.message, status=self.status)


class FaultSet:
    """The active rules of one simulator, thread-safe."""

    def __init__(self, rules: list[FaultRule] | None = None) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._rngs: dict[int, random.Random] = {}
        self._seen: dict[int, int] = {}
        self._next_id = 1
        for rule in rules or []:
            self.add(rule)

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            rule = rule.model_copy(update={"id": self._next_id, "fired": 0})
            self._next_id += 1
            self._rules.append(rule)
            assert rule.id is not None
            self._rngs[rule.id] = random.Random(rule.seed)
            self._seen[rule.id] = 0
            return rule

    def remove(self, rule_id: int) -> bool:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != rule_id]
            return len(self._rules) != before

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return [r.model_copy() for r in self._rules]

    def pick(self, method: str, path: str) -> FaultRule | None:
        """The first rule that matches this request and fires now (counted as fired)."""
        with self._lock:
            for rule in self._rules:
                if not _matches(rule, method, path):
                    continue
                assert rule.id is not None
                self._seen[rule.id] += 1
                if self._seen[rule.id] <= rule.after:
                    continue
                if rule.count is not None and rule.fired >= rule.count:
                    continue
                if self._rngs[rule.id].random() >= rule.probability:
                    continue
                rule.fired += 1
                return rule.model_copy()
        return None


def _matches(rule: FaultRule, method: str, path: str) -> bool:
    if rule.method != "*" and rule.method.upper() != method.upper():
        return False
    return fnmatch.fnmatchcase(path, rule.path)
