"""Alert windows from the environment: hours by default, seconds in tests, nonsense refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hsnap.deployment.windows import AlertWindows, describe, windows_from_env
from hsnap.errors import ConfigError


def test_default_windows_are_26_hours() -> None:
    assert windows_from_env({}) == AlertWindows(timedelta(hours=26), timedelta(hours=26))


def test_windows_are_hours_and_may_be_fractions() -> None:
    windows = windows_from_env({"HSNAP_MISSED_RUN_HOURS": "50", "HSNAP_RPO_HOURS": "0.005"})

    assert windows.missed_run == timedelta(hours=50)
    assert windows.stale_server == timedelta(seconds=18)


@pytest.mark.parametrize(
    ("value", "says"),
    [("abc", "use a number of hours"), ("0.001", "at least 10 seconds"), ("-3", "at least 10")],
)
def test_nonsense_windows_are_refused_with_what_to_do(value: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        windows_from_env({"HSNAP_RPO_HOURS": value})


@pytest.mark.parametrize(
    ("window", "text"),
    [
        (timedelta(hours=26), "26 h"),
        (timedelta(minutes=90), "1.5 h"),
        (timedelta(minutes=5), "5 min"),
        (timedelta(seconds=12), "12 s"),
    ],
)
def test_messages_say_the_window_in_a_readable_unit(window: timedelta, text: str) -> None:
    assert describe(window) == text
