"""The shared formats: ages as people say them, money in a fixed format, lists that fit a line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from hsnap.formats import (
    age,
    age_hours,
    age_since,
    amount,
    clip,
    duration,
    money_header,
    names,
)

NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (0, "0m"),
        (59, "0m"),
        (45 * 60, "45m"),
        (3600, "1h"),
        (3 * 3600 + 59, "3h"),
        (47 * 3600, "47h"),
        (48 * 3600, "2d"),
        (400 * 86400, "400d"),
        (-5, "0m"),
        (None, ""),
    ],
)
def test_ages_read_as_minutes_hours_or_days(seconds: float | None, said: str) -> None:
    assert age(seconds) == said


def test_ages_from_hours_and_from_a_moment() -> None:
    assert age_hours(50.4) == "2d"
    assert age_since((NOW - timedelta(hours=3)).isoformat(), NOW) == "3h"
    assert age_since(NOW - timedelta(days=9), NOW) == "9d"
    assert age_since(None, NOW) == ""


def test_money_has_a_fixed_number_of_places_and_no_currency() -> None:
    assert amount(Decimal("12.3")) == "12.30"
    assert amount("0.006", 4) == "0.0060"
    assert amount(Decimal("0.005")) == "0.01"  # half up, as an invoice rounds
    assert money_header("{currency}/month", "EUR") == "EUR/month"
    assert money_header("cost", "EUR") == "cost EUR"
    assert money_header("{currency}/month", "") == "cost/month"


def test_durations_and_lists_of_names() -> None:
    assert (duration(45), duration(185)) == ("45s", "3m05s")
    assert names(["a", "b"]) == "a, b"
    assert names([f"n{i}" for i in range(200)], limit=3) == "n0, n1, n2 and 197 more"


def test_clip_cuts_at_a_space_never_mid_word() -> None:
    assert clip("short enough", 20) == "short enough"
    assert clip("web-1 did not boot: disk read error", 24) == "web-1 did not boot…"
    assert clip("unbreakable-first-word", 10) == "unbreakab…"
