"""The chaos soak's short CI variant: 20 seeded trials of the real CLI against a faulty simulator.

``benchmarks/chaos.py`` draws each trial (fleet of 10-50 servers, plain or consistent mode, a mix of
5xx/504 bursts, dropped connections, creates answered after the client's timeout, 429s, failing
actions, servers deleted mid-run, and in half of them a SIGKILL of the run followed by a second
run) and checks the invariants after every run. Simulated time runs at the benchmark's scale;
nothing here sleeps. The full soak (``--trials 500``) runs before a release (see README).
"""

from __future__ import annotations

from prefect.settings import PREFECT_API_URL

from benchmarks.chaos import figures, soak
from tests.flows.conftest import prefect_harness

__all__ = ["prefect_harness"]

TRIALS = 20
SEED = 20261201


def test_short_chaos_soak_keeps_every_invariant(prefect_harness: None) -> None:
    del prefect_harness
    results = soak(TRIALS, SEED, str(PREFECT_API_URL.value()), jobs=4)
    summary = figures(results, wall_s=0.0)

    assert summary["trials"] == TRIALS
    # the draw covers what the soak promises: both modes, kills, every kind of fault
    assert 0 < summary["consistent_trials"] < TRIALS
    assert summary["killed_runs"] > 0
    assert set(summary["fault_kinds"]) == {"5xx", "504", "drop", "late", "429"}
    assert summary["violations"] == 0, "\n".join(summary["violation_list"])
