"""Every command's output at 80 columns on a fleet of 200 servers, as a pipe or cron mail shows it.

Each command runs through the real CLI (typer's runner, this session's Prefect test server) against
one simulated project of 200 servers: snapshots of many ages, servers never snapshotted, a server
with a long name, snapshots of a deleted server, servers whose snapshot fails with a long message
and servers an interrupted run left off. Checked for each:

- no line is wider than 80 columns;
- one line per server: every server's row is a single line of the table, and the table holds no
  other line (a wrapped cell would add one);
- the line count: about one per server, plus a title, a header, totals and errors below;
- no placeholder (``-``, ``?``, ``None``) where a word belongs; money without a currency in the
  cells (it is in the header), ages as ``3h`` / ``2d``.

``test_demo_prints_no_prefect_line`` runs ``hsnap demo`` in a process of its own, on Prefect's
temporary server, as a new user would.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.sorting import ArtifactSort
from typer.testing import CliRunner

from hcloud_sim import SimulatorServer
from hsnap.cli import app, common
from tests.flows.conftest import prefect_harness

__all__ = ["prefect_harness"]  # the session's Prefect test server

WIDTH = 80
SERVERS = 200
LONG_NAME = "database-primary-falkenstein-01"
NAMES = [LONG_NAME, *(f"node-{i:04d}" for i in range(2, SERVERS + 1))]
#: servers whose snapshot fails, with a message far wider than the screen
FAILING = NAMES[-4:]
FAILURE = (
    "image creation failed: the disk of this server could not be read completely; try again "
    "later, or ask Hetzner's support about the host (case 4711)"
)
#: servers an interrupted consistent run left powered off and marked for restart
LEFT_OFF = NAMES[150:153]
NEVER = NAMES[170:180]  # never snapshotted
PLACEHOLDERS = {"-", "--", "?", "(?", "None", "null", "nan", "N/A"}
GONE_ID = 999999


def _labels(server_id: int) -> dict[str, str]:
    return {"managed-by": "hsnap", "hsnap/server-id": str(server_id)}


def fleet() -> dict[str, Any]:
    """200 servers (ids 100001 on, in order) and their snapshots."""
    servers: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    for i, name in enumerate(NAMES):
        server: dict[str, Any] = {"name": name, "snapshot_duration": 60}
        if name in FAILING:
            server["snapshot_error"] = {"code": "action_failed", "message": FAILURE}
        if name in LEFT_OFF:
            server |= {"status": "off", "labels": {"hsnap/restart": "0" * 8 + "-dead-run"}}
        servers.append(server)
        if name in NEVER:
            continue
        ages = ["5h", "2d", "9d"] if i % 7 else ["3d", "12d"]  # every 7th breaches the RPO
        if i == 0:
            ages = [f"{d}d" for d in range(1, 31)]  # one server with a long history
        images += [
            {
                "description": f"{name} {age}",
                "server": name,
                "age": age,
                "size": 2.5 + i % 5,
                "labels": _labels(100001 + i),
            }
            for age in ages
        ]
    images.append({"description": "manual", "server": NAMES[1], "age": "40d"})
    images += [
        {"description": f"gone {age}", "age": age, "labels": _labels(GONE_ID)}
        for age in ("20d", "50d")
    ]
    return {
        "name": "output",
        "projects": [
            {
                "name": "output",
                "action_durations": {"create_image": 60},
                "rate_limit": {"capacity": 100000, "refill_per_second": 1000},
                "servers": servers,
                "images": images,
            }
        ],
    }


#: hsnap's snapshots in the fleet (those of the deleted server included)
MANAGED = [i for i in fleet()["projects"][0]["images"] if i.get("labels")]


@pytest.fixture(scope="module")
def sim(prefect_harness: None) -> Iterator[SimulatorServer]:
    """The fleet at 600x, hsnap pointed at it, the CLI's consoles at 80 columns."""
    del prefect_harness
    with pytest.MonkeyPatch.context() as patch:
        server = SimulatorServer(fleet(), time_scale=600).start()
        patch.setenv("HCLOUD_ENDPOINT", server.url)
        patch.setenv("HCLOUD_TOKEN", "sim-token")
        patch.setenv("HSNAP_TIME_SCALE", "600")
        patch.setattr(common.out, "_width", WIDTH)
        patch.setattr(common.err, "_width", WIDTH)
        try:
            yield server
        finally:
            server.stop()


def hsnap(*args: str, code: int | None = 0) -> tuple[str, str]:
    """Run ``hsnap ARGS``; stdout and stderr, after checking the exit code (None: any)."""
    result = CliRunner().invoke(app, list(args))
    assert code is None or result.exit_code == code, result.output
    return result.stdout, result.stderr


def check_lines(text: str) -> list[str]:
    """Every line fits 80 columns and holds no placeholder where a word belongs."""
    lines = text.splitlines()
    for line in lines:
        assert len(line) <= WIDTH, f"{len(line)} columns:\n{line}"
        placeholders = PLACEHOLDERS & set(line.split())
        assert not placeholders, f"{placeholders} in:\n{line}"
        # a currency after an amount only in a sentence ("cost 0.0120 EUR"), never in a cell
        assert not re.search(r"\d EUR", line) or "(cost " in line, line
    return lines


def check_table(text: str, rows: list[str], *, extra: int) -> list[str]:
    """``rows`` (first cells) each a single line of one table, nothing else in it; ``extra``:
    at most this many lines besides the rows (title, header, totals, errors below)."""
    lines = check_lines(text)
    starts = [i for i, line in enumerate(lines) for r in rows[:1] if line.split()[:1] == [r]]
    assert starts, f"no row of {rows[0]!r}:\n{text}"
    table = lines[starts[0] : starts[0] + len(rows)]
    assert [line.split()[0] for line in table] == [r.split()[0] for r in rows], text
    assert len(lines) <= len(rows) + extra, f"{len(lines)} lines for {len(rows)} rows"
    return table


def check_below(lines: list[str], servers: list[str]) -> None:
    """Errors listed below the table: one entry per server, continuation lines indented."""
    for server in servers:
        at = [i for i, line in enumerate(lines) if line.startswith(f"{server}: ")]
        assert len(at) == 1, f"{server}'s error is not listed once below the table"
        following = lines[at[0] + 1 : at[0] + 4]
        wrapped = " ".join([lines[at[0]], *(x for x in following if x.startswith("  "))])
        assert " ".join(FAILURE.split()) in " ".join(wrapped.split()), wrapped


# -- read-only commands ----------------------------------------------------------------------


def test_audit_is_one_line_per_server(sim: SimulatorServer) -> None:
    del sim
    stdout, _ = hsnap("audit", code=1)

    rows = [*NAMES, f"server {GONE_ID} (deleted)", "TOTAL"]  # the deleted server's, the totals
    # title, header, and what no snapshot covers: one short paragraph for the fleet, not per server
    table = check_table(stdout, rows, extra=12)
    assert "  addresses released if deleted: all 200 servers" in stdout
    header = stdout.splitlines()[stdout.splitlines().index(table[0]) - 1]
    assert "EUR/month" in header.split(), header
    never = next(line for line in table if line.startswith(NEVER[0]))
    assert never.split()[1] == "NEVER", never
    fresh = next(line for line in table if line.startswith(NAMES[1] + " "))
    assert re.search(r" [1-5]h +ok ", fresh), fresh  # the simulated clock runs 600x
    stale = next(line for line in table if line.startswith(NAMES[7] + " "))
    assert re.search(r" [23]d +BREACH ", stale), stale
    assert not re.search(r"\d\.\d+[hd]\b", stdout), "ages read 3h, 2d"
    total = table[-1].split()
    assert re.fullmatch(r"\d+\.\d\d", total[-2]), f"money in a fixed format: {total}"


def test_audit_json_keeps_every_field(sim: SimulatorServer) -> None:
    del sim
    stdout, _ = hsnap("audit", "--json", code=1)
    report = json.loads(stdout)
    assert len(report["servers"]) == SERVERS
    assert set(report["never_snapshotted"]) == set(NEVER)
    assert report["currency"] == "EUR"


def test_snapshots_is_one_line_per_snapshot(sim: SimulatorServer) -> None:
    del sim
    stdout, _ = hsnap("snapshots", LONG_NAME)

    lines = check_lines(stdout)
    assert len(lines) == 1 + 1 + 30, stdout  # title, header, its 30 snapshots
    ages = [line.split()[1] for line in lines[2:]]
    assert all(re.fullmatch(r"\d+[hd]", a) for a in ages), ages
    assert ages[-1] == "30d", ages
    assert all("never" in line.split() for line in lines[2:]), "not proven yet, in a word"


def test_plan_shows_both_tables_one_line_per_row(sim: SimulatorServer) -> None:
    del sim
    stdout, _ = hsnap("plan")

    lines = check_lines(stdout)
    planned = [line for line in lines if "planned" in line.split()]
    assert len(planned) == SERVERS
    pruned = [line for line in lines if re.match(r"\d{6}  ", line)]  # image id first
    # the plan of a run prunes the snapshots of the servers it snapshots: not the deleted one's
    assert len(pruned) == len(MANAGED) - 2
    # titles, headers, verdicts, and the forecast of the run's requests (3 lines)
    assert len(lines) <= SERVERS + len(pruned) + 8 + 3
    assert any(line.startswith(f"{SERVERS} server(s): about ") for line in lines)


def test_prune_dry_run_is_one_line_per_snapshot(sim: SimulatorServer) -> None:
    del sim
    stdout, _ = hsnap("prune", "--dry-run")

    lines = check_lines(stdout)
    rows = [line for line in lines if re.match(r"\d{6}  ", line)]
    assert len(rows) == len(MANAGED)
    assert len(lines) <= len(rows) + 5
    assert any("would delete" in line for line in rows)


def test_status_and_its_json(sim: SimulatorServer) -> None:
    del sim
    stdout, _ = hsnap("status", NAMES[3])
    assert check_lines(stdout) == [f"{NAMES[3]} (id 100004, running): not locked"]
    shown = json.loads(hsnap("status", NAMES[3], "--json")[0])
    assert shown == {
        "server": NAMES[3],
        "id": 100004,
        "status": "running",
        "locked": False,
        "actions": [],
    }


def test_project_list(sim: SimulatorServer) -> None:
    del sim
    hsnap("project", "add", "output-test", "--display-name", "Output test fleet")
    try:
        stdout, _ = hsnap("project", "list")
        lines = check_lines(stdout)
        row = next(line for line in lines if line.startswith("output-test "))
        assert str(SERVERS) in row.split(), row
        listed = json.loads(hsnap("project", "list", "--json")[0])
        assert {"name", "display name", "endpoint", "servers", "access"} <= set(listed[0])
    finally:
        hsnap("project", "remove", "output-test")


# -- commands that change the fleet (in this order) -----------------------------------------


def test_recover_is_a_table(sim: SimulatorServer) -> None:
    del sim
    stdout, _ = hsnap("recover")
    check_table(stdout, LEFT_OFF, extra=2)
    assert all("restarted" in line.split() for line in stdout.splitlines()[2:]), stdout


def test_run_lists_failures_below_the_table(sim: SimulatorServer) -> None:
    del sim
    stdout, stderr = hsnap("run", code=1)

    lines = check_lines(stdout)
    check_table(stdout, NAMES, extra=4 + 4 * len(FAILING))
    check_below(lines, FAILING)
    assert lines[0].startswith(f"hsnap: {len(FAILING)} of {SERVERS} server(s) failed")
    check_lines(stderr)


def test_drill_says_why_it_skipped_servers(sim: SimulatorServer) -> None:
    del sim
    stdout, _ = hsnap("drill", "--max-servers", "2")

    table = check_table(stdout, NAMES, extra=4)
    header = stdout.splitlines()[stdout.splitlines().index(table[0]) - 1]
    assert "EUR" in header.split(), header
    proven = [line for line in table if "proven" in line.split()]
    assert len(proven) == 2, stdout
    assert all(re.search(r" \d\.\d{4} ", line) for line in proven), proven
    skipped = [line for line in table if "skipped" in line.split()]
    assert len(skipped) == SERVERS - 2
    assert all(
        line.rstrip().endswith(("left for a later run", "no hsnap snapshot yet"))
        for line in skipped
    ), skipped
    summary = latest_artifact("drill-summary")
    assert "(? old)" not in summary
    for line in summary.splitlines()[2:]:
        assert line.startswith("- **"), line  # a list item per server
        assert not PLACEHOLDERS & set(line[2:].split()), line
    last = f"**{NAMES[-1]}** skipped: proven never; left for a later run (max_servers)"
    assert last in summary, summary


def test_restore_is_a_few_lines(sim: SimulatorServer) -> None:
    del sim
    stdout, _ = hsnap("restore", NAMES[4], "--as", "restored-copy")
    lines = check_lines(stdout)
    assert len(lines) <= 4, stdout  # what was restored, then which it is: quarantined or open
    assert lines[0].startswith(f"{NAMES[4]} restored as restored-copy")
    assert "QUARANTINED" in stdout


def test_health_fits_80_columns(sim: SimulatorServer) -> None:
    del sim
    stdout, _ = hsnap("health", code=None)  # 1 if this session's other runs left a problem
    lines = check_lines(stdout)
    assert lines, "at least a line per project"
    assert "needs_person" in json.loads(hsnap("health", "--json", code=None)[0])


def latest_artifact(key: str) -> str:
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
    assert found, f"no {key} artifact"
    return str(found[0].data)


# -- help ------------------------------------------------------------------------------------

COMMANDS = [
    ["run"],
    ["demo"],
    ["audit"],
    ["snapshots"],
    ["drill"],
    ["restore"],
    ["plan"],
    ["prune"],
    ["recover"],
    ["status"],
    ["setup"],
    ["health"],
    ["trigger"],
    ["project", "add"],
    ["project", "list"],
    ["project", "remove"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_reads_as_sentences_at_80_columns(command: list[str]) -> None:
    """The description is wrapped greedily: no line ends early with its sentence going on."""
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": str(WIDTH)})
    assert result.exit_code == 0, result.output
    text = result.stdout.split("╭")[0]  # the description, above the option panels
    lines = [line.strip() for line in text.splitlines()][2:]  # below "Usage: ..."
    for line, after in itertools.pairwise(lines):
        if line and after:
            room = WIDTH - 2 - len(line) - 1  # rich's one-column margins
            assert len(after.split()[0]) > room, f"broken early:\n{line}\n{after}"


# -- a new user's first command, in a process of its own -------------------------------------


def test_demo_prints_no_prefect_line(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "COLUMNS": str(WIDTH),
        "PREFECT_HOME": str(tmp_path),
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    for name in ("PREFECT_API_URL", "HCLOUD_ENDPOINT", "HCLOUD_TOKEN", "HSNAP_TIME_SCALE"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-m", "hsnap.cli", "demo", "--time-scale", "600"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for stream in (done.stdout, done.stderr):
        check_lines(stream)
        assert "prefect" not in stream.lower().replace("prefect.io", ""), stream
    check_table(done.stdout, sorted(_demo_names()), extra=2)


def _demo_names() -> list[str]:
    from hcloud_sim.scenarios import load_scenario  # noqa: PLC0415

    return [s.name for s in load_scenario("demo").projects[0].servers]
