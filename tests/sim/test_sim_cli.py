"""The ``hcloud-sim`` command: serve (with a control token and scenario dirs), check, scenarios."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

EXAMPLE = Path(__file__).parent / "data" / "example.yaml"


def _hcloud_sim(*args: str) -> list[str]:
    # the module rather than the console script: the script runs whichever tree was installed
    return [sys.executable, "-m", "hcloud_sim.cli", *args]


#: this tree first on the path; rich would wrap messages at 80 columns
_ENV = {**os.environ, "COLUMNS": "400", "PYTHONPATH": str(Path(__file__).parents[2])}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _hcloud_sim(*args),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=_ENV,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def _serving(*args: str) -> Iterator[tuple[str, list[str]]]:
    """``hcloud-sim serve ARGS`` on a free port: (base URL, [its stderr, once it stopped])."""
    port = _free_port()
    proc = subprocess.Popen(
        _hcloud_sim("serve", "--port", str(port), *args),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=_ENV,
    )
    base = f"http://127.0.0.1:{port}"
    output: list[str] = []
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None:  # bounded readiness poll
            try:
                requests.get(f"{base}/_sim/health", timeout=1)
                break
            except requests.exceptions.ConnectionError:
                time.sleep(0.05)
        assert proc.poll() is None, f"hcloud-sim serve did not come up (exit {proc.poll()})"
        yield base, output
    finally:
        proc.terminate()
        try:
            _, stderr = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, stderr = proc.communicate()
        output.append(stderr)


def test_serve_answers_until_terminated() -> None:
    with _serving("--scenario", "demo", "--time-scale", "50") as (base, stderr):
        health = requests.get(f"{base}/_sim/health", timeout=5)
        assert health.json() == {"status": "ok", "scenario": "demo"}
        assert requests.get(f"{base}/_sim/clock", timeout=5).json()["time_scale"] == 50
        servers = requests.get(
            f"{base}/v1/servers", headers={"Authorization": "Bearer sim-token"}, timeout=5
        )
        assert servers.json()["meta"]["pagination"]["total_entries"] == 12
    assert f"{base}/v1" in stderr[0]  # the banner says where the API is


def test_serve_with_a_control_token_and_a_scenario_dir(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("projects: [{servers: [{name: m-1}]}]", encoding="utf-8")
    token = "ctl-token-7d1e"
    args = ("--scenario", "empty", "--scenario-dir", str(tmp_path), "--control-token", token)
    with _serving(*args) as (base, stderr):
        assert requests.get(f"{base}/_sim/health", timeout=5).status_code == 401
        auth = {"Authorization": f"Bearer {token}"}
        reset = requests.post(
            f"{base}/_sim/reset",
            json={"scenario": str(tmp_path / "mine.yaml")},
            headers=auth,
            timeout=5,
        )
        assert reset.json() == {"status": "reset", "scenario": "mine"}
    assert "control token required" in stderr[0]
    assert token not in stderr[0]


@pytest.mark.parametrize(
    ("option", "value", "problem"),
    [
        ("--time-scale", "nan", "--time-scale must be > 0 and at most 1e+06"),
        ("--time-scale", "inf", "--time-scale must be > 0 and at most 1e+06"),
        ("--time-scale", "0", "--time-scale must be > 0"),
        ("--control-token", " ", "--control-token must not be empty"),
        ("--scenario-dir", "/no/such/dir", "does not exist"),
    ],
)
def test_serve_refuses_bad_options(option: str, value: str, problem: str) -> None:
    result = _run("serve", "--port", "0", "--scenario", "empty", option, value)
    assert result.returncode == 2
    assert problem in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_refuses_an_unknown_scenario() -> None:
    result = _run("serve", "--port", "0", "--scenario", "nope")
    assert result.returncode == 2
    assert "no scenario 'nope'" in result.stderr


def test_serve_refuses_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("projects: [{servers: [{name: a, server_type: cx99}]}]", encoding="utf-8")
    result = _run("serve", "--port", "0", "--scenario", str(bad))
    assert result.returncode == 2
    assert "unknown server_type 'cx99'" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_refuses_a_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = _run("serve", "--port", str(taken.getsockname()[1]), "--scenario", "empty")
    assert result.returncode == 2
    assert "cannot listen on 127.0.0.1:" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_validates_a_file(tmp_path: Path) -> None:
    good = _run("check", str(EXAMPLE))
    assert good.returncode == 0, good.stderr
    assert good.stdout.splitlines() == [
        # system images for x86 and arm (8), the file's 5, and web-1's 3 backups
        "project shop: 9 servers, 16 images, 1 running actions, 3 fault rules",
        "project lab: 1 servers, 8 images, 0 running actions, 0 fault rules",
    ]
    bad = tmp_path / "bad.yaml"
    bad.write_text("projects: [{images: [{description: x, age: soon}]}]", encoding="utf-8")
    result = _run("check", str(bad))
    assert result.returncode == 2
    assert "invalid" in result.stderr
    assert "age 'soon'" in result.stderr


def test_scenarios_lists_the_builtins() -> None:
    result = _run("scenarios")
    assert result.returncode == 0
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert names == ["demo", "faults", "large", "wired", "empty"]
    assert "300 server specs" in result.stdout
