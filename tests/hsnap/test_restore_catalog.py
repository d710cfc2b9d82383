"""What a restore reads: server types, prices, a server's snapshots (against the simulator)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from hsnap.errors import ConfigError
from hsnap.restore.catalog import NOT_OURS, list_snapshots
from hsnap.restore.policy import cheapest_fit
from hsnap.retention.policy import RetentionPolicy
from tests.conftest import SimFactory
from tests.hsnap.world import APP_1, SCALE, connect, world

OURS = {"managed-by": "hsnap", "hsnap/server-id": str(APP_1)}
CATALOG = {
    "server_types": [
        {"name": "big", "disk": 160, "prices": {"fsn1": {"hourly": "0.0300", "monthly": "20"}}},
        {"name": "small", "disk": 40, "prices": {"fsn1": {"hourly": "0.0050", "monthly": "3"}}},
        {"name": "mid", "disk": 80, "prices": {"nbg1": {"hourly": "0.0040", "monthly": "2"}}},
        {
            "name": "arm",
            "disk": 40,
            "architecture": "arm",
            "prices": {"fsn1": {"hourly": "0.0010", "monthly": "1"}},
        },
    ]
}


def test_types_and_prices_come_from_the_api(make_sim: SimFactory) -> None:
    scenario = world({"name": "app-1", "server_type": "big"})
    scenario["catalog"] = CATALOG
    cloud = connect(make_sim(scenario, time_scale=SCALE))
    types = {t.name: t for t in cloud.server_types()}
    prices = cloud.pricing()
    assert types["mid"].locations == ("nbg1",)
    assert types["arm"].architecture == "arm"
    assert prices.currency == "EUR"
    assert prices.hourly[("small", "fsn1")] == "0.0050"
    # 40 GB x86 in fsn1: small (the arm type is cheaper, mid is not offered there)
    fit = cheapest_fit(types.values(), prices, architecture="x86", disk_gb=40, location="fsn1")
    assert fit is not None
    assert (fit.server_type, fit.hourly) == ("small", Decimal("0.0050"))
    fit = cheapest_fit(types.values(), prices, architecture="x86", disk_gb=41, location="fsn1")
    assert fit is not None
    assert fit.server_type == "big"


def test_snapshots_lists_maker_retention_and_last_proof(make_sim: SimFactory) -> None:
    scenario = world(
        {"name": "app-1"},
        {"name": "app-2"},
        images=[
            {"description": "old", "server": "app-1", "age": "3d", "labels": OURS},
            {
                "description": "new",
                "server": "app-1",
                "age": "1d",
                "labels": {**OURS, "hsnap/verified": "2026-11-29"},
            },
            {"description": "by hand", "server": "app-1", "age": "2d"},
            {"description": "other server", "server": "app-2", "age": "1d"},
        ],
    )
    cloud = connect(make_sim(scenario, time_scale=SCALE))
    policy = RetentionPolicy(keep_last=1, daily=0, weekly=0, monthly=0)
    server, rows = list_snapshots(cloud, "app-1", policy, timezone="UTC", now=datetime.now(UTC))
    assert server.id == APP_1
    assert [r.description for r in rows] == ["new", "by hand", "old"]  # newest first
    by = {r.description: r for r in rows}
    assert (by["new"].maker, by["new"].last_proven) == ("hsnap", "2026-11-29")
    assert by["new"].retention.startswith("kept")
    assert by["old"].retention.startswith("deleted")
    assert (by["by hand"].maker, by["by hand"].retention) == ("other", NOT_OURS)
    assert by["old"].last_proven == "never"


def test_snapshots_of_an_unknown_server_is_bad_input(make_sim: SimFactory) -> None:
    cloud = connect(make_sim(world(), time_scale=SCALE))
    with pytest.raises(ConfigError, match="no server named 'nope'"):
        list_snapshots(cloud, "nope", RetentionPolicy(), timezone="UTC", now=datetime.now(UTC))
