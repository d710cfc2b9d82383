"""hsnap: trustworthy snapshots of Hetzner Cloud servers, run and recorded by Prefect."""

from __future__ import annotations

__version__ = "0.1.0"
#: where the reference lives (``docs/`` of the repository); Prefect's block catalog links here
DOCS_URL = "https://github.com/hsnap/hsnap/blob/main/docs/"
