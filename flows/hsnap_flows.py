"""Entrypoints of hsnap's flows for ``prefect deploy`` from a checkout (prefect.yaml names them).

The flows themselves live in the package, ``hsnap.flows``, so that ``pip install hsnap`` claims
only hsnap's own import names; a worker without a checkout runs them from the installed package
(``hsnap setup`` without ``--project-dir``). Prefect puts this folder first on ``sys.path``: no
module here may be named after a package (``hsnap.py``, ``prefect.py``, ``flows.py``, ...).
"""

from __future__ import annotations

from hsnap.flows.audit_snapshots import audit_snapshots
from hsnap.flows.prune_snapshots import prune_snapshots
from hsnap.flows.recover_servers import recover_servers
from hsnap.flows.restore_server import restore_server
from hsnap.flows.snapshot_fleet import snapshot_fleet
from hsnap.flows.snapshot_servers import snapshot_servers
from hsnap.flows.verify_snapshots import verify_snapshots

__all__ = [
    "audit_snapshots",
    "prune_snapshots",
    "recover_servers",
    "restore_server",
    "snapshot_fleet",
    "snapshot_servers",
    "verify_snapshots",
]
