"""Whatever breaks underneath a run, the user of the CLI gets one message and no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.conftest import said

ROOT = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_prefect_api_unreachable_mid_run_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    port = closed_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "HCLOUD_ENDPOINT": f"http://127.0.0.1:{port}/v1",
        "HCLOUD_TOKEN": "sim-token",
    }
    done = subprocess.run(
        [sys.executable, "-m", "hsnap.cli", "run", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "hsnap: the run stopped unexpectedly" in said(done.stderr)
    assert "Failed to reach API" in said(done.stderr)
