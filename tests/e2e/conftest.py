"""A real Prefect server, the simulator, ``hsnap setup`` and a process worker, for end-to-end tests.

Everything runs on loopback with an isolated PREFECT_HOME; every process started here is stopped
at the end of the module, also when a test fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from hcloud_sim import SimulatorServer

REPO = Path(__file__).resolve().parents[2]
SCALE = 100.0
STARTUP_TIMEOUT_S = 90.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


def stop(process: subprocess.Popen[Any]) -> None:
    """Stop a process and everything it started (its own session)."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)


class WebhookReceiver:
    """A loopback HTTP endpoint that records the JSON bodies POSTed to it (and their paths)."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []
        received_at: list[float] = []  # time.time() of each body, in the same order
        paths: list[str] = []  # the path each body was POSTed to, in the same order

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                received_at.append(time.time())  # first, so a body always has its time
                paths.append(self.path)
                received.append(body)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                del args

        self.received = received
        self.received_at = received_at
        self.paths = paths
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/hook"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@dataclass
class Stack:
    api_url: str
    env: dict[str, str]
    sim: SimulatorServer
    home: Path
    webhook: WebhookReceiver

    def run(self, *args: str, stdin: str | None = None, timeout: float = 300) -> Any:
        """An hsnap command against this stack, as a user would run it."""
        return run_hsnap(self.env, *args, stdin=stdin, timeout=timeout)


def run_hsnap(
    env: dict[str, str], *args: str, stdin: str | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """An hsnap command in a subprocess, as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "hsnap.cli", *args],
        input=stdin,
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def base_env(home: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "HCLOUD_", "HSNAP_"))
    }
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS="2",
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_WORKER_PREFETCH_SECONDS="5",
    )
    return env


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Prefect server + simulator + ``hsnap setup`` + a worker serving the hsnap pool."""
    with running_stack(tmp_path_factory.mktemp("prefect-home")) as started:
        yield started


@contextlib.contextmanager
def running_stack(
    home: Path,
    setup_env: dict[str, str] | None = None,
    *,
    server_env: dict[str, str] | None = None,
    before_setup: Callable[[Stack], object] | None = None,
    setup_args: tuple[str, ...] = (),
) -> Iterator[Stack]:
    """The stack of ``stack``; ``setup_env`` adds to the environment of setup and the worker,
    ``server_env`` to the Prefect server's; ``before_setup`` runs once the server is up (with
    the stack's API URL in force), ``setup_args`` go to ``hsnap setup``."""
    from prefect.settings import PREFECT_API_URL, temporary_settings  # noqa: PLC0415

    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = base_env(home)
    logs = home / "logs"
    logs.mkdir()
    started: list[subprocess.Popen[Any]] = []
    sim = SimulatorServer("demo", time_scale=SCALE).start()
    webhook = WebhookReceiver()
    try:
        started.append(start_prefect_server(env | (server_env or {}), port, logs / "server.log"))
        wait_until(lambda: healthy(api_url), "the Prefect server", STARTUP_TIMEOUT_S)
        env.update(PREFECT_API_URL=api_url, HCLOUD_ENDPOINT=sim.url, HSNAP_TIME_SCALE=f"{SCALE:g}")
        env["HSNAP_NOTIFY_WEBHOOK"] = webhook.url
        env.update(setup_env or {})
        stack = Stack(api_url, env, sim, home, webhook)
        if before_setup is not None:
            with temporary_settings(updates={PREFECT_API_URL: api_url}):
                before_setup(stack)
        setup = stack.run(
            "setup", "--token-stdin", "--project-dir", str(REPO), *setup_args, stdin="sim-token\n"
        )
        assert setup.returncode == 0, setup.stdout + setup.stderr
        stack.first_setup = setup  # type: ignore[attr-defined]
        started.append(start_worker(env, "e2e-worker", logs / "worker.log"))
        with temporary_settings(updates={PREFECT_API_URL: api_url}), sent_before_exit():
            yield stack
    finally:
        for process in reversed(started):
            stop(process)
        sim.stop()
        webhook.stop()


@contextlib.contextmanager
def sent_before_exit() -> Iterator[None]:
    """Deliver this process's queued Prefect events and logs while their server still runs.

    Prefect sends task-run events and logs from background workers bound to the API URL in force.
    Left queued when that server stops, they are retried one by one at interpreter exit, which
    held a finished test session for many minutes.
    """
    from prefect.events.worker import EventsWorker  # noqa: PLC0415
    from prefect.logging.handlers import APILogWorker  # noqa: PLC0415

    try:
        yield
    finally:
        APILogWorker.drain_all(timeout=30)
        EventsWorker.drain_all(timeout=30)


def start_prefect_server(
    env: dict[str, str], port: int, log: Path, python: str = sys.executable
) -> subprocess.Popen[Any]:
    """``prefect server start`` on 127.0.0.1:``port`` in its own session (see ``stop``)."""
    argv = [python, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
    with log.open("w") as out:
        return subprocess.Popen(
            [*argv, "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def start_worker(
    env: dict[str, str],
    name: str,
    log: Path,
    *extra: str,
    pool: str = "hsnap",
    python: str = sys.executable,
    cwd: Path = REPO,
) -> subprocess.Popen[Any]:
    """A process worker on ``pool`` in its own session: its flow runs die with it on killpg."""
    argv = [python, "-m", "prefect", "worker", "start", "--pool", pool, "--name", name]
    with log.open("w") as out:
        return subprocess.Popen(
            [*argv, *extra],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def healthy(api_url: str) -> bool:
    try:
        return requests.get(f"{api_url}/health", timeout=2).ok
    except requests.RequestException:
        return False
