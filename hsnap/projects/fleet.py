"""The fleet report: one row per project, built from each child run's state and snapshot report.

Pure functions over plain values (the flow reads states and artifacts from Prefect).
"""

from __future__ import annotations

from dataclasses import dataclass, field

FLEET_COLUMNS = (
    "project",
    "state",
    "servers",
    "succeeded",
    "failed",
    "lock waits",
    "failed servers",
    "run",
)
_FAILED = ("failed", "left-off")


@dataclass(frozen=True)
class ChildRun:
    """One project's snapshot run as the fleet saw it end."""

    project: str
    state: str  # Prefect's state name (Completed, Failed, Crashed, ...) or "not started"
    message: str | None = None
    rows: list[dict[str, str]] = field(default_factory=list)  # its snapshot-report table
    link: str = ""  # the run in the Prefect UI (or its id when no UI URL is known)

    @property
    def ok(self) -> bool:
        return self.state == "Completed"

    @property
    def failed_servers(self) -> list[str]:
        return [r.get("server", "?") for r in self.rows if r.get("status") in _FAILED]


def fleet_row(child: ChildRun) -> dict[str, str]:
    """The project's row in the ``fleet-report`` table (every cell text)."""
    reported = bool(child.rows)
    waited = [r for r in child.rows if r.get("lock wait") not in ("", "0s", None)]

    def count(n: int) -> str:
        return str(n) if reported else ""

    return {
        "project": child.project,
        "state": child.state,
        "servers": count(len(child.rows)),
        "succeeded": count(sum(1 for r in child.rows if r.get("status") == "succeeded")),
        "failed": count(len(child.failed_servers)),
        "lock waits": count(len(waited)),
        "failed servers": ", ".join(child.failed_servers) or _why(child),
        "run": child.link,
    }


def _why(child: ChildRun) -> str:
    """What to say about a failed run that named no server (it stopped before reporting)."""
    if child.ok:
        return ""
    detail = (child.message or "").strip().splitlines()
    return f"{child.state}: {detail[0][:200]}" if detail else child.state


def fleet_verdict(children: list[ChildRun]) -> str:
    """One line: how many projects completed, and each failure by project and server."""
    if not children:
        return "no Hetzner project to snapshot (add one with hsnap project add NAME)"
    bad = [c for c in children if not c.ok]
    done = f"{len(children) - len(bad)} of {len(children)} project(s) completed"
    if not bad:
        return done
    named = "; ".join(
        f"{c.project}: {', '.join(c.failed_servers)}"
        if c.failed_servers
        else f"{c.project}: {_why(c)}"
        for c in bad
    )
    return f"{done}; failed: {named}"
