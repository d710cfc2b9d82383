"""The release as a user gets it: a built wheel in a fresh virtual environment, no checkout.

The environment already holds another Prefect project with top-level ``flows`` and ``tasks``
packages; hsnap is installed from the wheel beside it. Every command runs with that environment's
interpreter, without ``PYTHONPATH``, from directories outside the checkout, so nothing can come
from the checkout. Slow (it installs hsnap's dependencies into the new environment), so one module
builds and installs once and the tests share it.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path
from typing import Any

import pytest

import hsnap
from hcloud_sim import SimulatorServer
from tests.e2e.conftest import (
    REPO,
    SCALE,
    STARTUP_TIMEOUT_S,
    base_env,
    free_port,
    healthy,
    start_prefect_server,
    start_worker,
    stop,
    wait_until,
)

INSTALL_TIMEOUT_S = 900
RUN_TIMEOUT_S = 240
OUR_NAMES = {"hsnap", "hcloud_sim", "hcloud_labels"}
#: what an installed package has no use for: the repository's tests, benchmarks, caches
NEVER_SHIPPED = ("tests/", "benchmarks/", "__pycache__", ".pyc", ".mypy_cache", ".pytest_cache")

OTHER_PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "other-prefect-project"
version = "1.0"

[tool.setuptools]
packages = ["flows", "tasks"]
"""


def _run(argv: list[Any], timeout: float, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,
    )


@dataclass
class Venv:
    root: Path
    env: dict[str, str]  # no PYTHONPATH, no PREFECT_/HCLOUD_/HSNAP_ setting of this session
    tmp: Path

    @property
    def python(self) -> str:
        return str(self.root / "bin" / "python")

    def hsnap(
        self, *args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """The ``hsnap`` console script the wheel installed, run from ``cwd``."""
        return _run(
            [self.root / "bin" / "hsnap", *args], 600, cwd=cwd, env=env or self.env, input=stdin
        )


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m build``: the sdist, and the wheel built from that sdist."""
    out = tmp_path_factory.mktemp("dist")
    built = _run([sys.executable, "-m", "build", "--outdir", out, REPO], INSTALL_TIMEOUT_S)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A fresh venv holding another project's ``flows`` and ``tasks``, then hsnap's wheel."""
    tmp = tmp_path_factory.mktemp("release")
    root = tmp / "venv"
    made = _run([sys.executable, "-m", "venv", root], 300)
    if made.returncode != 0:
        pytest.fail(
            "python -m venv failed (on Debian install python3.X-venv; .ci/run does): "
            + made.stderr.strip()[-500:]
        )
    other = tmp / "other-project"
    for package in ("flows", "tasks"):
        (other / package).mkdir(parents=True)
        (other / package / "__init__.py").write_text(f'WHOSE = "other project\'s {package}"\n')
    (other / "pyproject.toml").write_text(OTHER_PYPROJECT)
    env = {k: v for k, v in base_env(tmp / "prefect-home").items() if k != "PYTHONPATH"}
    pip = [root / "bin" / "python", "-m", "pip", "install", "--quiet"]
    for what in (other, next(dist.glob("hsnap-*.whl"))):
        done = _run([*pip, what], INSTALL_TIMEOUT_S, cwd=tmp, env=env)
        assert done.returncode == 0, f"pip install {what.name}: {done.stderr[-3000:]}"
    return Venv(root, env, tmp)


def _outside_checkout(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    assert REPO not in path.resolve().parents
    return path


def test_wheel_and_sdist_claim_only_hsnaps_names_and_ship_no_tests(dist: Path) -> None:
    with zipfile.ZipFile(next(dist.glob("hsnap-*.whl"))) as wheel:
        names = wheel.namelist()
        metadata = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA")))
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == OUR_NAMES  # never flows or tasks
    assert "hsnap/deployment/prefect.yaml" in names  # the deployments of setup without a checkout
    with tarfile.open(next(dist.glob("hsnap-*.tar.gz"))) as sdist:
        in_sdist = [n.split("/", 1)[-1] for n in sdist.getnames()]
    for shipped in (names, in_sdist):
        assert [n for n in shipped if any(bad in n for bad in NEVER_SHIPPED)] == []
        assert any(n.endswith("LICENSE") for n in shipped)
    headers = HeaderParser().parsestr(metadata.decode())
    assert headers["Version"] == hsnap.__version__
    assert headers["License-Expression"] == "MIT"
    required = headers.get_all("Requires-Dist") or []
    test_only = ("pytest", "hypothesis", "openapi-core", "ruff", "mypy", "build", "types-")
    # a test-only dependency appears only under the "test" extra, never for `pip install hsnap`
    assert [r for r in required if r.startswith(test_only) and 'extra == "test"' not in r] == []


def test_the_other_projects_flows_and_tasks_stay_theirs(venv: Venv) -> None:
    code = (
        "import flows, tasks, hsnap; print(flows.WHOSE); print(tasks.WHOSE); print(hsnap.__file__)"
    )
    elsewhere = _outside_checkout(venv.tmp / "elsewhere")
    answer = _run([venv.python, "-c", code], 60, cwd=elsewhere, env=venv.env)

    assert answer.returncode == 0, answer.stderr
    whose_flows, whose_tasks, hsnap_file = answer.stdout.splitlines()
    assert (whose_flows, whose_tasks) == ("other project's flows", "other project's tasks")
    assert Path(hsnap_file).is_relative_to(venv.root)  # the wheel's hsnap, not the checkout's


def test_hsnap_version_and_demo_run_from_the_wheel(venv: Venv) -> None:
    cwd = _outside_checkout(venv.tmp / "demo-dir")

    version = venv.hsnap("--version", cwd=cwd)
    demo = venv.hsnap("demo", cwd=cwd)

    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"hsnap {hsnap.__version__}"
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]


@contextlib.contextmanager
def _prefect_server(venv: Venv, home: Path) -> Iterator[dict[str, str]]:
    """The wheel's environment's ``prefect server``; yields the env that points at it."""
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {**venv.env, "PREFECT_HOME": str(home)}
    server = start_prefect_server(env, port, home / "server.log", python=venv.python)
    try:
        wait_until(lambda: healthy(api_url), "the Prefect server", STARTUP_TIMEOUT_S)
        yield {**env, "PREFECT_API_URL": api_url}
    finally:
        stop(server)


def test_setup_and_an_on_demand_run_work_with_only_the_wheel_installed(venv: Venv) -> None:
    home = _outside_checkout(venv.tmp / "prefect-server-home")
    sim = SimulatorServer("demo", time_scale=SCALE).start()
    worker = None
    try:
        with _prefect_server(venv, home) as server_env:
            env = {**server_env, "HCLOUD_ENDPOINT": sim.url, "HSNAP_TIME_SCALE": f"{SCALE:g}"}
            setup = venv.hsnap(
                "setup",
                "--token-stdin",
                cwd=_outside_checkout(venv.tmp / "ops"),
                env=env,
                stdin="sim-token\n",
            )
            assert setup.returncode == 0, setup.stdout + setup.stderr
            assert f"code: installed hsnap {hsnap.__version__}" in setup.stdout
            worker_dir = _outside_checkout(venv.tmp / "worker-dir")
            assert list(worker_dir.iterdir()) == []
            worker = start_worker(
                env, "wheel-worker", home / "worker.log", python=venv.python, cwd=worker_dir
            )

            answer = venv.hsnap(
                "trigger",
                "--wait",
                "--timeout",
                str(RUN_TIMEOUT_S),
                "--json",
                cwd=venv.tmp / "ops",
                env=env,
            )
            again = venv.hsnap(
                "setup", "--token-stdin", cwd=venv.tmp / "ops", env=env, stdin="sim-token\n"
            )
            on_demand = _run(
                [
                    venv.python,
                    "-m",
                    "prefect",
                    "deployment",
                    "inspect",
                    "snapshot-servers/on-demand",
                    "--output",
                    "json",
                ],
                120,
                env=env,
                cwd=venv.tmp / "ops",
            )
    finally:
        if worker is not None:
            stop(worker)
        sim.stop()

    log = (home / "worker.log").read_text(errors="replace")
    assert answer.returncode == 0, answer.stdout + answer.stderr + log[-3000:]
    result = json.loads(answer.stdout)
    assert result["state"] == "Completed"
    servers = sorted(s["name"] for s in sim.state.ground_truth()["servers"])
    assert sorted(r["server"] for r in result["servers"]) == servers
    assert {r["status"] for r in result["servers"]} == {"succeeded"}
    assert len(sim.state.ground_truth()["created_images"]) == len(servers)
    # the run's code came from the installed package: no pull step, a module-path entrypoint
    assert on_demand.returncode == 0, on_demand.stderr
    deployment = json.loads(on_demand.stdout)
    assert deployment["pull_steps"] == []
    assert deployment["entrypoint"] == "hsnap.flows.snapshot_servers.snapshot_servers"
    # setup again, from the same installed package: nothing to change
    assert again.returncode == 0, again.stdout + again.stderr
    assert "deployments unchanged (code: installed hsnap" in " ".join(again.stdout.split())
    assert "sim-token" not in setup.stdout + setup.stderr + answer.stdout + log
