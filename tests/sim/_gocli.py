"""Running the official ``hcloud`` Go CLI against a simulator, for the Go CLI contract tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hcloud_sim import SimulatorServer

#: simulated seconds per real second: a snapshot (60-240 s) ends within ~0.4 s real time
FAST = 600
CLI_TIMEOUT = 30  # seconds of real time per CLI invocation

Run = Callable[..., subprocess.CompletedProcess[str]]


def find_hcloud() -> str:
    """The CLI's path; skips the test where it is not installed (fails in CI, which installs it)."""
    path = shutil.which("hcloud")
    if path is None:
        reason = "the official hcloud CLI is not installed (apt-get install hcloud-cli)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI installs it, so a missing binary there is a defect")
        pytest.skip(reason)
    return path


def runner(hcloud_bin: str, sim: SimulatorServer, config_dir: Path) -> Run:
    """``run(*args, token=..., ok=True)``: the CLI against ``sim``, asserting its exit status."""
    # Only the variables we set reach the CLI: no HCLOUD_CONTEXT/HCLOUD_DEBUG from the caller.
    base = {k: v for k, v in os.environ.items() if not k.startswith("HCLOUD_")}
    base.update(
        HOME=str(config_dir),
        HCLOUD_CONFIG=str(config_dir / "cli.toml"),
        HCLOUD_ENDPOINT=sim.url,
    )

    def run(
        *args: str, token: str = "sim-token", ok: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [hcloud_bin, "--poll-interval", "50ms", *args],
            env={**base, "HCLOUD_TOKEN": token},
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            check=False,
        )
        if ok:
            assert result.returncode == 0, (
                f"hcloud {' '.join(args)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        else:
            assert result.returncode != 0, f"hcloud {' '.join(args)} succeeded:\n{result.stdout}"
        return result

    return run


def server_named(sim: SimulatorServer, name: str) -> dict[str, Any]:
    return next(s for s in sim.state.ground_truth()["servers"] if s["name"] == name)


def failed_requests(sim: SimulatorServer) -> list[dict[str, Any]]:
    return [c for c in sim.state.request_counts() if c["status"] >= 400]
