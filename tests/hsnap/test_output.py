"""Output that reads anywhere: tables at 80 columns (terminal, pipe, cron mail), no word split,
no empty columns in the report artifact, no empty live frame, log levels that follow the outcome.
"""

from __future__ import annotations

import logging
from io import StringIO

import pytest
from rich.console import Console

from hsnap.console import LiveProgress, report_table, rows_table
from hsnap.events import ProgressEvent, emit
from hsnap.models import PruneRow, RunReport, ServerRef, SnapshotOutcome
from hsnap.policy import ownership_labels
from hsnap.snapshot import report as reporting
from hsnap.snapshot.take import SnapshotError, SnapshotPlan, take_snapshot
from hsnap.tables import Column, FittedTable, as_columns
from tests.conftest import SimFactory
from tests.hsnap.world import APP_1, RUN, SCALE, add_fault, connect, world

LONG_ERROR = (
    "creating a snapshot of server 123456789: the project's snapshot quota is reached: delete "
    "old snapshots or ask Hetzner to raise the limit (resource_limit_exceeded)"
)


def plain_report() -> RunReport:
    return RunReport(
        "0b9e5c1e-2f0c-4d57-9f77-2d1c3f1e0a11",
        False,
        (
            SnapshotOutcome("internal-1", 123456789, "succeeded", image_id=300001, attempts=1),
            SnapshotOutcome("web-3", 123456790, "failed", attempts=3, error=LONG_ERROR),
            SnapshotOutcome("ghost", None, "failed", attempts=0, error="no server named 'ghost'"),
        ),
    )


def consistent_report() -> RunReport:
    long_name = "database-primary-falkenstein-01"
    return RunReport(
        "run",
        False,
        (
            SnapshotOutcome(
                long_name,
                7,
                "left-off",
                shut_down=True,
                off_s=75,
                running_again=False,
                error=LONG_ERROR,
            ),
            SnapshotOutcome("internal-1", 8, "succeeded", image_id=9, shut_down=True, off_s=5),
        ),
    )


def render(renderable: object, width: int | None) -> str:
    """As a terminal of ``width`` columns shows it, or (None) as it goes into a pipe."""
    console = Console(width=width, file=StringIO(), color_system=None)
    console.print(renderable)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(text, str)
    return text


def assert_reads_whole(
    text: str,
    rows: list[dict[str, str]],
    width: int,
    columns: tuple[Column | str, ...] = reporting.TABLE_COLUMNS,
) -> None:
    """No line is wider than the screen, no word is split, and what must stay, stays.

    Every word shown is a whole word of a cell, a header or the title; every word of the columns
    never dropped and of the free text (errors) shows.
    """
    assert max(len(line.rstrip()) for line in text.splitlines()) <= width, text
    lines = text.splitlines()
    known = {w for line in lines[:1] for w in line.split()}  # the title
    for column in as_columns(columns):
        known |= {*column.title.split(), *column.short.split()}
    for row in rows:
        for value in row.values():
            known |= {w.strip(",:") for w in value.split()} | set(value.split())
    for word in text.split():
        if word.endswith("…"):  # clipped on purpose: only when the kept columns cannot fit
            assert width < 80, text
            assert any(k.startswith(word[:-1]) for k in known), text
            continue
        assert word in known or word.rstrip(":") in known, f"{word!r} split in:\n{text}"
    shown = set(text.split())
    for row in rows:
        for column in as_columns(columns):
            if column.drop == 0 or column.below:
                for word in row.get(column.key, "").split():
                    assert word in shown, f"{word!r} lost in:\n{text}"


@pytest.mark.parametrize("width", [80, 60, 40, None])
@pytest.mark.parametrize("report", [plain_report(), consistent_report()])
def test_the_final_report_reads_whole_at_any_width(report: RunReport, width: int | None) -> None:
    text = render(report_table(report), width)
    assert_reads_whole(text, reporting.rows(report), width or 80)


def test_at_80_columns_the_report_is_still_a_table() -> None:
    text = render(report_table(plain_report()), 80)
    header = next(line for line in text.splitlines() if line.startswith("server"))
    assert "status" in header
    assert "succeeded" in text.split()


@pytest.mark.parametrize("width", [80, None])
def test_the_prune_plan_reads_whole(width: int | None) -> None:
    rows = reporting.prune_rows(
        [
            PruneRow(
                300001,
                1,
                "internal-1",
                "d",
                "2026-11-01T02:30:00+00:00",
                "available",
                2.5,
                "delete",
                "deleted: beyond retention",
                "failed",
                LONG_ERROR,
            ),
            PruneRow(
                300002,
                1,
                "internal-1",
                "d",
                "2026-11-30T02:30:00+00:00",
                "available",
                2.5,
                "keep",
                "kept: daily #1",
                "kept",
            ),
        ]
    )
    text = render(rows_table(rows, columns=reporting.PRUNE_TABLE_COLUMNS), width)
    assert_reads_whole(text, rows, 80, reporting.PRUNE_TABLE_COLUMNS)


def test_the_report_artifact_leaves_out_columns_empty_in_every_row() -> None:
    rows = reporting.artifact_rows(plain_report())
    assert {"shut down", "off for", "running again", "size GB"}.isdisjoint(rows[0])
    assert "error" in rows[0], "the error column stays in view"
    assert [r["server"] for r in rows] == ["internal-1", "web-3", "ghost"]
    consistent = reporting.artifact_rows(consistent_report())
    assert {"shut down", "off for", "running again"} <= set(consistent[0])


def test_a_narrow_table_drops_columns_but_keeps_one_line_per_row() -> None:
    rows = reporting.rows(plain_report())
    text = render(FittedTable(rows, reporting.TABLE_COLUMNS), 30)
    assert_reads_whole(text, rows, 30)
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("server"))
    table = lines[start : start + 4]
    assert table[0].split() == ["server", "status", "image"]
    assert [line.split() for line in table[1:]] == [
        ["internal-1", "succeeded", "300001"],
        ["web-3", "failed"],
        ["ghost", "failed"],
    ]


def test_when_even_the_kept_columns_do_not_fit_the_widest_is_clipped_not_wrapped() -> None:
    rows = [{"server": "a-server-with-a-very-long-name", "status": "succeeded"}]
    text = render(FittedTable(rows, (Column("server", drop=0), Column("status", drop=0))), 30)
    assert max(len(line) for line in text.splitlines()) <= 30
    assert len(text.splitlines()) == 2, "still one line per row"
    assert "…" in text


def test_the_live_table_appears_with_the_first_server_not_before() -> None:
    console = Console(width=80, file=StringIO(), force_terminal=True, color_system=None)
    with LiveProgress(console):
        pass
    assert console.file.getvalue() == "", "no empty '0 of 0' frame"  # type: ignore[attr-defined]

    with LiveProgress(console):
        emit(ProgressEvent("internal-1", "succeeded", "snapshot image 300001 is available", 100))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "internal-1" in text
    assert "1 of 1 seen done" in text
    assert "0 of 0" not in text


def test_a_transient_failure_that_is_retried_logs_a_warning_not_an_error(
    make_sim: SimFactory, caplog: pytest.LogCaptureFixture
) -> None:
    sim = make_sim(world(), time_scale=SCALE)
    add_fault(
        sim, method="POST", path="/servers/*/actions/create_image", code="unavailable", count=1
    )
    cloud = connect(sim)
    log = logging.getLogger("hsnap-test-run")
    plan = SnapshotPlan(
        server=ServerRef(id=APP_1, name="app-1", status="running"),
        description="app-1-hsnap-test",
        labels=ownership_labels(APP_1, RUN),
        run_id=RUN,
        lock_timeout_s=1800.0,
        snapshot_timeout_s=7200.0,
    )

    with caplog.at_level(logging.INFO, logger="hsnap-test-run"):
        with pytest.raises(SnapshotError) as info:
            take_snapshot(cloud, plan, log=log)
        assert info.value.transient
        take_snapshot(cloud, plan, attempt=2, log=log)  # Prefect's retry

    about = [r for r in caplog.records if r.name == "hsnap-test-run" and "unavailable" in r.message]
    assert about, caplog.text
    assert {r.levelname for r in about} == {"WARNING"}
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert len(sim.state.ground_truth()["created_images"]) == 1


def test_room_is_made_by_moving_errors_below_then_short_headers_then_dropping_columns() -> None:
    columns = (
        Column("server", drop=0),
        Column("image id", short="image", drop=1),
        Column("lock wait", short="waited", drop=2),
        Column("attempts", short="tries", drop=3),
        Column("error", below=True),
    )
    rows = [
        {
            "server": "web-1",
            "image id": "300001",
            "lock wait": "5s",
            "attempts": "1",
            "error": "a long message " * 3,
        }
    ]
    assert render(FittedTable(rows, columns), 120).splitlines()[0].split()[-1] == "error"
    assert render(FittedTable(rows, columns), 40).splitlines()[0] == (
        "server  image id  lock wait  attempts"
    ), "the error moved below; full headers still fit"
    assert render(FittedTable(rows, columns), 30).splitlines()[0].split() == [
        "server",
        "image",
        "waited",
        "tries",
    ]
    assert render(FittedTable(rows, columns), 20).splitlines()[0].split() == ["server", "image"], (
        "the highest drop number went first"
    )
    assert render(FittedTable(rows, columns), 20).splitlines()[2].startswith("web-1: a long")
