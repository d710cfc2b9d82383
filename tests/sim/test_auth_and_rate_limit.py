"""Tokens (missing, unknown, read-only, per project) and the per-project rate bucket."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from hcloud import APIException

from hcloud_sim import SimulatorServer
from tests.conftest import ClientFactory, SimFactory
from tests.openapi_check import ExchangeValidator
from tests.sim._api import RawApi, control, error_of

WEB_1 = 100001
#: a clock that nearly stands still: only ``clock.advance`` refills a bucket, however slow the test
STILL = 0.001


def _two_projects(alpha_capacity: int = 3600) -> dict[str, Any]:
    """Two projects in one world: own tokens, own servers, own buckets."""
    return {
        "projects": [
            {
                "name": "alpha",
                "tokens": [{"token": "alpha-rw"}, {"token": "alpha-ro", "readonly": True}],
                "rate_limit": {"capacity": alpha_capacity},
                "servers": [{"name": "a-1"}, {"name": "a-2"}],
            },
            {
                "name": "beta",
                "tokens": [{"token": "beta-rw"}],
                "rate_limit": {"capacity": 100},
                "servers": [{"name": "b-1"}],
            },
        ]
    }


A_1, B_1 = 100001, 100003


def _bucket(capacity: int, refill: float = 1.0) -> dict[str, Any]:
    return {
        "projects": [
            {
                "rate_limit": {"capacity": capacity, "refill_per_second": refill},
                "servers": [{"name": "web-1"}],
            }
        ]
    }


def _get(sim: SimulatorServer, check: ExchangeValidator, headers: Any = None) -> requests.Response:
    response = requests.get(f"{sim.url}/servers", headers=headers or {}, timeout=10)
    check.validate(response)
    return response


def _rate(response: requests.Response) -> tuple[int, int, int]:
    h = response.headers
    return int(h["RateLimit-Limit"]), int(h["RateLimit-Remaining"]), int(h["RateLimit-Reset"])


# -- tokens --------------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Bearer ", "Basic c2ltLXRva2VuOg=="])
def test_no_token_is_401_token_is_required(
    sim: SimulatorServer, schema_check: ExchangeValidator, header: str | None
) -> None:
    response = _get(sim, schema_check, {"Authorization": header} if header else None)
    assert error_of(response) == (401, "unauthorized", "token is required")


def test_unknown_token_is_401_invalid(
    sim: SimulatorServer, schema_check: ExchangeValidator, make_client: ClientFactory
) -> None:
    response = _get(sim, schema_check, {"Authorization": "Bearer not-a-token"})
    assert error_of(response) == (401, "unauthorized", "the token you have provided is invalid")
    with pytest.raises(APIException) as err:
        make_client(sim, token="not-a-token").servers.get_all()
    assert (err.value.code, err.value.message) == (
        "unauthorized",
        "the token you have provided is invalid",
    )
    assert sim.state.request_counts() == [
        {"method": "GET", "endpoint": "/servers", "status": 401, "count": 2}
    ]  # the SDK does not retry a 401


def test_readonly_token_reads_but_cannot_write(
    sim: SimulatorServer, make_client: ClientFactory, schema_check: ExchangeValidator
) -> None:
    reader = make_client(sim, token="sim-readonly")
    assert len(reader.servers.get_all()) == 12
    web_1 = reader.servers.get_by_id(WEB_1)
    assert reader.images.get_all(type=["snapshot"])
    before = sim.state.ground_truth()

    writes = [
        lambda: reader.servers.power_off(web_1),
        lambda: reader.servers.create_image(web_1, description="nope"),
        lambda: reader.servers.update(web_1, labels={"x": "y"}),
        lambda: reader.images.delete(reader.images.get_by_id(300005)),
    ]
    for write in writes:
        with pytest.raises(APIException) as err:
            write()
        assert err.value.code == "token_readonly"
    raw = RawApi(sim, schema_check, token="sim-readonly")
    status, code, _ = error_of(raw.post(f"/servers/{WEB_1}/actions/poweroff"))
    assert (status, code) == (401, "token_readonly")

    after = sim.state.ground_truth()
    assert [a["id"] for a in after["actions"]] == [a["id"] for a in before["actions"]]
    assert after["images"] == before["images"]
    assert after["created_images"] == []
    assert sim.state.server_by_name("web-1").status == "running"


def test_projects_have_separate_tokens_and_state(
    make_sim: SimFactory, make_client: ClientFactory
) -> None:
    sim = make_sim(_two_projects())
    alpha, beta = make_client(sim, token="alpha-rw"), make_client(sim, token="beta-rw")
    assert sorted(s.name for s in alpha.servers.get_all()) == ["a-1", "a-2"]
    assert [s.name for s in beta.servers.get_all()] == ["b-1"]
    with pytest.raises(APIException) as err:
        alpha.servers.get_by_id(B_1)
    assert err.value.code == "not_found"

    made = alpha.servers.create_image(alpha.servers.get_by_id(A_1), description="alpha only")
    assert [i.id for i in alpha.images.get_all(type=["snapshot"])] == [made.image.id]
    assert beta.images.get_all(type=["snapshot"]) == []
    assert sim.state.ground_truth("alpha")["created_images"] == [made.image.id]
    assert sim.state.ground_truth("beta")["created_images"] == []

    reader = make_client(sim, token="alpha-ro")
    assert len(reader.servers.get_all()) == 2
    with pytest.raises(APIException) as ro:
        reader.servers.power_off(reader.servers.get_by_id(A_1))
    assert ro.value.code == "token_readonly"
    with pytest.raises(APIException) as default:  # a scenario's own tokens replace sim-token
        make_client(sim).servers.get_all()
    assert default.value.code == "unauthorized"


def test_projects_have_separate_rate_buckets(
    make_sim: SimFactory, schema_check: ExchangeValidator
) -> None:
    sim = make_sim(_two_projects(alpha_capacity=5))
    alpha = {"Authorization": "Bearer alpha-rw"}
    beta = {"Authorization": "Bearer beta-rw"}
    for _ in range(5):
        assert _get(sim, schema_check, alpha).status_code == 200
    assert error_of(_get(sim, schema_check, alpha))[:2] == (429, "rate_limit_exceeded")
    assert error_of(_get(sim, schema_check, {"Authorization": "Bearer alpha-ro"}))[0] == 429

    ok = _get(sim, schema_check, beta)
    assert ok.status_code == 200
    assert _rate(ok)[:2] == (100, 99)
    assert sim.state.ground_truth("alpha")["rate_limit"]["remaining"] == 0
    assert sim.state.ground_truth("beta")["rate_limit"]["remaining"] == 99


# -- the bucket ----------------------------------------------------------------------------------


def test_small_bucket_runs_dry_with_429_and_headers(
    make_sim: SimFactory, schema_check: ExchangeValidator
) -> None:
    sim = make_sim(_bucket(5), time_scale=STILL)
    auth = {"Authorization": "Bearer sim-token"}
    first = _get(sim, schema_check, auth)
    limit, remaining, reset = _rate(first)
    assert (limit, remaining) == (5, 4)
    assert sim.state.clock.now() - 2 <= reset <= sim.state.clock.now() + 2  # one second short
    remainders = [_rate(_get(sim, schema_check, auth))[1] for _ in range(4)]
    assert remainders == [3, 2, 1, 0]

    refused = _get(sim, schema_check, auth)
    assert error_of(refused) == (429, "rate_limit_exceeded", "limit of 5 requests per hour reached")
    limit, remaining, reset = _rate(refused)
    assert (limit, remaining) == (5, 0)
    now = sim.state.clock.now()
    assert now + 4 <= reset <= now + 6  # full again five refills from now
    assert refused.headers["Content-Type"] == "application/json"
    assert len(refused.headers["X-Correlation-Id"]) == 16


def test_the_clock_refills_one_request_per_second(
    make_sim: SimFactory, schema_check: ExchangeValidator
) -> None:
    sim = make_sim(_bucket(5), time_scale=STILL)
    auth = {"Authorization": "Bearer sim-token"}
    control(sim, "POST", "/rate_limit", {"remaining": 0})
    assert _get(sim, schema_check, auth).status_code == 429

    sim.state.clock.advance(1)
    assert _rate(_get(sim, schema_check, auth))[1] == 0
    assert _get(sim, schema_check, auth).status_code == 429

    sim.state.clock.advance(3)
    assert _rate(_get(sim, schema_check, auth))[1] == 2

    sim.state.clock.advance(3600)
    limit, remaining, _ = _rate(_get(sim, schema_check, auth))
    assert (limit, remaining) == (5, 4)  # never more than the capacity


def test_sdk_retries_429_and_recovers_when_the_bucket_refills(
    make_sim: SimFactory, make_client: ClientFactory
) -> None:
    sim = make_sim(_bucket(5), time_scale=STILL)
    client = make_client(sim)
    waits: list[int] = []

    def backoff(retries: int) -> float:
        """The SDK's retry sleep (1..60 real seconds) becomes two simulated seconds."""
        waits.append(retries)
        sim.state.clock.advance(2)
        return 0.0

    client._client._retry_interval_func = backoff
    control(sim, "POST", "/rate_limit", {"remaining": 0})
    assert [s.name for s in client.servers.get_all()] == ["web-1"]
    assert waits == [0]
    assert sim.state.request_counts() == [
        {"method": "GET", "endpoint": "/servers", "status": 200, "count": 1},
        {"method": "GET", "endpoint": "/servers", "status": 429, "count": 1},
    ]


def test_sdk_gives_up_after_five_retries_on_a_bucket_that_never_refills(
    make_sim: SimFactory, make_client: ClientFactory
) -> None:
    sim = make_sim(_bucket(2, refill=0))
    client = make_client(sim)
    client._client._retry_interval_func = lambda _retries: 0.0  # retry at once
    control(sim, "POST", "/rate_limit", {"remaining": 0})
    with pytest.raises(APIException) as err:
        client.servers.get_all()
    assert (err.value.code, err.value.message) == (
        "rate_limit_exceeded",
        "limit of 2 requests per hour reached",
    )
    assert sim.state.request_counts() == [
        {"method": "GET", "endpoint": "/servers", "status": 429, "count": 6}
    ]


def test_default_bucket_is_3600_per_hour(
    sim: SimulatorServer, schema_check: ExchangeValidator
) -> None:
    before = sim.state.clock.now()
    limit, remaining, reset = _rate(_get(sim, schema_check, {"Authorization": "Bearer sim-token"}))
    assert (limit, remaining) == (3600, 3599)
    assert before < reset <= sim.state.clock.now() + 2  # one request short of full: a second away
