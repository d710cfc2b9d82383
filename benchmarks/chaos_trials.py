"""What a chaos trial is: a seeded draw of fleet, mode, faults and kill moment (see chaos.py)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

SCALE = 300.0  # simulated seconds per real second (hsnap runs with the same scale)
HTTP_TIMEOUT_S = 0.5  # real seconds: 150 API seconds at SCALE, so delayed answers beat it
CREATE = "/servers/*/actions/create_image"


@dataclass
class Trial:
    """One drawn trial: a scenario, a mode, and when (if at all) to kill the first run."""

    index: int
    seed: int
    scenario: dict[str, Any]
    consistent: bool
    kill_after_s: float | None
    faults: list[str]
    hostile: bool = False

    @property
    def servers(self) -> int:
        return len(self.scenario["projects"][0]["servers"])


def draw(index: int, seed: int, scale: float, max_servers: int = 50) -> Trial:
    """The trial ``index`` of soak ``seed``: the same every time."""
    rng = random.Random(seed * 100_003 + index)
    # half of the fleets have servers bound to fail (their runs exit 1); the other half can end
    # well, so that the promise about runs that exit 0 is put to the test too
    hostile = rng.random() < 0.5
    servers = [_server(rng, i, hostile) for i in range(rng.randint(10, max_servers))]
    faults, names = _faults(rng, scale)
    scenario = {
        "name": f"chaos-{seed}-{index}",
        "seed": rng.randrange(1 << 30),
        "projects": [
            {
                "name": "chaos",
                "action_durations": {"create_image": [60, 600], "start_server": [5, 20]},
                "servers": servers,
                "faults": faults,
            }
        ],
    }
    kill = rng.uniform(2.0, 12.0) if rng.random() < 0.5 else None  # a run takes ~5-15 s
    return Trial(index, seed, scenario, rng.random() < 0.5, kill, names, hostile)


def _server(rng: random.Random, i: int, hostile: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": f"node-{i:02d}", "shutdown_delay": [2, 40]}
    roll = rng.random()
    if roll >= 0.10 and not hostile:
        roll = 1.0  # locked or not, but nothing bound to fail
    if roll < 0.10:
        spec["running_actions"] = [
            {"command": "change_server_type", "duration": rng.uniform(60, 300)}
        ]
    elif roll < 0.15:
        spec["snapshot_error"] = {"code": "action_failed", "message": "disk read error"}
    elif roll < 0.20:
        spec["delete_after"] = rng.uniform(20, 600)  # deleted mid-run
    elif roll < 0.23:
        spec["status"] = "off"
    elif roll < 0.25:
        spec["acpi"] = "ignore"  # consistent mode without forcing: a named failure, still running
    return spec


def _faults(rng: random.Random, scale: float) -> tuple[list[dict[str, Any]], list[str]]:
    """A random subset of the fault kinds, each with its own seeded rule."""
    timeout_api = HTTP_TIMEOUT_S * scale
    kinds: dict[str, dict[str, Any]] = {
        "5xx": {
            "method": "GET",
            "path": "*",
            "code": rng.choice(["unavailable", "server_error", "bad_gateway"]),
            "probability": rng.uniform(0.03, 0.15),
            "count": rng.randint(5, 40),
        },
        "504": {
            "method": "POST",
            "path": "*",
            "code": "timeout",
            "when": rng.choice(["before", "after"]),
            "probability": rng.uniform(0.05, 0.3),
            "count": rng.randint(1, 8),
        },
        "drop": {
            "method": rng.choice(["GET", "POST", "PUT"]),
            "path": "*",
            "drop": True,
            "when": rng.choice(["before", "after"]),
            "probability": rng.uniform(0.02, 0.1),
            "count": rng.randint(1, 10),
        },
        "late": {  # the API carries the create out after the client gave up
            "method": "POST",
            "path": CREATE,
            "latency": timeout_api + rng.uniform(5, 60),
            "probability": rng.uniform(0.1, 0.4),
            "count": rng.randint(1, 3),
        },
        "429": {
            "method": "*",
            "path": "*",
            "code": "rate_limit_exceeded",
            "probability": rng.uniform(0.02, 0.1),
            "count": rng.randint(5, 30),
        },
    }
    chosen = [name for name in kinds if rng.random() < 0.6]
    rules = [{**kinds[name], "seed": rng.randrange(1 << 30)} for name in chosen]
    return rules, chosen
