"""How many requests a snapshot run will take, against what is left of the project's budget.

Pure arithmetic (``hsnap plan`` reads the inputs). A run spends its requests in two parts:

- at its start, a burst: the server list (one request per 50 servers), the servers' recipes (the
  list again and their Primary IPs: about two more per 50), the look for servers an interrupted
  run left off, and one create per server (all at once, up to ``max_concurrency``);
  a server locked at the start costs two more (the 423 and the read of what holds it);
- then a tail spread over the snapshots' minutes: the shared action polls (50 actions a request)
  and the batched reads of the finished images (50 a request), then the cost lines' reads.

The tail never drains the bucket: the poller spaces its polls to less than the refill when the
budget runs low. So a run paces only when its burst does not fit above the reserve, and then for
about as long as the refill takes to cover the difference.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from hsnap.cloud.governor import HOUR, default_reserve

#: requests every run makes besides its servers' (recovery look, prices, the cost lines' reads)
FIXED = 4
#: measured tail per server on the benchmark fleets (polls and batched image reads: 0.22 at 1000
#: servers, 0.59 at 137), rounded up for fleets in between; see docs/performance.md
TAIL_PER_SERVER = 0.3
LOCKED_EXTRA = 2
#: listings per 50 servers at the start: the selection, and the recipes' servers and Primary IPs
LISTINGS = 3


@dataclass(frozen=True)
class BudgetPlan:
    servers: int
    locked: int
    limit: int
    remaining: int
    reserve: int
    burst: int
    tail: int
    pacing_s: float

    @property
    def requests(self) -> int:
        return self.burst + self.tail

    @property
    def spendable(self) -> int:
        return max(0, self.remaining - self.reserve)

    @property
    def needs_pacing(self) -> bool:
        return self.pacing_s > 0

    def describe(self) -> list[str]:
        """What a person reads: the prediction, the budget, and a warning when it will pace."""
        lines = [
            f"{self.servers} server(s): about {self.requests} requests "
            f"({self.burst} at the start, about {self.tail} while the snapshots run)",
            f"budget: {self.remaining} of {self.limit} requests left; {self.reserve} kept for "
            f"the project's other clients; {self.spendable} for this run at once",
        ]
        if self.needs_pacing:
            lines.append(
                f"warning: the run cannot finish without pacing: its start needs {self.burst} "
                f"requests and {self.spendable} are above the reserve, so it will pace to the "
                f"refill for about {_minutes(self.pacing_s)} (it still finishes, later)"
            )
        else:
            lines.append("the run fits above the reserve: no pacing expected")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "requests": self.requests, "needs_pacing": self.needs_pacing}


def predict(
    servers: int,
    *,
    listed: int | None = None,
    locked: int = 0,
    remaining: int | None,
    limit: int | None,
    reserve: int | None = None,
) -> BudgetPlan:
    """The requests a run over ``servers`` will take and whether it must pace.

    Args:
        listed: servers the selection's listing reads (default: ``servers``).
        locked: servers expected to be locked at the start.
        remaining, limit: the bucket as the API last said (None: full, 3600).
        reserve: the run's reserve (None: a quarter of ``limit``; 0: none).
    """
    limit = limit or int(HOUR)
    remaining = limit if remaining is None else max(0, remaining)
    kept = default_reserve(limit) if reserve is None else min(reserve, limit - 1)
    pages = math.ceil((servers if listed is None else listed) / 50) or 1
    burst = LISTINGS * pages + FIXED + servers + LOCKED_EXTRA * locked
    tail = math.ceil(TAIL_PER_SERVER * servers)
    short = burst - max(0, remaining - kept)
    pacing_s = max(0, short) * HOUR / limit
    return BudgetPlan(servers, locked, limit, remaining, kept, burst, tail, pacing_s)


def _minutes(seconds: float) -> str:
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute(s)"
