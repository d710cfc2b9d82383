"""Which of hsnap's snapshots to keep and which to delete: a pure plan, like restic's ``forget``.

No I/O, no clock, no hcloud: the caller passes ``now`` and the timezone whose calendar defines
the hourly/daily/weekly/monthly/yearly periods, and applies the plan itself.

Safety rules, enforced here whatever the policy says:

- Only hsnap's own snapshots (``managed`` and ``image_type == "snapshot"``) are planned at all.
  Everything else (manual snapshots, another tool's, backups) is left out of the result, so a
  caller that deletes what the plan says cannot touch it.
- Never deleted: protected images, images still creating, the newest available snapshot of a
  server, anything of a server whose snapshot failed in this run, snapshots dated after ``now``,
  snapshots without a readable server id, and (by default) snapshots of servers that no longer
  exist.
- The ``min_keep`` newest available snapshots of every server are always kept.
- At most ``max_deletions`` deletions per plan: the oldest go first, the newer excess is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ImageStatus = Literal["available", "creating", "unavailable"]
Action = Literal["keep", "delete"]
PeriodKey = Callable[[datetime], tuple[int, ...]]

_STATUSES = frozenset({"available", "creating", "unavailable"})


@dataclass(frozen=True)
class RetentionPolicy:
    """How many snapshots of each server to keep, beyond the fixed safety rules.

    Attributes:
        keep_last: Keep the N newest available snapshots.
        hourly: Keep the newest snapshot of each of the N most recent hours that have one;
            ``daily``, ``weekly`` (ISO weeks), ``monthly`` and ``yearly`` likewise. Periods
            without a snapshot do not count, so missed runs do not shrink what is kept.
        min_keep: The ``min_keep`` newest available snapshots of a server always stay (>= 1).
        max_deletions: At most this many deletions per plan; ``None`` for no limit.
        keep_orphans: Keep every snapshot of a server that no longer exists (default), or
            apply the policy to them as to any other server's.
    """

    keep_last: int = 0
    hourly: int = 0
    daily: int = 7
    weekly: int = 4
    monthly: int = 6
    yearly: int = 0
    min_keep: int = 1
    max_deletions: int | None = 50
    keep_orphans: bool = True

    def __post_init__(self) -> None:
        for name, count in (("keep_last", self.keep_last), *self.period_counts()):
            if count < 0:
                raise ValueError(f"retention {name} must be 0 or more, not {count}")
        if self.min_keep < 1:
            raise ValueError(
                f"retention min_keep must be at least 1 (the newest snapshot of a server "
                f"always stays), not {self.min_keep}"
            )
        if self.max_deletions is not None and self.max_deletions < 0:
            raise ValueError(
                f"retention max_deletions must be 0 or more (or None for no limit), "
                f"not {self.max_deletions}"
            )

    def period_counts(self) -> tuple[tuple[str, int], ...]:
        """(period name, count) from the finest period to the coarsest: the order of reasons."""
        return (
            ("hourly", self.hourly),
            ("daily", self.daily),
            ("weekly", self.weekly),
            ("monthly", self.monthly),
            ("yearly", self.yearly),
        )


@dataclass(frozen=True)
class SnapshotFacts:
    """One snapshot image as retention sees it.

    Attributes:
        image_id: The image's id.
        server_id: From the ``hsnap/server-id`` label; ``None`` if missing or unparseable.
        created: When the image was created; timezone-aware (UTC from the API).
        status: The image's status.
        protected: Whether delete protection is on.
        managed: Whether the image carries ``managed-by=hsnap``.
        server_exists: Whether the server it was taken of still exists.
        image_type: ``snapshot`` or ``backup``; only snapshots are ever candidates.
    """

    image_id: int
    server_id: int | None
    created: datetime
    status: ImageStatus
    protected: bool
    managed: bool
    server_exists: bool
    image_type: str = "snapshot"

    def __post_init__(self) -> None:
        if self.created.utcoffset() is None:
            raise ValueError(f"image {self.image_id}: created must be timezone-aware")
        if self.status not in _STATUSES:
            raise ValueError(f"image {self.image_id}: unknown status {self.status!r}")


@dataclass(frozen=True)
class Decision:
    """What to do with one snapshot, and why (the reason is meant for people and reports)."""

    image_id: int
    server_id: int | None
    created: datetime
    action: Action
    reason: str


def plan_retention(
    snapshots: Iterable[SnapshotFacts],
    policy: RetentionPolicy,
    *,
    now: datetime,
    tz: tzinfo | str,
    failed_servers: Collection[int] = (),
) -> list[Decision]:
    """Decide, for each of hsnap's snapshots, whether to keep or delete it.

    Args:
        snapshots: Every image retention may look at; non-candidates (not ``managed``, or not a
            ``snapshot``) are skipped and do not appear in the result.
        policy: How much to keep.
        now: The time of the plan (timezone-aware); later snapshots are kept as clock skew.
        tz: The timezone (or its IANA name) whose calendar defines the periods.
        failed_servers: Servers whose snapshot in this run did not become available: nothing of
            theirs is deleted.

    Returns:
        One decision per candidate, by server id (a missing id last), newest first.

    Raises:
        ValueError: ``now`` is naive, ``tz`` is unknown, or an image id appears twice.
    """
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    zone = _zone(tz)
    groups = _candidates_by_server(snapshots)
    failed = frozenset(failed_servers)
    decisions: list[Decision] = []
    for server_id in sorted(groups, key=lambda sid: (sid is None, sid or 0)):
        is_failed = server_id is not None and server_id in failed
        decisions += _plan_server(groups[server_id], policy, now=now, zone=zone, failed=is_failed)
    return _cap_deletions(decisions, policy.max_deletions)


def _zone(tz: tzinfo | str) -> tzinfo:
    if not isinstance(tz, str):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown timezone {tz!r}; use an IANA name like 'Europe/Berlin'"
        ) from None


def _candidates_by_server(
    snapshots: Iterable[SnapshotFacts],
) -> dict[int | None, list[SnapshotFacts]]:
    groups: dict[int | None, list[SnapshotFacts]] = {}
    seen: set[int] = set()
    for snap in snapshots:
        if not snap.managed or snap.image_type != "snapshot":
            continue  # not hsnap's own snapshot: left out, so nothing can ever delete it by plan
        if snap.image_id in seen:
            raise ValueError(f"image {snap.image_id} appears twice in the retention input")
        seen.add(snap.image_id)
        groups.setdefault(snap.server_id, []).append(snap)
    return groups


def _newest_first(snapshots: Iterable[SnapshotFacts]) -> list[SnapshotFacts]:
    # the image id breaks ties so that equal timestamps still give one stable order
    return sorted(snapshots, key=lambda s: (s.created, s.image_id), reverse=True)


def _plan_server(
    group: list[SnapshotFacts],
    policy: RetentionPolicy,
    *,
    now: datetime,
    zone: tzinfo,
    failed: bool,
) -> list[Decision]:
    ordered = _newest_first(group)
    # Only available snapshots up to ``now`` fill buckets and count for min_keep: a snapshot from
    # the future (clock skew) would otherwise take the place of a real one in every period.
    pool = [s for s in ordered if s.status == "available" and s.created <= now]
    kept_by_policy = _policy_reasons(pool, policy, zone)
    # One stale "server exists" answer is enough to treat the whole server as gone: keeping more
    # is the safe side of an inconsistent input.
    orphan = policy.keep_orphans and not all(s.server_exists for s in ordered)
    decisions: list[Decision] = []
    for snap in ordered:
        reason = _standing_reason(snap, now=now, failed=failed, orphan=orphan)
        reason = reason or kept_by_policy.get(snap.image_id)
        if reason is not None:
            decisions.append(_decision(snap, "keep", reason))
        elif snap.status == "unavailable":
            decisions.append(_decision(snap, "delete", "deleted: unavailable"))
        else:
            decisions.append(_decision(snap, "delete", "deleted: beyond retention"))
    return decisions


def _standing_reason(
    snap: SnapshotFacts, *, now: datetime, failed: bool, orphan: bool
) -> str | None:
    """The reason to keep ``snap`` whatever the policy counts say, if there is one."""
    if snap.protected:
        return "kept: protected"
    if snap.status == "creating":
        return "kept: still creating"
    if snap.server_id is None:
        # without a server there is no "newest of the server" or min_keep to protect it by
        return "kept: server id unknown"
    if failed:
        # the older snapshots may be the only good ones this server has right now
        return "kept: this run's snapshot of the server failed"
    if orphan:
        return "kept: orphan (server deleted)"
    if snap.created > now:
        return "kept: newer than now (clock skew)"
    return None


def _policy_reasons(
    pool: list[SnapshotFacts], policy: RetentionPolicy, zone: tzinfo
) -> dict[int, str]:
    """Image id -> reason for each snapshot of ``pool`` (newest first) the policy keeps."""
    reasons: dict[int, str] = {}
    for rank, snap in enumerate(pool[: policy.keep_last], 1):
        reasons.setdefault(snap.image_id, f"kept: keep_last #{rank}")
    local = [(snap, snap.created.astimezone(zone)) for snap in pool]
    for name, count in policy.period_counts():
        heads = _period_heads(local, _PERIOD_KEYS[name])
        for rank, snap in enumerate(heads[:count], 1):
            reasons.setdefault(snap.image_id, f"kept: {name} #{rank}")
    if pool:
        reasons.setdefault(pool[0].image_id, "kept: newest available")
    # Always the newest min_keep rather than "top up to min_keep": a top-up would pick different
    # snapshots as the policy grows, so a larger policy could delete what a smaller one kept.
    for snap in pool[: policy.min_keep]:
        reasons.setdefault(snap.image_id, "kept: min_keep")
    return reasons


def _period_heads(
    local: list[tuple[SnapshotFacts, datetime]], key: PeriodKey
) -> list[SnapshotFacts]:
    """The newest snapshot of each period that has one, most recent period first."""
    seen: set[tuple[int, ...]] = set()
    heads: list[SnapshotFacts] = []
    for snap, when in local:
        period = key(when)
        if period not in seen:
            seen.add(period)
            heads.append(snap)
    return heads


# Keys of the calendar periods, computed on local time. ``fold`` tells the repeated hour apart
# when clocks go back: two real hours, two hourly buckets.
_PERIOD_KEYS: dict[str, PeriodKey] = {
    "hourly": lambda when: (when.toordinal(), when.hour, when.fold),
    "daily": lambda when: (when.toordinal(),),
    "weekly": lambda when: when.isocalendar()[:2],
    "monthly": lambda when: (when.year, when.month),
    "yearly": lambda when: (when.year,),
}


def _decision(snap: SnapshotFacts, action: Action, reason: str) -> Decision:
    return Decision(snap.image_id, snap.server_id, snap.created, action, reason)


def _cap_deletions(decisions: list[Decision], limit: int | None) -> list[Decision]:
    """Keep the deletions beyond ``limit``; the oldest snapshots are deleted first."""
    if limit is None:
        return decisions
    doomed = sorted((d for d in decisions if d.action == "delete"), key=_oldest_first)
    spared = {d.image_id for d in doomed[limit:]}
    return [
        replace(d, action="keep", reason="kept: max_deletions reached")
        if d.image_id in spared
        else d
        for d in decisions
    ]


def _oldest_first(decision: Decision) -> tuple[datetime, int]:
    return (decision.created, decision.image_id)
