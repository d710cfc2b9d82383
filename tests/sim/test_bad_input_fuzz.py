"""Whatever body, id or query a client sends, the answer is the documented envelope, never a 500,
and a refused request changes nothing. Bodies, ids and label selectors are drawn by hypothesis.

The world's clock nearly stands still (scale 1e-6), so two ground truths differ only by what a
request did. Every response is validated against Hetzner's OpenAPI document.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hcloud_sim import SimulatorServer
from hcloud_sim.routes import ROUTES
from tests.conftest import SimFactory
from tests.openapi_check import ExchangeValidator
from tests.sim._api import RawApi

SCENARIO: dict[str, Any] = {
    "name": "fuzz",
    "projects": [
        {
            "servers": [
                {"name": "app", "backup_window": "22-02"},
                {"name": "arm", "server_type": "cax11"},
                {"name": "safe", "protection": {"delete": True, "rebuild": True}},
            ],
            "images": [{"description": "app nightly", "server": "app"}],
            "networks": [
                {
                    "name": "net",
                    "ip_range": "10.0.0.0/16",
                    "subnets": [{"ip_range": "10.0.0.0/24"}],
                    "servers": [{"name": "app"}],
                }
            ],
            "placement_groups": [{"name": "spread", "servers": []}],
            "volumes": [{"name": "data", "size": 10, "server": "app"}],
            "floating_ips": [{"name": "vip", "type": "ipv4", "server": "app"}],
            "firewalls": [
                {
                    "name": "fw",
                    "rules": [
                        {
                            "direction": "in",
                            "protocol": "tcp",
                            "port": "22",
                            "source_ips": ["0.0.0.0/0"],
                        }
                    ],
                    "servers": ["app"],
                }
            ],
            "certificates": [{"name": "cert", "domain_names": ["a.example.com"]}],
            "load_balancers": [{"name": "lb", "location": "fsn1", "servers": ["app"]}],
        }
    ],
}
SERVER, IMAGE = 100001, 300005
#: ids of every kind, and of none: a resource must never be found under another kind's id
IDS = [
    "100001",
    "100003",
    "300001",
    "300005",
    "500001",
    "1700001",
    "2000001",
    "4",
    "0",
    "abc",
    "-1",
]

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=6,
)
#: values a field might plausibly get, bad and good
PLAUSIBLE = st.sampled_from(
    [
        "cx22",
        "ubuntu-24.04",
        "fsn1",
        "fsn1-dc14",
        "22-02",
        "backup",
        "snapshot",
        "ipxe.iso",
        "10.0.0.0/16",
        "10.0.1.0/24",
        "10.0.0.7",
        "eu-central",
        "cloud",
        "spread",
        1100001,
        1500001,
        700001,
        1400001,
        "ipv4",
        "ipv6",
        "ext4",
        "lb11",
        "tcp",
        "in",
        80,
        [{"type": "server", "server": {"id": 100001}}],
        1200001,
        1600001,
        10,
        "2000001",
        300005,
        1,
        True,
        {"env": "x"},
        {"a b": "c"},
        ["x"],
        [1],
        "",
    ]
)

# every endpoint that takes a body or an id, as the route table has them (every family's)
ENDPOINTS: list[tuple[str, str, tuple[str, ...]]] = [
    (route.method, route.template, tuple(sorted(route.fields)))
    for route in ROUTES
    if route.method in ("POST", "PUT") or (route.method == "GET" and "{" in route.template)
]
LISTS = [r.template for r in ROUTES if r.method == "GET" and "{" not in r.template]


@pytest.fixture
def world(make_sim: SimFactory) -> SimulatorServer:
    return make_sim(SCENARIO, time_scale=1e-6)


@pytest.fixture
def wire(world: SimulatorServer, schema_check: ExchangeValidator) -> RawApi:
    return RawApi(world, schema_check)


def _state(sim: SimulatorServer) -> dict[str, Any]:
    """The ground truth without what moves on its own (the rate bucket, the time)."""
    truth = sim.state.ground_truth()
    for volatile in ("now", "rate_limit"):
        truth.pop(volatile)
    return truth


def _check(sim: SimulatorServer, before: dict[str, Any], status: int, body: Any) -> None:
    assert status < 500, body
    if status >= 400:
        assert set(body) == {"error"}
        assert {"code", "message"} <= set(body["error"])
        assert _state(sim) == before, "a refused request changed the world"


@st.composite
def bodies(draw: st.DrawFn, fields: tuple[str, ...]) -> dict[str, Any]:
    """Each field of the endpoint or not, plausible or junk; now and then a field it lacks."""
    body = {name: draw(PLAUSIBLE | JSON) for name in fields if draw(st.booleans())}
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        body[draw(st.text(min_size=1, max_size=6))] = draw(JSON)
    return body


#: derandomized: the same draws on every run (a failure reproduces); raise max_examples locally
#: to search harder (800 per test found nothing on 2026-12-05)
FUZZ = settings(
    derandomize=True,
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(data=st.data())
def test_bodies_and_ids(world: SimulatorServer, wire: RawApi, data: st.DataObject) -> None:
    method, template, fields = data.draw(st.sampled_from(ENDPOINTS))
    path = re.sub(r"\{\w+\}", lambda _: data.draw(st.sampled_from(IDS)), template)
    body = data.draw(bodies(fields)) if method in ("POST", "PUT") else None
    before = _state(world)
    response = wire.session.request(method, wire.url + path, json=body, timeout=10)
    _check(world, before, response.status_code, response.json() if response.content else None)


@FUZZ
@given(
    path=st.sampled_from(LISTS),
    query=st.dictionaries(
        st.sampled_from(["label_selector", "sort", "name", "page", "per_page", "architecture"]),
        st.text(max_size=15),
        max_size=3,
    ),
)
def test_list_queries(
    world: SimulatorServer, wire: RawApi, path: str, query: dict[str, str]
) -> None:
    before = _state(world)
    response = wire.get(path, query)
    _check(world, before, response.status_code, response.json())


@FUZZ
@given(raw=st.binary(max_size=40) | st.text(max_size=40).map(str.encode))
def test_bytes_that_are_not_json(world: SimulatorServer, wire: RawApi, raw: bytes) -> None:
    before = _state(world)
    paths = (f"/servers/{SERVER}/actions/attach_iso", "/ssh_keys", f"/images/{IMAGE}", "/servers")
    for path in paths:
        method = "PUT" if path.startswith("/images") else "POST"
        response = wire.session.request(
            method,
            wire.url + path,
            data=raw,
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        _check(world, before, response.status_code, response.json())
