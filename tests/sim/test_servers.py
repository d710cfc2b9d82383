"""Servers through the real SDK: pagination, filters, sorting, selectors, updates, networks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import hcloud
import pytest
from hcloud import APIException

from hcloud_sim import SimulatorServer
from tests.conftest import ClientFactory
from tests.openapi_check import ExchangeValidator
from tests.sim._api import RawApi, error_of

#: 120 servers in four groups of different age: more than two pages of 50.
FLEET: dict[str, Any] = {
    "name": "fleet",
    "projects": [
        {
            "name": "fleet",
            "servers": [
                {
                    "name": "web-{i:03d}",
                    "count": 60,
                    "labels": {"env": "prod", "role": "web"},
                    "created_age": "10d",
                },
                {
                    "name": "db-{i:02d}",
                    "count": 40,
                    "labels": {"env": "prod", "role": "db"},
                    "created_age": "20d",
                },
                {
                    "name": "stg-{i:02d}",
                    "count": 15,
                    "labels": {"env": "staging"},
                    "created_age": "5d",
                },
                {"name": "cold-{i}", "count": 5, "status": "off", "created_age": "1d"},
            ],
        }
    ],
}
FLEET_SIZE = 120
PAGE_KEYS = {"page", "per_page", "previous_page", "next_page", "last_page", "total_entries"}


@pytest.fixture(scope="module")
def fleet() -> Iterator[SimulatorServer]:
    """Shared by the read-only tests of this module."""
    with SimulatorServer(FLEET) as server:
        yield server


@pytest.fixture(scope="module")
def demo() -> Iterator[SimulatorServer]:
    """The demo fleet for tests that read, or whose writes are all rejected."""
    with SimulatorServer("demo") as server:
        yield server


@pytest.fixture
def demo_client(demo: SimulatorServer, make_client: ClientFactory) -> hcloud.Client:
    return make_client(demo)


@pytest.fixture
def raw(fleet: SimulatorServer, schema_check: ExchangeValidator) -> RawApi:
    return RawApi(fleet, schema_check)


# -- pagination ------------------------------------------------------------------------------


def test_get_all_walks_every_page(fleet: SimulatorServer, make_client: ClientFactory) -> None:
    with fleet.state.lock:
        fleet.state.stats.clear()  # the module's other tests share this simulator
    servers = make_client(fleet).servers.get_all()

    assert len(servers) == FLEET_SIZE
    assert len({s.id for s in servers}) == FLEET_SIZE
    assert {s.name for s in servers} >= {"web-001", "web-060", "db-40", "stg-15", "cold-5"}
    pages = [c for c in fleet.state.request_counts() if c["endpoint"] == "/servers"]
    assert pages == [{"method": "GET", "endpoint": "/servers", "status": 200, "count": 3}]


def test_pages_carry_exactly_the_six_pagination_keys(raw: RawApi) -> None:
    seen: list[int] = []
    for page, size in ((1, 50), (2, 50), (3, 20)):
        response = raw.get("/servers", {"per_page": 50, "page": page})
        assert response.status_code == 200
        body = response.json()
        meta = body["meta"]["pagination"]
        assert set(meta) == PAGE_KEYS
        assert meta == {
            "page": page,
            "per_page": 50,
            "previous_page": page - 1 if page > 1 else None,
            "next_page": page + 1 if page < 3 else None,
            "last_page": 3,
            "total_entries": FLEET_SIZE,
        }
        assert len(body["servers"]) == size
        seen += [s["id"] for s in body["servers"]]
    assert len(set(seen)) == FLEET_SIZE


def test_per_page_defaults_to_25_and_is_capped_at_50(raw: RawApi) -> None:
    default = raw.get("/servers").json()
    assert len(default["servers"]) == 25
    assert default["meta"]["pagination"]["per_page"] == 25
    assert default["meta"]["pagination"]["last_page"] == 5

    capped = raw.get("/servers", {"per_page": 500}).json()
    assert len(capped["servers"]) == 50
    assert capped["meta"]["pagination"]["per_page"] == 50
    assert capped["meta"]["pagination"]["last_page"] == 3


def test_a_page_past_the_end_is_empty_and_has_no_next(raw: RawApi) -> None:
    body = raw.get("/servers", {"per_page": 50, "page": 7}).json()
    assert body["servers"] == []
    assert body["meta"]["pagination"]["next_page"] is None
    assert body["meta"]["pagination"]["last_page"] == 3


def test_link_header_pages_keep_the_filters(raw: RawApi) -> None:
    first = raw.get("/servers", {"label_selector": "role=db", "per_page": 30})
    links = {
        part.split(";")[1].strip(): part.split(";")[0].strip().strip("<>")
        for part in first.headers["Link"].split(",")
    }
    assert set(links) == {'rel="next"', 'rel="last"'}
    target = urljoin(raw.url, links['rel="next"'])
    query = parse_qs(urlsplit(target).query)
    assert query["label_selector"] == ["role=db"]
    second = raw.session.get(target, timeout=10).json()
    assert second["meta"]["pagination"]["page"] == 2
    assert len(second["servers"]) == 10
    assert {s["labels"]["role"] for s in second["servers"]} == {"db"}


# -- filters and sorting ---------------------------------------------------------------------


def test_name_filter_is_an_exact_match(fleet: SimulatorServer, make_client: ClientFactory) -> None:
    client = make_client(fleet)
    assert [s.name for s in client.servers.get_all(name="web-007")] == ["web-007"]
    assert client.servers.get_all(name="web-0") == []
    found = client.servers.get_by_name("db-12")
    assert found is not None
    assert found.name == "db-12"
    assert client.servers.get_by_name("nope") is None


def test_status_filter_is_repeatable(fleet: SimulatorServer, make_client: ClientFactory) -> None:
    client = make_client(fleet)
    off = client.servers.get_all(status=["off"])
    assert sorted(s.name for s in off) == [f"cold-{i}" for i in range(1, 6)]
    assert {s.status for s in off} == {"off"}
    assert len(client.servers.get_all(status=["running"])) == FLEET_SIZE - 5
    assert len(client.servers.get_all(status=["running", "off"])) == FLEET_SIZE
    assert client.servers.get_all(status=["starting"]) == []


def test_status_filter_rejects_an_unknown_status(raw: RawApi) -> None:
    status, code, message = error_of(raw.get("/servers", {"status": ["running", "sleeping"]}))
    assert (status, code) == (422, "invalid_input")
    assert "'status'" in message


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name:desc", ["web-060", "web-059", "web-058"]),
        ("name", ["cold-1", "cold-2", "cold-3"]),
        ("name:asc", ["cold-1", "cold-2", "cold-3"]),
        ("id:desc", ["cold-5", "cold-4", "cold-3"]),
        ("created", ["db-01", "db-02", "db-03"]),  # oldest group first, ties keep id order
    ],
)
def test_sort(raw: RawApi, sort: str, expected: list[str]) -> None:
    body = raw.get("/servers", {"sort": sort, "per_page": 3}).json()
    assert [s["name"] for s in body["servers"][:3]] == expected


def test_sort_by_several_fields_first_one_wins(raw: RawApi) -> None:
    body = raw.get("/servers", {"sort": ["created:desc", "name:desc"], "per_page": 7}).json()
    names = [s["name"] for s in body["servers"]]
    assert names[:7] == ["cold-5", "cold-4", "cold-3", "cold-2", "cold-1", "stg-15", "stg-14"]
    last_page = raw.get(
        "/servers", {"sort": ["created:desc", "name:desc"], "per_page": 10, "page": 12}
    ).json()
    assert [s["name"] for s in last_page["servers"]][-2:] == ["db-02", "db-01"]


def test_sort_by_an_unknown_field_is_invalid_input(raw: RawApi) -> None:
    status, code, message = error_of(raw.get("/servers", {"sort": "status:desc"}))
    assert (status, code) == (422, "invalid_input")
    assert "'sort'" in message


# -- label selectors through the SDK -----------------------------------------------------------

SELECTOR_WORLD: dict[str, Any] = {
    "name": "labels",
    "projects": [
        {
            "servers": [
                {"name": "a", "labels": {"env": "prod", "role": "web", "tier": "1"}},
                {"name": "b", "labels": {"env": "prod", "role": "db"}},
                {"name": "c", "labels": {"env": "staging", "role": "web", "canary": ""}},
                {"name": "d", "labels": {"env": "dev"}},
                {"name": "e"},
                {"name": "f", "labels": {"env": "prod", "example.com/team": "ops"}},
            ]
        }
    ],
}


@pytest.fixture(scope="module")
def labelled_sim() -> Iterator[SimulatorServer]:
    with SimulatorServer(SELECTOR_WORLD) as server:
        yield server


@pytest.fixture
def labelled(labelled_sim: SimulatorServer, make_client: ClientFactory) -> hcloud.Client:
    return make_client(labelled_sim)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("env=prod", "abf"),
        ("env==prod", "abf"),
        ("env!=prod", "cde"),  # a missing key is "not equal"
        ("role", "abc"),
        ("!role", "def"),
        ("canary", "c"),  # an empty value is still a present key
        ("role in (web,db)", "abc"),
        ("env in (prod, staging)", "abcf"),
        ("role notin (web)", "bdef"),  # a missing key is "not in"
        ("env=prod,role=web", "a"),
        ("env=prod,!role", "f"),
        ("env in (prod,staging),role notin (db)", "acf"),
        ("example.com/team=ops", "f"),
        ("tier=1,role", "a"),
        ("env=nothing", ""),
    ],
)
def test_label_selector_forms(labelled: hcloud.Client, selector: str, expected: str) -> None:
    found = labelled.servers.get_all(label_selector=selector)
    assert "".join(sorted(s.name for s in found)) == expected


@pytest.mark.parametrize(
    "selector",
    ["env=prod,", "role in (web", "=prod", "env===prod", "!role=web", "bad key=1", "-x=1"],
)
def test_a_malformed_label_selector_is_invalid_input(
    labelled: hcloud.Client, selector: str
) -> None:
    with pytest.raises(APIException) as caught:
        labelled.servers.get_all(label_selector=selector)
    assert caught.value.code == "invalid_input"
    assert caught.value.message.startswith("invalid input in field 'label_selector': ")
    assert caught.value.details["fields"][0]["name"] == "label_selector"


# -- PUT /servers/{id} ---------------------------------------------------------------------------


def test_update_name_and_labels(client: hcloud.Client) -> None:
    server = client.servers.get_by_name("web-1")
    assert server is not None
    updated = client.servers.update(server, name="web-1-renamed", labels={"env": "test", "x": ""})
    assert (updated.id, updated.name) == (server.id, "web-1-renamed")
    assert updated.labels == {"env": "test", "x": ""}

    again = client.servers.get_by_id(server.id)
    assert again.name == "web-1-renamed"
    assert again.labels == {"env": "test", "x": ""}  # replaced, not merged
    assert client.servers.get_by_name("web-1") is None
    assert [s.id for s in client.servers.get_all(label_selector="env=test")] == [server.id]


def test_update_only_labels_keeps_the_name(client: hcloud.Client) -> None:
    server = client.servers.get_by_name("db-2")
    assert server is not None
    updated = client.servers.update(server, labels={})
    assert (updated.name, updated.labels) == ("db-2", {})


@pytest.mark.parametrize(
    "labels",
    [
        {"bad key": "x"},
        {"env": "no spaces"},
        {"env": "-leading"},
        {"k" * 64: "x"},
        {"env": "v" * 64},
        {"hetzner.cloud/owner": "me"},
    ],
)
def test_update_rejects_invalid_labels(demo_client: hcloud.Client, labels: dict[str, str]) -> None:
    client = demo_client
    server = client.servers.get_by_name("web-2")
    assert server is not None
    with pytest.raises(APIException) as caught:
        client.servers.update(server, labels=labels)
    assert caught.value.code == "invalid_input"
    assert caught.value.message.startswith("invalid input in field 'labels': ")
    assert client.servers.get_by_id(server.id).labels == {"env": "prod", "role": "web"}


@pytest.mark.parametrize("name", ["has space", "under_score", "", "-dash-first", "a" * 64])
def test_update_rejects_a_name_that_is_no_hostname(demo_client: hcloud.Client, name: str) -> None:
    client = demo_client
    server = client.servers.get_by_name("web-3")
    assert server is not None
    with pytest.raises(APIException) as caught:
        client.servers.update(server, name=name)
    assert caught.value.code == "invalid_input"
    assert caught.value.message.startswith("invalid input in field 'name': ")
    assert client.servers.get_by_id(server.id).name == "web-3"


def test_update_to_a_name_in_use_is_a_uniqueness_error(demo_client: hcloud.Client) -> None:
    client = demo_client
    server = client.servers.get_by_name("web-3")
    assert server is not None
    with pytest.raises(APIException) as caught:
        client.servers.update(server, name="web-1")
    assert caught.value.code == "uniqueness_error"
    assert caught.value.details == {"fields": [{"name": "name"}]}


def test_update_rejects_an_unknown_body_field(
    demo: SimulatorServer, demo_client: hcloud.Client
) -> None:
    with pytest.raises(APIException) as caught:
        demo_client.request("PUT", "/servers/100001", json={"name": "web-x", "x": 1})
    assert caught.value.code == "invalid_input"
    assert caught.value.message == "invalid input: unknown field name 'x'"
    assert demo.state.server_by_name("web-1").id == 100001  # nothing was changed


def test_update_of_an_unknown_server_is_not_found(
    demo: SimulatorServer, schema_check: ExchangeValidator
) -> None:
    response = RawApi(demo, schema_check).put("/servers/999999", {"name": "ghost"})
    assert error_of(response) == (404, "not_found", "server with ID '999999' not found")


# -- one server, and public networks --------------------------------------------------------------


def test_get_by_id_of_an_unknown_server_is_not_found(demo_client: hcloud.Client) -> None:
    with pytest.raises(APIException) as caught:
        demo_client.servers.get_by_id(424242)
    assert caught.value.code == "not_found"
    assert caught.value.message == "server with ID '424242' not found"


def test_servers_with_and_without_public_addresses(demo_client: hcloud.Client) -> None:
    client = demo_client
    dual = client.servers.get_by_name("web-1")
    v6_only = client.servers.get_by_name("edge-v6")
    private = client.servers.get_by_name("internal-1")
    assert dual is not None
    assert v6_only is not None
    assert private is not None

    assert dual.public_net.ipv4 is not None
    assert dual.public_net.ipv4.ip
    assert dual.public_net.ipv6 is not None
    assert dual.public_net.ipv6.ip.endswith("::/64")

    assert v6_only.public_net.ipv4 is None
    assert v6_only.public_net.ipv6 is not None
    assert v6_only.public_net.ipv6.ip.endswith("::/64")
    assert v6_only.public_net.primary_ipv4 is None

    assert private.public_net.ipv4 is None
    assert private.public_net.ipv6 is None
    assert private.public_net.floating_ips == []
    assert len(private.private_net) == 1
    assert private.private_net[0].ip.startswith("10.0.")
    network = client.networks.get_by_name("private")
    assert network is not None
    assert private.private_net[0].network.id == network.id
    assert private.id in [s.id for s in network.servers]


def test_every_demo_server_loads_through_the_sdk(demo_client: hcloud.Client) -> None:
    client = demo_client
    for server in client.servers.get_all():
        loaded = client.servers.get_by_id(server.id)
        assert loaded.name == server.name
        assert loaded.location.name
        assert loaded.server_type.name
        assert loaded.locked is False  # "locked" is not "an action is running"
