"""Pure restore and drill decisions: which type, its cost, who goes first, what may go."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hsnap.models import ImageRef, PriceList, ServerRef, ServerTypeInfo
from hsnap.restore.policy import (
    DRILL_LABEL,
    Candidate,
    billed_cost,
    cheapest_fit,
    drill_labels,
    drill_name,
    is_drill_server,
    last_proven,
    leftovers,
    newest_available,
    restored_labels,
    rotation,
)

TYPES = [
    ServerTypeInfo("cx22", "x86", 40, ("fsn1", "nbg1")),
    ServerTypeInfo("cx32", "x86", 80, ("fsn1", "nbg1", "hel1")),
    ServerTypeInfo("cpx11", "x86", 40, ("fsn1",)),
    ServerTypeInfo("cax11", "arm", 40, ("fsn1",)),
    ServerTypeInfo("old1", "x86", 20, ("fsn1",), deprecated=True),
]
PRICES = PriceList(
    "EUR",
    {
        ("cx22", "fsn1"): "0.0060",
        ("cx22", "nbg1"): "0.0060",
        ("cx32", "fsn1"): "0.0110",
        ("cx32", "nbg1"): "0.0110",
        ("cx32", "hel1"): "0.0100",
        ("cpx11", "fsn1"): "0.0050",
        ("cax11", "fsn1"): "0.0040",
        ("old1", "fsn1"): "0.0001",
    },
)


@pytest.mark.parametrize(
    ("architecture", "disk", "location", "expected"),
    [
        ("x86", 40, "fsn1", "cpx11"),  # cheapest x86 with a 40 GB disk in fsn1
        ("x86", 40, "nbg1", "cx22"),  # cpx11 is not offered in nbg1
        ("x86", 41, "fsn1", "cx32"),  # disk too big for every 40 GB type
        ("arm", 10, "fsn1", "cax11"),  # never an x86 type for an arm image
        ("x86", 20, "hel1", "cx32"),
        ("arm", 10, "nbg1", None),  # no arm type there
        ("x86", 200, "fsn1", None),  # nothing is big enough
        ("x86", 10, "sin", None),  # nothing offered there
    ],
)
def test_cheapest_fit(architecture: str, disk: float, location: str, expected: str | None) -> None:
    fit = cheapest_fit(TYPES, PRICES, architecture=architecture, disk_gb=disk, location=location)
    assert (fit.server_type if fit else None) == expected


def test_a_type_without_a_price_in_the_location_is_not_chosen() -> None:
    prices = PriceList("EUR", {("cx32", "fsn1"): "0.0110"})
    fit = cheapest_fit(TYPES, prices, architecture="x86", disk_gb=10, location="fsn1")
    assert fit is not None
    assert (fit.server_type, fit.hourly, fit.currency) == ("cx32", Decimal("0.0110"), "EUR")


types_st = st.lists(
    st.builds(
        ServerTypeInfo,
        name=st.sampled_from(["a", "b", "c", "d", "e", "f"]),
        architecture=st.sampled_from(["x86", "arm"]),
        disk_gb=st.sampled_from([20.0, 40.0, 80.0, 160.0]),
        locations=st.lists(st.sampled_from(["fsn1", "nbg1"]), unique=True).map(tuple),
        deprecated=st.booleans(),
    ),
    unique_by=lambda t: t.name,
)


@given(
    types=types_st,
    prices=st.dictionaries(
        st.tuples(
            st.sampled_from(["a", "b", "c", "d", "e", "f"]), st.sampled_from(["fsn1", "nbg1"])
        ),
        st.decimals(min_value=Decimal("0.001"), max_value=Decimal(1), places=4).map(str),
    ),
    architecture=st.sampled_from(["x86", "arm"]),
    disk=st.sampled_from([10.0, 40.0, 100.0]),
)
def test_the_fit_is_valid_and_nothing_valid_is_cheaper(
    types: list[ServerTypeInfo],
    prices: dict[tuple[str, str], str],
    architecture: str,
    disk: float,
) -> None:
    price_list = PriceList("EUR", prices)
    fit = cheapest_fit(types, price_list, architecture=architecture, disk_gb=disk, location="fsn1")
    valid = [
        t
        for t in types
        if t.architecture == architecture
        and t.disk_gb >= disk
        and "fsn1" in t.locations
        and not t.deprecated
        and (t.name, "fsn1") in prices
    ]
    if not valid:
        assert fit is None
        return
    assert fit is not None
    assert fit.server_type in {t.name for t in valid}
    assert all(fit.hourly <= Decimal(prices[(t.name, "fsn1")]) for t in valid)


@pytest.mark.parametrize(
    ("seconds", "hours"),
    [(0, 1), (1, 1), (3599, 1), (3600, 1), (3601, 2), (7200, 2), (7201, 3)],
)
def test_billed_per_started_hour(seconds: float, hours: int) -> None:
    assert billed_cost(Decimal("0.0060"), seconds) == Decimal("0.0060") * hours


def test_restored_server_loses_hsnaps_labels_only() -> None:
    labels = {
        "env": "prod",
        "managed-by": "hsnap",
        "hsnap/consistent": "true",
        "hsnap/restart": "r1",
        "team": "web",
    }
    assert restored_labels(labels) == {"env": "prod", "team": "web"}
    assert restored_labels({"managed-by": "terraform"}) == {"managed-by": "terraform"}


def test_drill_server_name_and_labels() -> None:
    run = "0f3c2a1b-aaaa-bbbb-cccc-1234567890ab"
    assert drill_name(100001, run) == "hsnap-drill-0f3c2a1b-100001"
    assert drill_labels(run, 100001) == {
        "managed-by": "hsnap",
        "hsnap/drill": run,
        "hsnap/drill-of": "100001",
    }
    assert is_drill_server(drill_labels(run, 1))
    assert not is_drill_server({"hsnap/drill": run})  # not hsnap's
    assert not is_drill_server({"managed-by": "hsnap", "hsnap/drill": ""})


def _image(
    image_id: int, age_days: float | None, status: str = "available", **labels: str
) -> ImageRef:
    created = (
        None if age_days is None else datetime(2026, 11, 30, tzinfo=UTC) - timedelta(days=age_days)
    )
    return ImageRef(image_id, status, f"img-{image_id}", 1.0, labels, created=created)  # type: ignore[arg-type]


def test_newest_available_skips_creating_and_undated() -> None:
    images = [_image(1, 3), _image(2, 1), _image(3, 0, status="creating"), _image(4, None)]
    chosen = newest_available(images)
    assert chosen is not None
    assert chosen.id == 2
    assert newest_available([_image(3, 0, status="creating")]) is None


def test_last_proven_reads_the_newest_verified_label() -> None:
    images = [
        _image(1, 9, **{"hsnap/verified": "2026-11-01"}),
        _image(2, 2, **{"hsnap/verified": "2026-11-20"}),
        _image(3, 1, **{"hsnap/verified": "garbage"}),
    ]
    assert last_proven(images) == date(2026, 11, 20)
    assert last_proven([_image(4, 1)]) is None


def _candidate(name: str, proven: date | None) -> Candidate:
    return Candidate(ServerRef(hash(name) % 1000, name, "running"), _image(1, 1), proven)


def test_rotation_proves_the_never_and_longest_ago_proven_first() -> None:
    candidates = [
        _candidate("web-1", date(2026, 11, 20)),
        _candidate("db-1", None),
        _candidate("web-2", date(2026, 11, 1)),
        _candidate("cache", None),
    ]
    assert [c.server.name for c in rotation(candidates, 3)] == ["cache", "db-1", "web-2"]
    assert rotation(candidates, 0) == []


@given(
    proven=st.lists(
        st.one_of(st.none(), st.dates(date(2026, 1, 1), date(2026, 12, 31))), max_size=30
    ),
    weekly=st.integers(min_value=1, max_value=10),
)
def test_weekly_rotation_covers_the_fleet(proven: list[date | None], weekly: int) -> None:
    """Each run labels what it proved; after ceil(n / max) runs every server was proven once."""
    fleet = {f"s{i:02d}": p for i, p in enumerate(proven)}
    drilled: set[str] = set()
    today = date(2027, 1, 1)
    for week in range(-(-len(fleet) // weekly)):
        chosen = rotation([_candidate(n, p) for n, p in fleet.items()], weekly)
        assert len(chosen) == min(weekly, len(fleet))
        for c in chosen:
            fleet[c.server.name] = today + timedelta(days=week)
            drilled.add(c.server.name)
    assert drilled == set(fleet)


label_sets = st.dictionaries(
    st.sampled_from(["managed-by", DRILL_LABEL, "hsnap/drill-of", "env", "hsnap/restart"]),
    st.sampled_from(["hsnap", "run-a", "run-b", "run-c", "", "1"]),
)


@given(
    fleet=st.lists(label_sets, max_size=20),
    active=st.sets(st.sampled_from(["run-a", "run-b", "run-c"])),
    current=st.sampled_from(["run-a", "run-b", "run-c", None]),
)
def test_cleanup_only_ever_picks_drill_servers_of_finished_runs(
    fleet: list[dict[str, str]], active: set[str], current: str | None
) -> None:
    servers = [ServerRef(i, f"s{i}", "running", labels) for i, labels in enumerate(fleet)]
    picked = leftovers(servers, active.__contains__, current)
    for server in picked:
        assert server.labels.get("managed-by") == "hsnap"
        assert server.labels.get(DRILL_LABEL)
        assert server.labels[DRILL_LABEL] not in active
        assert server.labels[DRILL_LABEL] != current
    expected = [
        s
        for s in servers
        if s.labels.get("managed-by") == "hsnap"
        and s.labels.get(DRILL_LABEL)
        and s.labels[DRILL_LABEL] not in active
        and s.labels[DRILL_LABEL] != current
    ]
    assert picked == expected
