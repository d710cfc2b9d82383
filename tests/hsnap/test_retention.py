"""Retention plans: every reason and safety rule as a table, then properties over random fleets."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hsnap.retention.policy import (
    Decision,
    ImageStatus,
    RetentionPolicy,
    SnapshotFacts,
    plan_retention,
)

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)  # a Monday
BERLIN = ZoneInfo("Europe/Berlin")
# Nothing but the safety rules: every count zero, min_keep 1, no cap on deletions.
BARE = RetentionPolicy(daily=0, weekly=0, monthly=0, max_deletions=None)
GROWABLE = ("keep_last", "hourly", "daily", "weekly", "monthly", "yearly", "min_keep")


def at(text: str) -> datetime:
    """A UTC time written as ``YYYY-MM-DD HH:MM``."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def snap(
    image_id: int,
    created: str | datetime,
    *,
    server: int | None = 1,
    status: ImageStatus = "available",
    protected: bool = False,
    managed: bool = True,
    exists: bool = True,
    image_type: str = "snapshot",
) -> SnapshotFacts:
    when = at(created) if isinstance(created, str) else created
    return SnapshotFacts(image_id, server, when, status, protected, managed, exists, image_type)


def policy(**changes: int | bool | None) -> RetentionPolicy:
    return replace(BARE, **changes)  # type: ignore[arg-type]  # replace() cannot check **changes


def reasons(decisions: Iterable[Decision]) -> dict[int, str]:
    """Image id -> reason, after checking that each action agrees with its reason."""
    result: dict[int, str] = {}
    for d in decisions:
        assert d.reason.startswith("kept: " if d.action == "keep" else "deleted: "), d
        result[d.image_id] = d.reason
    return result


def deleted(decisions: Iterable[Decision]) -> set[int]:
    return {d.image_id for d in decisions if d.action == "delete"}


TABLE = [
    pytest.param(
        [snap(1, "2026-06-14 03:00"), snap(2, "2026-06-13 03:00"), snap(3, "2026-06-12 03:00")],
        policy(keep_last=2),
        (),
        {1: "kept: keep_last #1", 2: "kept: keep_last #2", 3: "deleted: beyond retention"},
        id="keep_last keeps the newest",
    ),
    pytest.param(
        [
            snap(1, "2026-06-15 11:50"),
            snap(2, "2026-06-15 11:10"),
            snap(3, "2026-06-15 10:59"),
            snap(4, "2026-06-15 08:00"),
        ],
        policy(hourly=2),
        (),
        {
            1: "kept: hourly #1",
            2: "deleted: beyond retention",
            3: "kept: hourly #2",
            4: "deleted: beyond retention",
        },
        id="hourly keeps the newest of each hour",
    ),
    pytest.param(
        [
            snap(1, "2026-06-15 03:00"),
            snap(2, "2026-06-14 23:00"),
            snap(3, "2026-06-14 01:00"),
            snap(4, "2026-06-13 12:00"),
            snap(5, "2026-06-12 12:00"),
        ],
        policy(daily=3),
        (),
        {
            1: "kept: daily #1",
            2: "kept: daily #2",
            3: "deleted: beyond retention",
            4: "kept: daily #3",
            5: "deleted: beyond retention",
        },
        id="daily keeps the newest of each day",
    ),
    pytest.param(
        [
            snap(1, "2026-06-15 03:00"),  # Monday
            snap(2, "2026-06-14 03:00"),  # Sunday: the ISO week before
            snap(3, "2026-06-08 03:00"),  # Monday of that same week
            snap(4, "2026-06-07 03:00"),
        ],
        policy(weekly=2),
        (),
        {
            1: "kept: weekly #1",
            2: "kept: weekly #2",
            3: "deleted: beyond retention",
            4: "deleted: beyond retention",
        },
        id="weekly keeps the newest of each ISO week",
    ),
    pytest.param(
        [
            snap(1, "2026-06-01 03:00"),
            snap(2, "2026-05-31 03:00"),
            snap(3, "2026-05-01 03:00"),
            snap(4, "2025-12-31 03:00"),
            snap(5, "2025-01-01 03:00"),
            snap(6, "2024-06-01 03:00"),
        ],
        policy(monthly=2, yearly=3),
        (),
        {
            1: "kept: monthly #1",
            2: "kept: monthly #2",
            3: "deleted: beyond retention",
            4: "kept: yearly #2",
            5: "deleted: beyond retention",
            6: "kept: yearly #3",
        },
        id="monthly and yearly",
    ),
    pytest.param(
        [
            snap(1, "2026-06-15 03:00"),
            snap(2, "2026-06-14 03:00"),
            snap(3, "2026-06-13 03:00"),
            snap(4, "2026-06-05 03:00"),
        ],
        policy(keep_last=1, daily=2, weekly=3),
        (),
        {
            1: "kept: keep_last #1",
            2: "kept: daily #2",
            3: "deleted: beyond retention",
            4: "kept: weekly #3",
        },
        id="the first rule that keeps a snapshot names the reason",
    ),
    pytest.param(
        [
            snap(1, "2026-06-15 10:00"),
            snap(2, "2026-06-06 10:00"),
            snap(3, "2026-06-10 10:00"),
            snap(4, "2026-05-20 10:00"),
            snap(5, "2026-05-19 10:00"),
            snap(6, "2026-05-18 10:00"),
            snap(7, "2026-05-17 10:00"),
            snap(8, "2026-05-16 10:00"),
            snap(9, "2026-05-15 10:00"),
        ],
        policy(daily=7),
        (),
        {
            1: "kept: daily #1",
            3: "kept: daily #2",
            2: "kept: daily #3",
            4: "kept: daily #4",
            5: "kept: daily #5",
            6: "kept: daily #6",
            7: "kept: daily #7",
            8: "deleted: beyond retention",
            9: "deleted: beyond retention",
        },
        id="missed runs do not shrink what is kept",
    ),
    pytest.param(
        [snap(1, "2026-06-14 03:00"), snap(2, "2026-06-13 03:00"), snap(3, "2026-06-12 03:00")],
        BARE,
        (),
        {
            1: "kept: newest available",
            2: "deleted: beyond retention",
            3: "deleted: beyond retention",
        },
        id="the newest available stays under an empty policy",
    ),
    pytest.param(
        [
            snap(1, "2026-06-15 11:00", status="creating"),
            snap(2, "2026-06-15 10:00", status="unavailable"),
            snap(3, "2026-06-14 03:00"),
            snap(4, "2026-06-13 03:00"),
            snap(5, "2026-06-12 03:00"),
            snap(6, "2026-06-11 03:00"),
        ],
        policy(min_keep=3),
        (),
        {
            1: "kept: still creating",
            2: "deleted: unavailable",
            3: "kept: newest available",
            4: "kept: min_keep",
            5: "kept: min_keep",
            6: "deleted: beyond retention",
        },
        id="min_keep counts only available snapshots",
    ),
    pytest.param(
        [snap(1, "2026-06-15 10:00"), snap(2, "2026-06-15 09:00"), snap(3, "2026-06-14 10:00")],
        policy(daily=2, min_keep=2),
        (),
        {1: "kept: daily #1", 2: "kept: min_keep", 3: "kept: daily #2"},
        id="min_keep keeps the newest, not just enough",  # so more retention never deletes more
    ),
    pytest.param(
        [
            snap(1, "2026-06-14 03:00"),
            snap(2, "2026-06-13 03:00", protected=True),
            snap(3, "2026-06-12 03:00", status="unavailable", protected=True),
            snap(4, "2026-06-11 03:00"),
        ],
        policy(daily=1),
        (),
        {
            1: "kept: daily #1",
            2: "kept: protected",
            3: "kept: protected",
            4: "deleted: beyond retention",
        },
        id="protected images stay",
    ),
    pytest.param(
        [snap(1, "2026-06-14 03:00", protected=True), snap(2, "2026-06-13 03:00")],
        BARE,
        (),
        {1: "kept: protected", 2: "deleted: beyond retention"},
        id="a protected snapshot can be the newest available",
    ),
    pytest.param(
        [snap(1, "2026-06-15 11:00", status="unavailable"), snap(2, "2026-06-14 03:00")],
        BARE,
        (),
        {1: "deleted: unavailable", 2: "kept: newest available"},
        id="an unavailable snapshot is never the newest available",
    ),
    pytest.param(
        [
            snap(1, "2026-06-15 11:00", status="unavailable"),
            snap(2, "2026-06-14 03:00"),
            snap(3, "2025-01-01 03:00"),
            snap(4, "2026-06-15 11:00", server=2),
            snap(5, "2026-06-14 03:00", server=2),
        ],
        BARE,
        (1,),
        {
            1: "kept: this run's snapshot of the server failed",
            2: "kept: this run's snapshot of the server failed",
            3: "kept: this run's snapshot of the server failed",
            4: "kept: newest available",
            5: "deleted: beyond retention",
        },
        id="nothing of a server whose snapshot failed in this run is deleted",
    ),
    pytest.param(
        [
            snap(1, "2026-06-14 03:00", exists=False),
            snap(2, "2026-06-13 03:00", exists=False),
            snap(3, "2026-06-12 03:00", exists=False, status="unavailable"),
        ],
        BARE,
        (),
        {
            1: "kept: orphan (server deleted)",
            2: "kept: orphan (server deleted)",
            3: "kept: orphan (server deleted)",
        },
        id="orphans are kept by default",
    ),
    pytest.param(
        [
            snap(1, "2026-06-14 03:00", exists=False),
            snap(2, "2026-06-13 03:00", exists=False),
            snap(3, "2026-06-12 03:00", exists=False, status="unavailable"),
        ],
        policy(keep_orphans=False),
        (),
        {1: "kept: newest available", 2: "deleted: beyond retention", 3: "deleted: unavailable"},
        id="orphans follow the policy when asked",
    ),
    pytest.param(
        [
            snap(1, NOW + timedelta(hours=1)),
            snap(2, "2026-06-15 10:00"),
            snap(3, "2026-06-15 09:00"),
        ],
        policy(daily=1),
        (),
        {
            1: "kept: newer than now (clock skew)",
            2: "kept: daily #1",
            3: "deleted: beyond retention",
        },
        id="a snapshot from the future is kept and takes no bucket",
    ),
    pytest.param(
        [
            snap(1, "2026-06-14 03:00", server=None),
            snap(2, "2020-06-13 03:00", server=None, exists=False),
        ],
        BARE,
        (),
        {1: "kept: server id unknown", 2: "kept: server id unknown"},
        id="without a server id nothing is deleted",
    ),
    pytest.param(
        [
            snap(1, "2026-06-15 11:00", managed=False),  # made by hand
            snap(2, "2026-06-15 10:00", managed=False, status="unavailable"),  # another tool's
            snap(3, "2026-06-15 09:00", image_type="backup"),
            snap(4, "2026-06-14 03:00"),
            snap(5, "2026-06-13 03:00"),
        ],
        BARE,
        (),
        {4: "kept: newest available", 5: "deleted: beyond retention"},
        id="what hsnap did not make is left out and does not count",
    ),
    pytest.param(
        [
            snap(1, "2026-06-15 11:30", status="creating"),  # this run's, still being made
            snap(2, "2026-06-15 11:00", managed=False),  # made by hand
            snap(3, "2026-06-15 10:00", image_type="backup"),
            snap(4, "2026-06-15 03:00"),
            snap(5, "2026-06-14 03:00", status="unavailable"),
            snap(6, "2026-06-14 02:00"),
            snap(7, "2026-06-13 03:00"),
            snap(8, "2026-01-01 03:00", protected=True),
            snap(9, "2026-06-15 11:30", server=2, status="unavailable"),  # this run's, failed
            snap(10, "2026-06-14 03:00", server=2),
            snap(11, "2026-01-01 03:00", server=2),
            snap(12, "2026-06-14 03:00", server=3, exists=False),
            snap(13, "2026-01-01 03:00", server=3, exists=False),
        ],
        policy(daily=2),
        (2,),
        {
            1: "kept: still creating",
            4: "kept: daily #1",
            5: "deleted: unavailable",
            6: "kept: daily #2",
            7: "deleted: beyond retention",
            8: "kept: protected",
            9: "kept: this run's snapshot of the server failed",
            10: "kept: this run's snapshot of the server failed",
            11: "kept: this run's snapshot of the server failed",
            12: "kept: orphan (server deleted)",
            13: "kept: orphan (server deleted)",
        },
        id="a mixed fleet",
    ),
]


@pytest.mark.parametrize(("snapshots", "retention", "failed", "expected"), TABLE)
def test_plan(
    snapshots: list[SnapshotFacts],
    retention: RetentionPolicy,
    failed: tuple[int, ...],
    expected: dict[int, str],
) -> None:
    got = plan_retention(snapshots, retention, now=NOW, tz="UTC", failed_servers=failed)
    assert reasons(got) == expected


@pytest.mark.parametrize(
    ("cap", "expected"),
    [
        (None, {3: "deleted: beyond retention", 4: "deleted: beyond retention"}),
        (2, {3: "deleted: beyond retention", 4: "deleted: beyond retention"}),
        (1, {3: "kept: max_deletions reached", 4: "deleted: beyond retention"}),
        (0, {3: "kept: max_deletions reached", 4: "kept: max_deletions reached"}),
    ],
)
def test_max_deletions_deletes_the_oldest_first(cap: int | None, expected: dict[int, str]) -> None:
    snapshots = [
        snap(1, "2026-06-14 03:00"),
        snap(2, "2026-06-14 03:00", server=2),
        snap(3, "2026-06-12 03:00"),
        snap(4, "2026-06-11 03:00", server=2),  # the oldest, though on another server
    ]
    got = reasons(plan_retention(snapshots, policy(max_deletions=cap), now=NOW, tz="UTC"))
    assert got == {1: "kept: newest available", 2: "kept: newest available", **expected}


DST_TABLE = [
    pytest.param(
        [
            snap(1, "2026-03-28 22:30"),  # 23:30 CET on the 28th
            snap(2, "2026-03-28 23:30"),  # 00:30 CET on the 29th, the switch day
            snap(3, "2026-03-29 21:30"),  # 23:30 CEST on the 29th
            snap(4, "2026-03-29 22:30"),  # 00:30 CEST on the 30th
        ],
        policy(daily=10),
        {
            4: "kept: daily #1",
            3: "kept: daily #2",
            2: "deleted: beyond retention",
            1: "kept: daily #3",
        },
        id="spring forward: local days",
    ),
    pytest.param(
        [
            snap(1, "2026-10-24 21:30"),  # 23:30 CEST on the 24th
            snap(2, "2026-10-24 22:30"),  # 00:30 CEST on the 25th, the switch day
            snap(3, "2026-10-25 22:30"),  # 23:30 CET on the 25th
            snap(4, "2026-10-25 23:30"),  # 00:30 CET on the 26th
        ],
        policy(daily=10),
        {
            4: "kept: daily #1",
            3: "kept: daily #2",
            2: "deleted: beyond retention",
            1: "kept: daily #3",
        },
        id="fall back: local days",
    ),
    pytest.param(
        [
            snap(1, "2026-10-25 00:30"),  # 02:30 CEST
            snap(2, "2026-10-25 01:30"),  # 02:30 CET, an hour later: another hour
            snap(3, "2026-10-25 01:40"),
        ],
        policy(hourly=5),
        {3: "kept: hourly #1", 2: "deleted: beyond retention", 1: "kept: hourly #2"},
        id="fall back: the repeated hour is two hours",
    ),
]


@pytest.mark.parametrize(("snapshots", "retention", "expected"), DST_TABLE)
def test_periods_follow_the_local_calendar(
    snapshots: list[SnapshotFacts], retention: RetentionPolicy, expected: dict[int, str]
) -> None:
    late = at("2026-12-01 00:00")
    by_name = plan_retention(snapshots, retention, now=late, tz="Europe/Berlin")
    by_zone = plan_retention(snapshots, retention, now=late, tz=BERLIN)
    assert reasons(by_name) == expected
    assert by_zone == by_name


def test_decisions_come_by_server_then_newest_first() -> None:
    snapshots = [
        snap(1, "2026-06-10 03:00", server=3),
        snap(2, "2026-06-12 03:00", server=None),
        snap(3, "2026-06-11 03:00", server=1),
        snap(4, "2026-06-13 03:00", server=3),
        snap(5, "2026-06-13 03:00", server=1),
        snap(6, "2026-06-13 03:00", server=1),  # same time as 5: the id breaks the tie
    ]
    got = plan_retention(snapshots, BARE, now=NOW, tz="UTC")
    assert [(d.server_id, d.image_id) for d in got] == [
        (1, 6),
        (1, 5),
        (1, 3),
        (3, 4),
        (3, 1),
        (None, 2),
    ]
    assert got == plan_retention(reversed(snapshots), BARE, now=NOW, tz="UTC")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"daily": -1}, "daily must be 0 or more"),
        ({"keep_last": -2}, "keep_last must be 0 or more"),
        ({"yearly": -1}, "yearly must be 0 or more"),
        ({"min_keep": 0}, "min_keep must be at least 1"),
        ({"max_deletions": -1}, "max_deletions must be 0 or more"),
    ],
)
def test_bad_policies_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetentionPolicy(**changes)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        plan_retention([], BARE, now=datetime(2026, 1, 1), tz="UTC")
    for zone in ("Mars/Olympus", "", "../etc/passwd"):
        with pytest.raises(ValueError, match="unknown timezone"):
            plan_retention([], BARE, now=NOW, tz=zone)
    with pytest.raises(ValueError, match="image 7 appears twice"):
        plan_retention([snap(7, NOW), snap(7, NOW, server=2)], BARE, now=NOW, tz="UTC")
    with pytest.raises(ValueError, match="created must be timezone-aware"):
        snap(1, datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="unknown status"):
        snap(1, NOW, status="deleted")  # type: ignore[arg-type]  # what a wrong caller might pass


# --- properties ------------------------------------------------------------------------------

SERVERS = (1, 2, 3)
ZONES = st.sampled_from(
    ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"]
)
# Failed and deleted servers are kept whole, so most draws leave the policy most servers to decide.
FAILED = st.sampled_from([frozenset(), frozenset(), frozenset({1}), frozenset({1, 2})])
GONE = st.sampled_from([frozenset(), frozenset(), frozenset({3}), frozenset({2, 3})])


# (status, protected, managed, image_type): mostly plain available snapshots of hsnap's
Variant = tuple[ImageStatus, bool, bool, str]
PLAIN: Variant = ("available", False, True, "snapshot")
VARIANTS: list[Variant] = [
    *[PLAIN] * 12,
    ("available", True, True, "snapshot"),
    ("available", False, False, "snapshot"),
    ("available", False, True, "backup"),
    ("creating", False, True, "snapshot"),
    ("creating", False, False, "snapshot"),
    ("unavailable", False, True, "snapshot"),
    ("unavailable", False, True, "snapshot"),
    ("unavailable", True, True, "snapshot"),
    ("unavailable", False, False, "snapshot"),
]
# Dense spans make several snapshots share an hour or a day; the long one reaches back two years.
SPANS = st.sampled_from([3 * 24 * 60, 40 * 24 * 60, 730 * 24 * 60])


@st.composite
def fleets(draw: st.DrawFn) -> list[SnapshotFacts]:
    """A few servers' images, up to six hours past NOW (clock skew), every kind mixed in.

    Half the fleets are one server's plain snapshots: the policy then decides everything, which
    is where its own mistakes (rather than the safety rules) show.
    """
    plain = draw(st.booleans())
    servers = (1,) if plain else (*SERVERS, *SERVERS, None)
    variants = [PLAIN] if plain else VARIANTS
    gone = frozenset() if plain else draw(GONE)
    span = draw(SPANS)
    snapshots = []
    for image_id in range(1, draw(st.integers(0, 40)) + 1):
        server = draw(st.sampled_from(servers))
        status, protected, managed, image_type = draw(st.sampled_from(variants))
        minutes = draw(st.integers(0, span))
        snapshots.append(
            SnapshotFacts(
                image_id=image_id,
                server_id=server,
                created=NOW + timedelta(hours=6, minutes=-minutes),
                status=status,
                protected=protected,
                managed=managed,
                server_exists=server is not None and server not in gone,
                image_type=image_type,
            )
        )
    return snapshots


# Mostly small counts, often zero: policies that keep little are where the safety rules bite.
COUNT = st.sampled_from((0, 0, 0, 1, 1, 2, 3, 5, 8))
policies = st.builds(
    RetentionPolicy,
    keep_last=COUNT,
    hourly=COUNT,
    daily=COUNT,
    weekly=COUNT,
    monthly=COUNT,
    yearly=COUNT,
    min_keep=st.sampled_from((1, 1, 2, 3, 4)),
    max_deletions=st.none() | st.integers(0, 12),
    keep_orphans=st.booleans(),
)


def candidates(fleet: Sequence[SnapshotFacts]) -> list[SnapshotFacts]:
    return [s for s in fleet if s.managed and s.image_type == "snapshot"]


@given(fleets(), policies, ZONES, FAILED)
def test_a_plan_applied_leaves_nothing_more_to_delete(
    fleet: list[SnapshotFacts], retention: RetentionPolicy, zone: str, failed: frozenset[int]
) -> None:
    retention = replace(retention, max_deletions=None)
    first = plan_retention(fleet, retention, now=NOW, tz=zone, failed_servers=failed)
    gone = deleted(first)
    rest = [s for s in fleet if s.image_id not in gone]
    assert not deleted(plan_retention(rest, retention, now=NOW, tz=zone, failed_servers=failed))


@st.composite
def growing_policies(draw: st.DrawFn) -> tuple[RetentionPolicy, RetentionPolicy]:
    """A policy and one that keeps more: counts and min_keep raised, orphans maybe kept."""
    retention = draw(policies)
    names = draw(st.sets(st.sampled_from(GROWABLE), min_size=1, max_size=2))
    grown = {name: getattr(retention, name) + draw(st.integers(1, 3)) for name in names}
    keep_orphans = retention.keep_orphans or draw(st.booleans())
    return retention, replace(retention, **grown, keep_orphans=keep_orphans)


@settings(max_examples=300)  # the counterexamples that matter are narrow; look harder
@given(fleets(), growing_policies(), ZONES, FAILED)
def test_more_retention_never_deletes_more(
    fleet: list[SnapshotFacts],
    pair: tuple[RetentionPolicy, RetentionPolicy],
    zone: str,
    failed: frozenset[int],
) -> None:
    retention, larger = pair

    def doomed(chosen: RetentionPolicy) -> set[int]:
        return deleted(plan_retention(fleet, chosen, now=NOW, tz=zone, failed_servers=failed))

    # The subset relation holds without a cap; no cap can keep it (it picks among what is
    # deletable), but a cap still never lets the larger policy delete more in number.
    uncapped = replace(retention, max_deletions=None)
    assert doomed(replace(larger, max_deletions=None)) <= doomed(uncapped)
    assert len(doomed(larger)) <= len(doomed(retention))


@given(fleets(), policies, ZONES, FAILED)
def test_the_newest_available_snapshot_of_a_server_stays(
    fleet: list[SnapshotFacts], retention: RetentionPolicy, zone: str, failed: frozenset[int]
) -> None:
    gone = deleted(plan_retention(fleet, retention, now=NOW, tz=zone, failed_servers=failed))
    for server in SERVERS:
        available = [
            s for s in candidates(fleet) if s.server_id == server and s.status == "available"
        ]
        if available:
            newest = max(s.created for s in available)
            assert any(s.created == newest and s.image_id not in gone for s in available)


@given(fleets(), policies, ZONES, FAILED)
def test_untouchable_images_are_never_deleted(
    fleet: list[SnapshotFacts], retention: RetentionPolicy, zone: str, failed: frozenset[int]
) -> None:
    got = plan_retention(fleet, retention, now=NOW, tz=zone, failed_servers=failed)
    ours = candidates(fleet)
    assert sorted(d.image_id for d in got) == sorted(s.image_id for s in ours)
    gone = deleted(got)
    for s in ours:
        if s.protected or s.status == "creating" or s.server_id in failed:
            assert s.image_id not in gone, s
        if s.server_id is None or s.created > NOW:
            assert s.image_id not in gone, s
        if retention.keep_orphans and not s.server_exists:
            assert s.image_id not in gone, s


@given(fleets(), policies, ZONES, FAILED)
def test_min_keep_available_snapshots_of_each_server_remain(
    fleet: list[SnapshotFacts], retention: RetentionPolicy, zone: str, failed: frozenset[int]
) -> None:
    gone = deleted(plan_retention(fleet, retention, now=NOW, tz=zone, failed_servers=failed))
    for server in SERVERS:
        available = [
            s for s in candidates(fleet) if s.server_id == server and s.status == "available"
        ]
        remaining = [s for s in available if s.image_id not in gone]
        assert len(remaining) >= min(retention.min_keep, len(available))


@given(fleets(), policies, ZONES, FAILED, st.randoms(use_true_random=False))
def test_deletions_are_capped_and_the_plan_ignores_input_order(
    fleet: list[SnapshotFacts],
    retention: RetentionPolicy,
    zone: str,
    failed: frozenset[int],
    rng: random.Random,
) -> None:
    got = plan_retention(fleet, retention, now=NOW, tz=zone, failed_servers=failed)
    if retention.max_deletions is not None:
        assert len(deleted(got)) <= retention.max_deletions
    shuffled = list(fleet)
    rng.shuffle(shuffled)
    assert plan_retention(shuffled, retention, now=NOW, tz=zone, failed_servers=failed) == got


# Local wall-clock times near a DST switch; 02:xx is left out because on switch days it either does
# not exist or happens twice, so it has no single place on the calendar to shift by.
WALL_TIMES = st.builds(time, st.sampled_from([h for h in range(24) if h != 2]), st.integers(0, 59))
SWITCH_DAYS = st.sampled_from([date(2026, 3, 29), date(2026, 10, 25)])


def berlin_fleet(switch: date, walls: list[tuple[int, time]], shift: int) -> list[SnapshotFacts]:
    """Snapshots at local ``walls`` (day offset from ``switch``, time), moved ``shift`` days."""
    snapshots = []
    for image_id, (offset, wall) in enumerate(walls, 1):
        local = datetime.combine(switch + timedelta(days=offset + shift), wall, tzinfo=BERLIN)
        snapshots.append(snap(image_id, local.astimezone(UTC)))
    return snapshots


@given(
    SWITCH_DAYS,
    st.lists(st.tuples(st.integers(-6, 3), WALL_TIMES), min_size=1, max_size=30, unique=True),
    st.integers(1, 12),
)
def test_daily_keeps_one_per_local_day_of_the_n_latest_days_that_have_one(
    switch: date, walls: list[tuple[int, time]], days: int
) -> None:
    """With enough days this is exactly one snapshot per local calendar day, switch days too."""
    fleet = berlin_fleet(switch, walls, 0)
    later = datetime.combine(switch + timedelta(days=5), time(12), tzinfo=BERLIN)
    got = plan_retention(fleet, policy(daily=days), now=later, tz="Europe/Berlin")
    newest_of_day: dict[date, int] = {}
    for image_id, (offset, _) in sorted(enumerate(walls, 1), key=lambda item: item[1]):
        newest_of_day[switch + timedelta(days=offset)] = image_id
    latest_days = sorted(newest_of_day, reverse=True)[:days]
    assert {d.image_id for d in got if d.action == "keep"} == {
        newest_of_day[day] for day in latest_days
    }


@given(
    SWITCH_DAYS,
    st.lists(st.tuples(st.integers(-6, 3), WALL_TIMES), min_size=1, max_size=30, unique=True),
    st.integers(0, 6),
    st.integers(1, 12),
    st.integers(-400, 400),
)
def test_moving_every_time_by_whole_local_days_changes_no_decision(
    switch: date, walls: list[tuple[int, time]], hourly: int, daily: int, shift: int
) -> None:
    """Whole days on the local calendar: 24 h in UTC across a switch moves local times an hour."""
    retention = policy(hourly=hourly, daily=daily)

    def plan_shifted(days: int) -> dict[int, str]:
        later = datetime.combine(switch + timedelta(days=5 + days), time(12), tzinfo=BERLIN)
        fleet = berlin_fleet(switch, walls, days)
        return reasons(plan_retention(fleet, retention, now=later, tz=BERLIN))

    assert plan_shifted(shift) == plan_shifted(0)
