"""Fault rules from the scenario and from ``/_sim/faults``: codes, odds, caps, latency, drops."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from hcloud import APIException

from hcloud_sim import SimulatorServer
from tests.conftest import ClientFactory, SimFactory
from tests.openapi_check import ExchangeValidator
from tests.sim._api import RawApi, control, error_of

APP_1 = 100001
AUTH = {"Authorization": "Bearer sim-token"}
CREATE_IMAGE = "/servers/*/actions/create_image"


def _world(*faults: dict[str, Any], servers: int = 1) -> dict[str, Any]:
    return {
        "projects": [
            {
                "servers": [{"name": "app-{i}", "count": servers}],
                "action_durations": {"create_image": 100},
                "faults": list(faults),
            }
        ]
    }


def _statuses(raw: RawApi, path: str, n: int) -> list[int]:
    return [raw.get(path).status_code for _ in range(n)]


def _add(sim: SimulatorServer, rule: dict[str, Any]) -> dict[str, Any]:
    response = control(sim, "POST", "/faults", rule)
    assert response.status_code == 201, response.text
    fault: dict[str, Any] = response.json()["fault"]
    return fault


@pytest.fixture
def quiet(make_sim: SimFactory) -> SimulatorServer:
    """One server, no faults yet, real-time clock."""
    return make_sim(_world())


@pytest.fixture
def raw(quiet: SimulatorServer, schema_check: ExchangeValidator) -> RawApi:
    return RawApi(quiet, schema_check)


# -- codes ---------------------------------------------------------------------------------------


def test_scenario_fault_answers_503_twice(
    make_sim: SimFactory, schema_check: ExchangeValidator
) -> None:
    sim = make_sim(_world({"method": "GET", "path": "/servers", "code": "unavailable", "count": 2}))
    raw = RawApi(sim, schema_check)
    first = raw.get("/servers")
    assert error_of(first) == (
        503,
        "unavailable",
        "a service or product is currently not available",
    )
    assert _statuses(raw, "/servers", 3) == [503, 200, 200]
    assert raw.get(f"/servers/{APP_1}").status_code == 200  # the glob is the whole path


def test_runtime_faults_with_code_status_and_message(quiet: SimulatorServer, raw: RawApi) -> None:
    fault = _add(quiet, {"method": "GET", "path": "/servers/*", "code": "timeout"})
    assert fault["id"] == 1
    assert error_of(raw.get(f"/servers/{APP_1}")) == (
        504,
        "timeout",
        "the request could not be answered in time, please retry",
    )
    assert raw.get("/servers").status_code == 200

    _add(quiet, {"method": "PUT", "code": "maintenance", "message": "planned maintenance"})
    response = raw.put(f"/servers/{APP_1}", {"labels": {"a": "b"}})
    assert error_of(response) == (403, "maintenance", "planned maintenance")
    assert quiet.state.server_by_name("app-1").labels == {}  # refused before it was carried out

    _add(quiet, {"method": "GET", "path": "/images", "code": "teapot", "status": 418})
    teapot = requests.get(f"{quiet.url}/images", headers=AUTH, timeout=10)
    assert error_of(teapot) == (418, "teapot", "teapot")

    listed = control(quiet, "GET", "/faults").json()["faults"]
    assert [(f["id"], f["code"], f["fired"]) for f in listed] == [
        (1, "timeout", 1),
        (2, "maintenance", 1),
        (3, "teapot", 1),
    ]


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ({"code": "nonsense"}, "unknown error code"),
        ({"code": "unavailable", "drop": True}, "either answers with an error code or drops"),
        ({"path": "/servers"}, "needs a code, drop: true, or a latency"),
        ({"code": "unavailable", "probability": 1.5}, "probability"),
        ({"code": "unavailable", "wen": "after"}, "wen"),
    ],
)
def test_bad_fault_rules_are_refused(
    quiet: SimulatorServer, rule: dict[str, Any], problem: str
) -> None:
    status, code, message = error_of(control(quiet, "POST", "/faults", rule))
    assert (status, code) == (422, "invalid_input")
    assert problem in message
    assert control(quiet, "GET", "/faults").json()["faults"] == []


def test_faults_never_touch_the_control_api(quiet: SimulatorServer, raw: RawApi) -> None:
    _add(quiet, {"code": "server_error"})
    assert error_of(raw.get("/servers"))[:2] == (500, "server_error")
    assert control(quiet, "GET", "/health").status_code == 200
    assert control(quiet, "GET", "/state").status_code == 200


def test_faults_belong_to_one_project(make_sim: SimFactory) -> None:
    sim = make_sim(
        {
            "projects": [
                {"name": "alpha", "tokens": [{"token": "alpha"}]},
                {"name": "beta", "tokens": [{"token": "beta"}]},
            ]
        }
    )
    assert control(sim, "POST", "/faults?project=beta", {"code": "unavailable"}).status_code == 201
    statuses = {
        token: requests.get(
            f"{sim.url}/servers", headers={"Authorization": f"Bearer {token}"}, timeout=10
        ).status_code
        for token in ("alpha", "beta")
    }
    assert statuses == {"alpha": 200, "beta": 503}
    assert control(sim, "GET", "/faults?project=alpha").json()["faults"] == []


# -- how often -----------------------------------------------------------------------------------


def _coin_flips(sim: SimulatorServer) -> list[int]:
    """Statuses of 30 list requests (not schema-checked: only the status matters, and speed)."""
    with requests.Session() as session:
        session.headers.update(AUTH)
        return [session.get(f"{sim.url}/servers", timeout=10).status_code for _ in range(30)]


def test_probability_with_a_seed_is_reproducible(make_sim: SimFactory) -> None:
    def rule(seed: int) -> dict[str, Any]:
        return {"path": "/servers", "code": "server_error", "probability": 0.5, "seed": seed}

    first = _coin_flips(make_sim(_world(rule(42))))
    assert _coin_flips(make_sim(_world(rule(42)))) == first
    assert 5 < first.count(500) < 25
    assert set(first) == {200, 500}
    assert _coin_flips(make_sim(_world(rule(43)))) != first

    runtime = make_sim(_world())  # a rule added at run time draws the same sequence
    _add(runtime, rule(42))
    assert _coin_flips(runtime) == first


def test_count_caps_firing(quiet: SimulatorServer, raw: RawApi) -> None:
    _add(quiet, {"path": "/servers", "code": "bad_gateway", "count": 3})
    assert _statuses(raw, "/servers", 6) == [502, 502, 502, 200, 200, 200]
    assert control(quiet, "GET", "/faults").json()["faults"][0]["fired"] == 3


def test_after_lets_requests_pass_first(quiet: SimulatorServer, raw: RawApi) -> None:
    _add(quiet, {"path": "/servers", "code": "conflict", "after": 2, "count": 1})
    assert _statuses(raw, "/servers", 5) == [200, 200, 409, 200, 200]


def test_first_matching_rule_wins_and_rules_can_be_removed(
    quiet: SimulatorServer, raw: RawApi
) -> None:
    first = _add(quiet, {"path": "/servers", "code": "unavailable"})
    _add(quiet, {"path": "/servers*", "code": "server_error"})
    assert raw.get("/servers").status_code == 503
    assert raw.get(f"/servers/{APP_1}").status_code == 500

    remaining = control(quiet, "DELETE", f"/faults/{first['id']}")
    assert remaining.status_code == 200
    assert [f["code"] for f in remaining.json()["faults"]] == ["server_error"]
    assert raw.get("/servers").status_code == 500
    assert error_of(control(quiet, "DELETE", f"/faults/{first['id']}"))[:2] == (404, "not_found")

    cleared = control(quiet, "DELETE", "/faults")
    assert cleared.json() == {"faults": []}
    assert raw.get("/servers").status_code == 200


# -- latency -------------------------------------------------------------------------------------


def test_latency_is_simulated_seconds(make_sim: SimFactory, make_client: ClientFactory) -> None:
    sim = make_sim(_world({"method": "POST", "path": CREATE_IMAGE, "latency": 120}), time_scale=600)
    client = make_client(sim)
    server = client.servers.get_by_id(APP_1)
    sim_before, real_before = sim.state.clock.now(), time.monotonic()
    made = client.servers.create_image(server, description="slow")
    sim_taken, real_taken = sim.state.clock.now() - sim_before, time.monotonic() - real_before
    assert sim_taken >= 120
    assert real_taken < 2  # 120 simulated seconds at 600x are 0.2 real ones
    assert made.action.started is not None
    assert made.action.started.timestamp() >= int(sim_before) + 120  # carried out after the wait


def test_latency_then_error(make_sim: SimFactory, schema_check: ExchangeValidator) -> None:
    rule = {"path": "/servers", "latency": 30, "code": "timeout"}
    sim = make_sim(_world(rule), time_scale=300)
    before = sim.state.clock.now()
    assert error_of(RawApi(sim, schema_check).get("/servers"))[:2] == (504, "timeout")
    assert sim.state.clock.now() - before >= 30


# -- drops and answers after the fact ------------------------------------------------------------


def test_drop_before_carries_nothing_out(
    quiet: SimulatorServer, make_client: ClientFactory
) -> None:
    _add(quiet, {"method": "POST", "path": CREATE_IMAGE, "drop": True, "count": 1})
    client = make_client(quiet)
    server = client.servers.get_by_id(APP_1)
    with pytest.raises(requests.exceptions.ConnectionError):
        client.servers.create_image(server, description="lost")
    truth = quiet.state.ground_truth()
    assert truth["created_images"] == []
    assert truth["actions"] == []
    assert truth["servers"][0]["lock_holders"] == []
    dropped = {"method": "POST", "endpoint": "/servers/{id}/actions/create_image", "status": 0}
    assert {**dropped, "count": 1} in quiet.state.request_counts()  # status 0: no answer

    made = client.servers.create_image(server, description="second try")  # count: 1 -- passes
    assert quiet.state.ground_truth()["created_images"] == [made.image.id]


def test_drop_after_the_image_was_created(quiet: SimulatorServer, raw: RawApi) -> None:
    _add(quiet, {"method": "POST", "path": CREATE_IMAGE, "drop": True, "when": "after"})
    with pytest.raises(requests.exceptions.ConnectionError):
        raw.post(f"/servers/{APP_1}/actions/create_image", {"description": "ghost"})
    truth = quiet.state.ground_truth()
    assert len(truth["created_images"]) == 1
    ghost = next(i for i in truth["images"] if i["id"] == truth["created_images"][0])
    assert (ghost["description"], ghost["status"]) == ("ghost", "creating")
    assert truth["servers"][0]["lock_holders"] == [truth["actions"][0]["id"]]
    # what a client sees when it reconciles before re-sending
    listed = raw.get("/images", {"type": "snapshot"}).json()["images"]
    assert [i["description"] for i in listed] == ["ghost"]


def test_504_after_create_image_that_did_happen(quiet: SimulatorServer, raw: RawApi) -> None:
    _add(quiet, {"method": "POST", "path": CREATE_IMAGE, "code": "timeout", "when": "after"})
    response = raw.post(f"/servers/{APP_1}/actions/create_image", {"description": "done anyway"})
    assert error_of(response)[:2] == (504, "timeout")
    truth = quiet.state.ground_truth()
    assert len(truth["created_images"]) == 1
    assert truth["images"][-1]["description"] == "done anyway"


def test_sdk_retry_of_a_504_create_runs_into_its_own_lock(
    quiet: SimulatorServer, make_client: ClientFactory
) -> None:
    """hcloud-python re-sends a POST after a 504; the first attempt already locked the server."""
    rule = {"method": "POST", "path": CREATE_IMAGE, "code": "timeout", "when": "after", "count": 1}
    _add(quiet, rule)
    client = make_client(quiet)
    client._client._retry_interval_func = lambda _retries: 0.0  # retry at once, no real sleep
    with pytest.raises(APIException) as err:
        client.servers.create_image(client.servers.get_by_id(APP_1), description="once")
    assert err.value.code == "locked"
    assert len(quiet.state.ground_truth()["created_images"]) == 1
    counts = {
        c["status"]: c["count"]
        for c in quiet.state.request_counts()
        if c["endpoint"] == "/servers/{id}/actions/create_image"
    }
    assert counts == {504: 1, 423: 1}
