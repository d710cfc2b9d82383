"""Bad input to the real ``hsnap`` command: exit 2 at once, one message, no traceback, no run.

Each test runs ``python -m hsnap.cli`` in a subprocess with a fresh ``PREFECT_HOME`` and no
Prefect API, against a simulator: the checks must answer before Prefect's temporary server starts
(it would create ``prefect.db`` in that home) and before any request reaches the API.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from hcloud_sim import SimulatorServer
from hsnap.cli.common import fail
from hsnap.errors import ConfigError
from tests.conftest import SimFactory, one_message, said


def hsnap(
    sim: SimulatorServer, home: Path, *args: str, **env: str | None
) -> subprocess.CompletedProcess[str]:
    """Run the CLI like a user would, with this environment on top of a clean one."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PREFECT_", "HCLOUD_", "HSNAP_")) and "proxy" not in k.lower()
    }
    clean.update(PREFECT_HOME=str(home), HCLOUD_ENDPOINT=sim.url, HCLOUD_TOKEN="sim-token")
    for key, value in env.items():
        if value is None:
            clean.pop(key, None)
        else:
            clean[key] = value
    return subprocess.run(
        [sys.executable, "-m", "hsnap.cli", *args],
        env=clean,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def assert_refused_at_once(
    done: subprocess.CompletedProcess[str], sim: SimulatorServer, home: Path, says: str
) -> None:
    """Exit 2, one message naming the problem, no traceback, no Prefect, no API request."""
    assert done.returncode == 2, done.stderr
    assert said(says) in one_message(done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    assert done.stdout == ""
    assert not (home / "prefect.db").exists(), "Prefect's temporary server was started"
    assert sim.state.request_counts() == [], "a request reached the API"


@pytest.fixture
def sim(make_sim: SimFactory) -> SimulatorServer:
    return make_sim("demo", time_scale=100)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["run", "-l", "env in (prod"], "malformed label selector"),
        (["run", "--description-template", "{server!r:>99999999}"], "write plain {server}"),
        (["run", "--description-template", "{server:{foo}}"], "write plain {server}"),
        (["run", "--description-template", "{nope}"], "known placeholders"),
        (["run", "--label", "bad key=x"], "invalid label key"),
        (["run", "--label", "managed-by=me"], "hsnap's own managed-by"),
        (["run", "--lock-wait-minutes", "0"], "lock_wait_minutes (--lock-wait-minutes)"),
        (["run", "--snapshot-wait-minutes", "nan"], "finite number"),
        (["run", "--max-concurrency", "0"], "max_concurrency"),
        (["plan", "--timezone", "Mars/Olympus"], "unknown timezone"),
        (["prune", "--timezone", "Mars/Olympus"], "unknown timezone"),
        (["run", "--lock-wait-minutes", "abc"], "Invalid value for '--lock-wait-minutes'"),
        (["health", "--days", "0"], "--days 0: use a number of days"),
        (["health"], "PREFECT_API_URL is not set"),
        (["prune", "--min-keep", "0"], "Invalid value for '--min-keep'"),
        (["run", "--no-such-option"], "No such option: --no-such-option"),
    ],
)
def test_bad_options_exit_2_before_prefect_starts(
    sim: SimulatorServer, tmp_path: Path, args: list[str], says: str
) -> None:
    assert_refused_at_once(hsnap(sim, tmp_path, *args), sim, tmp_path, says)


@pytest.mark.parametrize("scale", ["inf", "nan", "0", "abc"])
def test_bad_time_scale_exits_2_before_any_request(
    sim: SimulatorServer, tmp_path: Path, scale: str
) -> None:
    done = hsnap(sim, tmp_path, "run", HSNAP_TIME_SCALE=scale)
    assert_refused_at_once(done, sim, tmp_path, f"HSNAP_TIME_SCALE={scale!r}")


@pytest.mark.parametrize("command", [["run"], ["plan"], ["prune", "--dry-run"], ["recover"]])
def test_missing_token_exits_2_before_prefect_starts(
    sim: SimulatorServer, tmp_path: Path, command: list[str]
) -> None:
    done = hsnap(sim, tmp_path, *command, HCLOUD_TOKEN=None)
    assert_refused_at_once(done, sim, tmp_path, "no Hetzner API token: set HCLOUD_TOKEN")


def test_an_unreachable_prefect_api_for_the_token_block_exits_2(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    done = hsnap(sim, tmp_path, "run", HCLOUD_TOKEN=None, PREFECT_API_URL="http://127.0.0.1:9/api")
    assert_refused_at_once(done, sim, tmp_path, "could not read the Prefect Secret block")


def test_ambiguous_endpoint_exits_2(sim: SimulatorServer, tmp_path: Path) -> None:
    port = sim.url.split(":")[2].split("/")[0]
    endpoint = f"http://10.0.0.7:{port}\\@127.0.0.1:{port}/v1"
    done = hsnap(sim, tmp_path, "run", HCLOUD_ENDPOINT=endpoint)
    assert_refused_at_once(done, sim, tmp_path, "is ambiguous")
    assert "sim-token" not in done.stderr


def test_plain_http_through_a_remote_proxy_exits_2_unless_no_proxy(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    proxy = "http://proxy.example:3128"
    done = hsnap(sim, tmp_path, "run", "--dry-run", HTTP_PROXY=proxy)
    assert_refused_at_once(done, sim, tmp_path, "through the proxy proxy.example")

    done = hsnap(sim, tmp_path, "status", "web-1", HTTP_PROXY=proxy, NO_PROXY="127.0.0.1")
    assert done.returncode == 0, done.stderr
    assert "web-1" in done.stdout


def test_the_cli_switches_prefect_telemetry_off_itself() -> None:
    code = "import os, hsnap.cli; print(os.environ['PREFECT_SERVER_ANALYTICS_ENABLED'])"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "false"


def test_a_selector_that_matches_nothing_exits_1_saying_so_once(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    """Through a real (temporary) Prefect server: the run ends Failed, the screen says it once."""
    done = hsnap(
        sim,
        tmp_path,
        *("run", "-l", "env=prdo"),
        HSNAP_TIME_SCALE="100",
    )

    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    says = "no server matches label selector 'env=prdo'"
    assert said(done.stderr).count(says) == 1, done.stderr
    assert sim.state.ground_truth()["created_images"] == []


def test_a_long_error_wraps_within_80_columns_at_spaces(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    message = (
        "the selector 'env=production,role in (database,cache),tier!=experimental' matches no "
        "server in project [bold]main[/bold]: check the labels with hcloud server list -o "
        "columns=name,labels and try again"
    )

    with pytest.raises(typer.Exit) as exited:
        fail(ConfigError(message))

    assert exited.value.exit_code == 2
    stderr = capsys.readouterr().err
    lines = stderr.splitlines()
    assert len(lines) > 1, stderr
    assert all(line.startswith("  ") for line in lines[1:]), stderr
    assert stderr.split() == f"hsnap: {message}".split()  # no word split, markup said literally
    assert one_message(stderr) == said(f"hsnap: {message}")
