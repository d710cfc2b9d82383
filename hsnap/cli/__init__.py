"""``hsnap``: the command line. Parse, call, render; no logic of its own.

One module per group of commands; each registers its commands on the shared ``app``.
"""

from __future__ import annotations

from hsnap.cli import (
    addresses,
    audit,
    deployment,
    health,
    projects,
    restore,
    retention,
    snapshot,
)
from hsnap.cli.common import app

__all__ = [
    "addresses",
    "app",
    "audit",
    "deployment",
    "health",
    "projects",
    "restore",
    "retention",
    "snapshot",
]
