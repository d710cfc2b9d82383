"""A world to restore in, shared by the server create/delete/rebuild contract tests.

Three servers (x86 40 GB, arm 40 GB, x86 80 GB), their snapshots, images that never boot or fail
to, one still being made, a quota of five servers. Durations are fixed so tests can step the clock.
"""

from __future__ import annotations

from typing import Any

RESTORE: dict[str, Any] = {
    "name": "restore",
    "projects": [
        {
            "name": "restore",
            "server_quota": 5,
            "action_durations": {
                "create_server": 20,
                "start_server": 10,
                "stop_server": 3,
                "delete_server": 5,
                "rebuild_server": 40,
            },
            "servers": [
                {"name": "app-1", "labels": {"env": "prod"}},
                {"name": "arm-1", "server_type": "cax11"},
                {"name": "big-1", "server_type": "cx32"},
                {"name": "safe-1", "protection": {"delete": True, "rebuild": True}},
            ],
            "images": [
                {"description": "app-1 nightly", "server": "app-1", "size": 3.5},
                {"description": "arm-1 nightly", "server": "arm-1"},
                {"description": "big-1 nightly", "server": "big-1", "disk": 80},
                {"description": "hangs at boot", "server": "app-1", "boot": "stuck"},
                {"description": "fails at boot", "server": "app-1", "boot": "error"},
                {"description": "half made", "server": "app-1", "status": "creating"},
            ],
        }
    ],
}
APP_1, ARM_1, BIG_1, SAFE_1 = range(100001, 100005)
NIGHTLY, ARM_NIGHTLY, BIG_NIGHTLY, HANGS, FAILS, HALF_MADE = range(300005, 300011)
CREATE_S, START_S, DELETE_S, REBUILD_S = 20, 10, 5, 40
