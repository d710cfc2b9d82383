"""hsnap: trustworthy snapshots of Hetzner Cloud servers, run and recorded by Prefect."""

from __future__ import annotations

__version__ = "0.1.0"
