"""Which Prefect events a server's outcome stands for, and the run summary's size and cost lines."""

from __future__ import annotations

from typing import Any

import pytest

from hsnap.models import RunReport, SnapshotOutcome
from hsnap.observe.events import outcome_events
from hsnap.snapshot.report import markdown


def outcome(status: Any, **kw: Any) -> SnapshotOutcome:
    return SnapshotOutcome(server="web-1", server_id=kw.pop("server_id", 7), status=status, **kw)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (outcome("succeeded", image_id=1, image_size_gb=2.0), ["hsnap.snapshot.succeeded"]),
        (outcome("failed", error_code="lock_timeout"), ["hsnap.snapshot.failed"]),
        # the snapshot exists, and the server needs a person: both
        (
            outcome("left-off", image_id=1, image_size_gb=2.0),
            ["hsnap.snapshot.succeeded", "hsnap.server.left-off"],
        ),
        (outcome("left-off"), ["hsnap.server.left-off"]),  # no snapshot became available
        (outcome("planned"), []),  # a dry run changes nothing
        (outcome("failed", server_id=None), []),  # no such server: the report names it
    ],
)
def test_outcome_events(row: SnapshotOutcome, expected: list[str]) -> None:
    assert outcome_events(row) == expected


def test_summary_says_what_this_run_created_and_what_snapshots_cost() -> None:
    report = RunReport(
        "run",
        False,
        (
            outcome("succeeded", image_id=1, image_size_gb=2.5),
            outcome("succeeded", image_id=2, image_size_gb=1.25),
            outcome("failed", error_code="lock_timeout"),
        ),
    )

    text = markdown(report, "hsnap's 9 snapshot(s) of this project cost 1.00 EUR a month (net)")

    assert "This run created 2 snapshot(s), 3.75 GB in all." in text
    assert "cost 1.00 EUR a month (net)." in text
