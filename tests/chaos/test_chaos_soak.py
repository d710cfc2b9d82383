"""The chaos soak's short CI variant: 20 seeded trials of the real CLI against a faulty simulator.

``benchmarks/chaos.py`` draws each trial (a fleet of 10-20 servers here, 10-50 in the full soak;
plain or consistent mode; a mix of 5xx/504 bursts, dropped connections, creates answered after
the client's timeout, 429s, failing actions, servers deleted mid-run; in half of them a SIGKILL of
the run followed by a second run) and checks the invariants after every run. Simulated time runs
at the benchmark's scale; nothing here sleeps. The full soak (``--trials 500``) runs before a
release (see docs/reliability.md).
"""

from __future__ import annotations

from prefect.settings import PREFECT_API_URL

from benchmarks.chaos import figures, soak
from hsnap.projects.registry import project_names
from tests.flows.conftest import prefect_harness

__all__ = ["prefect_harness"]

TRIALS = 20
SEED = 20261201
#: smaller fleets than the full soak's 10-50: each run of the CLI costs seconds of Python and
#: Prefect start-up, and CI must finish in a few minutes on a loaded 2-core machine
MAX_SERVERS = 20


def test_short_chaos_soak_keeps_every_invariant(prefect_harness: None) -> None:
    del prefect_harness
    results = soak(TRIALS, SEED, str(PREFECT_API_URL.value()), jobs=4, max_servers=MAX_SERVERS)
    summary = figures(results, wall_s=0.0)

    assert summary["trials"] == TRIALS
    # the draw covers what the soak promises: both modes, kills, every kind of fault
    assert 0 < summary["consistent_trials"] < TRIALS
    assert summary["killed_runs"] > 0
    assert summary["exit_codes"].get("0", 0) > 0  # runs that end well, checked for servers off
    assert set(summary["fault_kinds"]) == {"5xx", "504", "drop", "late", "429"}
    assert summary["violations"] == 0, "\n".join(summary["violation_list"])
    # each trial's Hetzner project (block and run slot) went with its simulator
    assert [p for p in project_names() if p.startswith("chaos-")] == []
