"""Pure decisions: selection, naming, ownership labels, input checks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hsnap.errors import ConfigError
from hsnap.models import RunReport, ServerRef, SnapshotOutcome
from hsnap.policy import (
    DESCRIPTION_MAX,
    check_extra_labels,
    check_selector,
    check_template,
    describe,
    ownership_labels,
    run_selector,
    select,
)
from hsnap.snapshot.report import exit_code, markdown, rows, verdict

FLEET = [ServerRef(i, name, "running") for i, name in enumerate(["web-1", "web-2", "db-1"], 1)]


@pytest.mark.parametrize(
    ("names", "exclude", "chosen", "missing"),
    [
        ([], [], ["db-1", "web-1", "web-2"], []),
        (["web-2"], [], ["web-2"], []),
        (["web-2", "nope"], [], ["web-2"], ["nope"]),
        ([], ["web-1"], ["db-1", "web-2"], []),
        (["web-1", "web-2"], ["web-1"], ["web-2"], []),
        (["nope"], ["nope"], [], []),
        (["web-1", "web-1"], [], ["web-1"], []),
    ],
)
def test_select(
    names: list[str], exclude: list[str], chosen: list[str], missing: list[str]
) -> None:
    got, absent = select(FLEET, names, exclude)
    assert [s.name for s in got] == chosen
    assert absent == missing


@given(
    st.lists(st.sampled_from(["web-1", "web-2", "db-1", "x"]), max_size=5),
    st.lists(st.sampled_from(["web-1", "web-2", "db-1", "x"]), max_size=5),
)
def test_select_never_picks_an_excluded_or_unknown_server(
    names: list[str], exclude: list[str]
) -> None:
    chosen, missing = select(FLEET, names, exclude)
    assert not {s.name for s in chosen} & set(exclude)
    assert {s.name for s in chosen} <= {s.name for s in FLEET}
    # every requested, non-excluded name is either chosen or reported missing: nothing is dropped
    for name in set(names) - set(exclude):
        assert name in {s.name for s in chosen} or name in missing


def test_describe_fills_placeholders_in_utc() -> None:
    now = datetime(2026, 11, 25, 3, 4, 5, tzinfo=UTC)
    text = describe("{server}-{timestamp} {date} {time} {server_id} {run}", FLEET[0], now, "r1")
    assert text == "web-1-20261125T030405Z 2026-11-25 030405 1 r1"


@pytest.mark.parametrize("template", ["{server}-{nope}", "{server", "{0}"])
def test_bad_templates_are_refused_with_the_known_placeholders(template: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_template(template)
    assert template in str(info.value)


@pytest.mark.parametrize(
    ("template", "why"),
    [
        ("{server!r:>99999999}", "without a conversion"),  # sent 99,999,999 characters before
        ("{server:>{server_id}}", "without a conversion"),
        ("{server:{foo}}", "without a conversion"),
        ("{date:%d}", "without a conversion"),
        ("{server_id:s}", "without a conversion"),
        ("{server!z}", "without a conversion"),
        ("{server:>100000000000000000000}", "without a conversion"),
        ("{server!s}", "without a conversion"),
        ("{server[0]}", "known placeholders"),
        ("{server.name}", "known placeholders"),
        ("{}", "known placeholders"),
        ("}", "Single '}'"),
        ("{run}" * 8, f"Hetzner allows {DESCRIPTION_MAX}"),
        ("x" * (DESCRIPTION_MAX + 1), f"Hetzner allows {DESCRIPTION_MAX}"),
    ],
)
def test_templates_take_plain_placeholders_only(template: str, why: str) -> None:
    with pytest.raises(ConfigError, match="description template") as info:
        check_template(template)
    assert why in str(info.value)
    assert "\n" not in str(info.value)
    assert len(str(info.value)) < 200, "one short line"


@pytest.mark.parametrize(
    "template", ["{server}-{timestamp}", "{{literal}} {server_id} {date} {time} {run}", "x" * 255]
)
def test_plain_templates_are_accepted_and_fit_the_limit(template: str) -> None:
    check_template(template)
    longest = ServerRef(2**63 - 1, "n" * 63, "running")
    assert len(describe(template, longest, datetime.now(UTC), "r" * 36)) <= DESCRIPTION_MAX


@pytest.mark.parametrize("selector", ["env=", "env in (a", "a b", "=x", "env==x==y", "!"])
def test_malformed_selectors_fail_before_any_api_call(selector: str) -> None:
    if selector == "env=":  # an empty value is valid Hetzner syntax
        check_selector(selector)
        return
    with pytest.raises(ConfigError, match="malformed label selector"):
        check_selector(selector)


def test_extra_labels_cannot_take_over_ownership() -> None:
    check_extra_labels({"team": "ops"})
    with pytest.raises(ConfigError, match="managed-by"):
        check_extra_labels({"managed-by": "someone"})
    with pytest.raises(ConfigError, match="invalid label key"):
        check_extra_labels({"bad key": "x"})


def test_run_selector_matches_exactly_the_ownership_labels() -> None:
    labels = ownership_labels(42, "6f1c-run")
    assert labels == {"managed-by": "hsnap", "hsnap/server-id": "42", "hsnap/flow-run": "6f1c-run"}
    assert (
        run_selector(42, "6f1c-run")
        == "managed-by=hsnap,hsnap/server-id=42,hsnap/flow-run=6f1c-run"
    )


def _outcome(name: str, status: str, code: str | None = None) -> SnapshotOutcome:
    return SnapshotOutcome(name, 1, status, error_code=code, error="x" if code else None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([("a", "succeeded", None)], 0),
        ([("a", "planned", None)], 0),
        ([("a", "succeeded", None), ("b", "failed", "lock_timeout")], 1),
        ([("a", "failed", "token_readonly"), ("b", "failed", "token_readonly")], 2),
        ([("a", "failed", "token_readonly"), ("b", "failed", "not_found")], 1),
    ],
)
def test_exit_code(statuses: list[tuple[str, str, str | None]], expected: int) -> None:
    report = RunReport("run", False, tuple(_outcome(*s) for s in statuses))
    assert exit_code(report) == expected


def test_report_round_trips_and_names_failures() -> None:
    report = RunReport(
        "run", False, (_outcome("a", "succeeded"), _outcome("b", "failed", "lock_timeout"))
    )
    assert RunReport.from_dict(report.to_dict()) == report
    assert verdict(report) == "1 of 2 server(s) failed: b"
    assert [r["status"] for r in rows(report)] == ["succeeded", "failed"]
    assert "**b** (`lock_timeout`)" in markdown(report)
