"""The catalog through the real SDK: ``/server_types``, ``/locations``, ``/pricing``.

Every response is validated against Hetzner's OpenAPI document (``make_client``). hcloud-python
2.27 has no pricing client: ``client.request("GET", "/pricing")`` reaches it, as a user would.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import hcloud
import pytest
from hcloud import APIException

from hcloud_sim.scenarios import ScenarioError, load_scenario
from tests.conftest import ClientFactory, SimFactory

#: a scenario with its own catalog: two types, two locations, its own snapshot price
SHOP: dict[str, Any] = {
    "name": "shop",
    "catalog": {
        "vat_rate": "20",
        "image_price_per_gb_month": 0.012,
        "locations": ["fsn1", "hel1"],
        "server_types": [
            {
                "name": "tiny",
                "disk": 20,
                "prices": {"fsn1": {"hourly": "0.0050", "monthly": "3.00"}},
            },
            {
                "name": "arm-big",
                "id": 900,
                "architecture": "arm",
                "cores": 8,
                "memory": 16,
                "disk": 320,
                "prices": {
                    "fsn1": {"hourly": "0.0300", "monthly": "19.00"},
                    "hel1": {"hourly": "0.0250", "monthly": "16.50"},
                },
            },
        ],
    },
    "projects": [{"servers": [{"name": "a", "server_type": "tiny"}]}],
}


@pytest.fixture
def shop(make_sim: SimFactory, make_client: ClientFactory) -> hcloud.Client:
    return make_client(make_sim(SHOP, time_scale=1))


def test_default_server_types_cover_x86_and_arm_with_eu_prices(client: hcloud.Client) -> None:
    types = {t.name: t for t in client.server_types.get_all()}
    assert {"cx22", "cx32", "cpx11", "cax11", "ccx13"} <= set(types)
    assert types["cax11"].architecture == "arm"
    assert types["cx22"].architecture == "x86"
    assert (types["cx22"].disk, types["cx32"].disk) == (40, 80)
    prices = {p["location"]: p for p in types["cx22"].prices}
    assert set(prices) == {"fsn1", "nbg1", "hel1"}  # cx types are EU-only, as at Hetzner
    assert prices["fsn1"]["price_monthly"]["net"] == "3.7900"
    assert prices["fsn1"]["price_hourly"] == {"net": "0.0060", "gross": "0.0071"}
    # cpx11 is offered outside the EU too, at a higher price
    us = {p["location"]: p for p in types["cpx11"].prices}["ash"]
    assert Decimal(us["price_monthly"]["net"]) > Decimal("4.35")


def test_server_type_by_name_and_id(client: hcloud.Client) -> None:
    cax = client.server_types.get_by_name("cax11")
    assert cax is not None
    again = client.server_types.get_by_id(cax.id)
    assert (again.name, again.cores, again.memory, again.cpu_type) == ("cax11", 2, 4.0, "shared")
    assert [loc.location.name for loc in again.locations] == ["fsn1", "nbg1", "hel1"]
    assert client.server_types.get_by_name("cx99") is None
    with pytest.raises(APIException) as caught:
        client.server_types.get_by_id(99999)
    assert caught.value.code == "not_found"


def test_server_types_page(client: hcloud.Client) -> None:
    first = client.server_types.get_list(page=1, per_page=2)
    assert len(first.server_types) == 2
    assert first.meta.pagination.next_page == 2
    everything = client.server_types.get_all()
    assert [t.id for t in everything] == sorted(t.id for t in everything)


def test_locations(client: hcloud.Client) -> None:
    locations = client.locations.get_all()
    assert [loc.name for loc in locations] == ["fsn1", "nbg1", "hel1", "ash", "hil", "sin"]
    hel = client.locations.get_by_name("hel1")
    assert hel is not None
    assert (hel.country, hel.network_zone) == ("FI", "eu-central")
    assert client.locations.get_by_id(hel.id).city == "Helsinki"
    # the SDK has no sort for locations; the API has
    by_name = client.request("GET", "/locations", params={"sort": "name:desc"})["locations"]
    assert [loc["name"] for loc in by_name][:2] == ["sin", "nbg1"]
    with pytest.raises(APIException) as caught:
        client.locations.get_by_id(77)
    assert caught.value.code == "not_found"


def test_pricing_lists_every_type_and_the_snapshot_price(client: hcloud.Client) -> None:
    pricing = client.request("GET", "/pricing")["pricing"]
    assert pricing["currency"] == "EUR"
    assert pricing["image"]["price_per_gb_month"]["net"] == "0.0110"
    types = {t.name for t in client.server_types.get_all()}
    assert {t["name"] for t in pricing["server_types"]} == types
    cx22 = next(t for t in pricing["server_types"] if t["name"] == "cx22")
    listed = client.server_types.get_by_name("cx22")
    assert listed is not None
    assert cx22["prices"] == listed.prices  # /pricing and /server_types agree


def test_a_scenario_sets_types_locations_and_prices(shop: hcloud.Client) -> None:
    types = {t.name: t for t in shop.server_types.get_all()}
    assert set(types) == {"tiny", "arm-big"}
    assert types["arm-big"].id == 900
    assert types["tiny"].id == 901  # numbered after the highest given id
    assert (types["arm-big"].architecture, types["arm-big"].disk) == ("arm", 320)
    hel = next(p for p in types["arm-big"].prices if p["location"] == "hel1")
    assert hel["price_monthly"] == {"net": "16.5000", "gross": "19.8000"}  # 20 % VAT
    assert [loc.name for loc in shop.locations.get_all()] == ["fsn1", "hel1"]
    pricing = shop.request("GET", "/pricing")["pricing"]
    assert pricing["image"]["price_per_gb_month"] == {"net": "0.0120", "gross": "0.0144"}
    server = shop.servers.get_by_name("a")
    assert server is not None
    assert (server.server_type.name, server.primary_disk_size) == ("tiny", 20)


@pytest.mark.parametrize(
    ("catalog", "problem"),
    [
        ({"locations": ["mars"]}, "unknown location 'mars'"),
        (
            {"locations": ["fsn1"], "server_types": [{"name": "x", "prices": {"hel1": {}}}]},
            "hel1",
        ),
        (
            {"server_types": [{"name": "x", "prices": {"fsn1": {"hourly": "a", "monthly": 1}}}]},
            "write a decimal number",
        ),
        (
            {
                "server_types": [
                    {"name": "x", "prices": {"fsn1": {"hourly": 1, "monthly": 1}}},
                    {"name": "x", "prices": {"fsn1": {"hourly": 1, "monthly": 1}}},
                ]
            },
            "listed twice",
        ),
    ],
)
def test_a_bad_catalog_is_refused_at_load(catalog: dict[str, Any], problem: str) -> None:
    with pytest.raises(ScenarioError, match=problem):
        load_scenario({"catalog": catalog})


def test_a_server_of_a_type_the_catalog_lacks_is_refused_at_load() -> None:
    with pytest.raises(ScenarioError, match="unknown server_type 'cx22'"):
        load_scenario({**SHOP, "projects": [{"servers": [{"name": "a"}]}]})
