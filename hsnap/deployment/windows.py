"""How long hsnap waits before it calls something missed: the nightly run, a server's snapshot.

Windows come from the environment (``HSNAP_MISSED_RUN_HOURS``, ``HSNAP_RPO_HOURS``) so that tests
use seconds and production hours; Prefect accepts no proactive window under 10 seconds. The
alerts (``alerts.py``) and ``hsnap health`` read the same windows.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from hsnap.errors import ConfigError

DEFAULT_HOURS = 26.0
MIN_WINDOW = timedelta(seconds=10)  # Prefect's floor for proactive triggers


@dataclass(frozen=True)
class AlertWindows:
    """How long the nightly deployment may go without a Completed run; a server, a snapshot."""

    missed_run: timedelta = timedelta(hours=DEFAULT_HOURS)
    stale_server: timedelta = timedelta(hours=DEFAULT_HOURS)


def windows_from_env(env: Mapping[str, str] = os.environ) -> AlertWindows:
    """``HSNAP_MISSED_RUN_HOURS`` and ``HSNAP_RPO_HOURS`` (hours, fractions allowed), else 26 h."""
    return AlertWindows(
        missed_run=_hours(env, "HSNAP_MISSED_RUN_HOURS"),
        stale_server=_hours(env, "HSNAP_RPO_HOURS"),
    )


def _hours(env: Mapping[str, str], name: str) -> timedelta:
    text = env.get(name, "").strip()
    try:
        window = timedelta(hours=float(text)) if text else timedelta(hours=DEFAULT_HOURS)
    except (ValueError, OverflowError):
        raise ConfigError(f"{name}={text!r}: use a number of hours, e.g. 26") from None
    if window < MIN_WINDOW:
        raise ConfigError(f"{name}={text!r}: Prefect needs a window of at least 10 seconds")
    return window


def describe(window: timedelta) -> str:
    """``26 h``, ``90 min`` or ``12 s``: the window as a message says it."""
    seconds = window.total_seconds()
    if seconds >= 3600:
        return f"{seconds / 3600:.3g} h"
    if seconds >= 60:
        return f"{seconds / 60:.3g} min"
    return f"{seconds:.3g} s"
