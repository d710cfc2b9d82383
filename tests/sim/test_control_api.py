"""The ``/_sim`` control plane: health, ground truth, reset, clock, stats, interventions, limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import hcloud
import pytest
import requests
from hcloud import APIException

from hcloud_sim import SimulatorServer
from tests.conftest import ClientFactory, SimFactory
from tests.openapi_check import ExchangeValidator
from tests.sim._api import RawApi, control, error_of

# demo ids: servers in the scenario's order, images after the four system images
WEB_1, WEB_2, DB_1, CACHE_1, BATCH_1 = 100001, 100002, 100004, 100006, 100009
LOCKED = {"web-2", "db-1", "cache-1"}


@pytest.fixture
def demo(make_sim: SimFactory) -> SimulatorServer:
    """The demo fleet in real time: its locks (45 s and more) hold while a test runs."""
    return make_sim("demo", time_scale=1)


@pytest.fixture
def raw(demo: SimulatorServer, schema_check: ExchangeValidator) -> RawApi:
    return RawApi(demo, schema_check)


@pytest.fixture
def sdk(demo: SimulatorServer, make_client: ClientFactory) -> hcloud.Client:
    return make_client(demo)


def _state(sim: SimulatorServer, query: str = "") -> dict[str, Any]:
    response = control(sim, "GET", "/state" + query)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _server(state: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in state["servers"] if s["name"] == name)


def test_health(demo: SimulatorServer) -> None:
    response = control(demo, "GET", "/health")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok", "scenario": "demo"}


def test_state_is_the_ground_truth(demo: SimulatorServer) -> None:
    state = _state(demo)
    assert state["project"] == "demo"
    assert state["time_scale"] == 1
    assert len(state["servers"]) == 12
    locked = {s["name"] for s in state["servers"] if s["lock_holders"]}
    assert locked == LOCKED
    running = {a["id"]: a for a in state["actions"] if a["status"] == "running"}
    for name in LOCKED:
        server = _server(state, name)
        (holder,) = server["lock_holders"]
        assert {"id": server["id"], "type": "server"} in running[holder]["resources"]
        assert server["locked"] is False  # the API's flag is not "an action runs"
    assert _server(state, "batch-1")["status"] == "off"
    assert [i["type"] for i in state["images"]].count("snapshot") == 3
    assert state["created_images"] == []
    assert state["deleted_servers"] == []
    assert state["rate_limit"]["capacity"] == 3600
    assert state["rate_limit"]["refill_per_second"] == 1.0
    assert state["faults"] == []

    assert _state(demo, "?project=demo")["project"] == "demo"
    assert error_of(control(demo, "GET", "/state?project=nope"))[:2] == (404, "not_found")


def test_reset_returns_to_the_initial_state(demo: SimulatorServer, raw: RawApi) -> None:
    initial = _state(demo)
    first = raw.post(f"/servers/{WEB_1}/actions/create_image", {"description": "x"})
    first_image = first.json()["image"]["id"]
    control(demo, "POST", f"/servers/{BATCH_1}/delete")
    control(demo, "POST", "/faults", {"path": "/images", "code": "unavailable"})
    control(demo, "POST", "/rate_limit", {"remaining": 7})
    assert control(demo, "GET", "/stats").json()["requests"]

    response = control(demo, "POST", "/reset")
    assert response.json() == {"status": "reset", "scenario": "demo"}
    after = _state(demo)
    for key in ("servers", "images", "created_images", "deleted_servers", "faults"):
        assert len(after[key]) == len(initial[key]), key
    assert [s["id"] for s in after["servers"]] == [s["id"] for s in initial["servers"]]
    assert {s["name"] for s in after["servers"] if s["lock_holders"]} == LOCKED
    assert after["rate_limit"]["remaining"] == 3600
    assert after["time_scale"] == 1  # the server's override survives a reset
    assert control(demo, "GET", "/stats").json() == {"requests": []}
    again = raw.post(f"/servers/{WEB_1}/actions/create_image", {"description": "x"})
    assert again.json()["image"]["id"] == first_image  # ids start over


def test_reset_to_another_scenario(demo: SimulatorServer, raw: RawApi) -> None:
    assert control(demo, "POST", "/reset", {"scenario": "empty"}).json()["scenario"] == "empty"
    assert raw.get("/servers").json()["servers"] == []
    assert control(demo, "GET", "/health").json()["scenario"] == "empty"

    control(demo, "POST", "/reset", {"scenario": "faults", "time_scale": 5})
    state = _state(demo)
    assert (state["project"], len(state["servers"]), state["time_scale"]) == ("faults", 6, 5)
    assert len(state["faults"]) == 3

    inline = {"name": "tiny", "projects": [{"servers": [{"name": "solo"}]}]}
    control(demo, "POST", "/reset", {"scenario": inline})
    assert [s["name"] for s in _state(demo)["servers"]] == ["solo"]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"scenario": "nope"}, "scenario 'nope' is not a built-in"),
        ({"scenario": {"projects": [{"servers": [{"name": "a", "server_type": "cx99"}]}]}}, "cx99"),
        ({"scenario": {"projectz": []}}, "projectz"),
        ({"time_scale": -1}, "'time_scale': Input should be greater than 0"),
        ({"time_scale": "fast"}, "'time_scale'"),
    ],
)
def test_a_bad_reset_changes_nothing(
    demo: SimulatorServer, body: dict[str, Any], problem: str
) -> None:
    status, code, message = error_of(control(demo, "POST", "/reset", body))
    assert (status, code) == (422, "invalid_input")
    assert problem in message
    assert control(demo, "GET", "/health").json()["scenario"] == "demo"
    assert len(_state(demo)["servers"]) == 12
    assert control(demo, "POST", "/reset").status_code == 200  # and it can still be reset


def test_a_reset_whose_seed_fails_keeps_the_previous_world(
    demo: SimulatorServer, raw: RawApi
) -> None:
    # valid as a document, refused while building: the volume's server is in another location
    inline = {
        "name": "split",
        "time_scale": 3,
        "projects": [
            {
                "servers": [{"name": "a", "location": "fsn1"}],
                "volumes": [{"name": "v", "size": 10, "server": "a", "location": "nbg1"}],
            }
        ],
    }
    demo.state.clock.advance(3600)
    made = raw.post(f"/servers/{WEB_1}/actions/create_image", {"description": "kept"})
    before, now = _state(demo), demo.state.clock.now()
    answer = control(demo, "POST", "/reset", {"scenario": inline})
    status, code, message = error_of(answer)
    assert (status, code) == (422, "invalid_input")
    assert "scenario 'split' cannot be built: volume 'v' is in nbg1" in message
    assert answer.json()["error"]["details"]["fields"][0]["name"] == "scenario"
    # the world is the one before: scenario, servers, images, clock and its speed
    assert control(demo, "GET", "/health").json()["scenario"] == "demo"
    after = _state(demo)
    assert [s["id"] for s in after["servers"]] == [s["id"] for s in before["servers"]]
    assert [i["id"] for i in after["images"]] == [i["id"] for i in before["images"]]
    assert after["time_scale"] == before["time_scale"] != 3
    assert now <= demo.state.clock.now() < now + 60  # not set back to the start
    assert raw.get(f"/images/{made.json()['image']['id']}").json()["image"]["description"] == "kept"
    assert raw.post(f"/servers/{WEB_1}/actions/create_image", {}).status_code == 423  # locked
    assert control(demo, "POST", "/reset").status_code == 200  # and it can still be reset
    assert len(_state(demo)["servers"]) == 12


def test_clock_reads_advances_and_rescales(demo: SimulatorServer) -> None:
    clock = control(demo, "GET", "/clock").json()
    assert set(clock) == {"now", "iso", "time_scale"}
    assert clock["time_scale"] == 1
    shown = datetime.strptime(clock["iso"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(shown.timestamp() - clock["now"]) < 1

    moved = control(demo, "POST", "/clock", {"advance": 3600}).json()
    assert 3600 <= moved["now"] - clock["now"] < 3700
    state = _state(demo)
    assert {s["name"] for s in state["servers"] if s["lock_holders"]} == set()  # locks ran out
    assert {a["status"] for a in state["actions"]} == {"success"}

    assert control(demo, "POST", "/clock", {"time_scale": 1000}).json()["time_scale"] == 1000
    assert control(demo, "GET", "/clock").json()["time_scale"] == 1000
    assert _state(demo)["time_scale"] == 1000


def test_api_timestamps_follow_the_simulated_clock(demo: SimulatorServer, raw: RawApi) -> None:
    control(demo, "POST", "/clock", {"advance": 30 * 86400})
    made = raw.post(f"/servers/{WEB_1}/actions/create_image", {"description": "future"}).json()
    clock = control(demo, "GET", "/clock").json()
    created = datetime.strptime(made["image"]["created"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(created.timestamp() - clock["now"]) < 60
    assert created - datetime.now(tz=UTC) > timedelta(days=29)
    assert made["action"]["started"] == made["image"]["created"]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"advance": -1}, "'advance': Input should be greater than or equal to 0"),
        ({"time_scale": 0}, "'time_scale': Input should be greater than 0"),
        ({"advance": "soon"}, "'advance'"),
        ({"advance": [60]}, "'advance'"),
        ({"advance": 60, "time_scal": 2}, "'time_scal': Extra inputs are not permitted"),
    ],
)
def test_bad_clock_input(demo: SimulatorServer, body: dict[str, Any], problem: str) -> None:
    status, code, message = error_of(control(demo, "POST", "/clock", body))
    assert (status, code) == (422, "invalid_input")
    assert problem in message
    assert control(demo, "GET", "/clock").json()["time_scale"] == 1


def test_stats_count_by_method_endpoint_and_status(demo: SimulatorServer, raw: RawApi) -> None:
    raw.get("/servers")
    raw.get("/servers")
    raw.get("/servers/999")
    raw.post(f"/servers/{WEB_1}/actions/poweroff")
    requests.get(f"{demo.url}/nope", headers={"Authorization": "Bearer sim-token"}, timeout=10)
    control(demo, "GET", "/health")  # the control plane is not counted
    assert control(demo, "GET", "/stats").json() == {
        "requests": [
            {"method": "GET", "endpoint": "/servers", "status": 200, "count": 2},
            {"method": "GET", "endpoint": "/servers/{id}", "status": 404, "count": 1},
            {"method": "GET", "endpoint": "unknown", "status": 404, "count": 1},
            {
                "method": "POST",
                "endpoint": "/servers/{id}/actions/poweroff",
                "status": 201,
                "count": 1,
            },
        ]
    }
    assert control(demo, "DELETE", "/stats").json() == {"requests": []}
    assert control(demo, "GET", "/stats").json() == {"requests": []}
    assert demo.state.request_counts() == []


def test_lock_a_server_from_outside(demo: SimulatorServer, sdk: hcloud.Client) -> None:
    response = control(
        demo, "POST", f"/servers/{WEB_1}/lock", {"command": "rebuild_server", "duration": 100}
    )
    assert response.status_code == 201
    action_id = response.json()["action_id"]
    web_1 = sdk.servers.get_by_id(WEB_1)
    running = sdk.servers.get_actions(web_1, status=["running"])
    assert [(a.id, a.command) for a in running] == [(action_id, "rebuild_server")]
    with pytest.raises(APIException) as err:
        sdk.servers.create_image(web_1, description="blocked")
    assert err.value.code == "locked"
    assert err.value.message == "cannot perform operation because server is locked"
    assert error_of(control(demo, "POST", f"/servers/{WEB_1}/lock"))[:2] == (423, "locked")

    demo.state.clock.advance(100)
    assert sdk.actions.get_by_id(action_id).status == "success"
    assert sdk.servers.create_image(web_1, description="now").image.status == "creating"


def test_lock_that_fails_or_never_ends(demo: SimulatorServer, sdk: hcloud.Client) -> None:
    error = {"code": "action_failed", "message": "disk on fire"}
    failing = control(demo, "POST", f"/servers/{WEB_1}/lock", {"duration": 10, "error": error})
    endless = control(demo, "POST", f"/servers/{BATCH_1}/lock", {"duration": None})
    demo.state.clock.advance(365 * 86400)
    failed = sdk.actions.get_by_id(failing.json()["action_id"])
    assert (failed.status, failed.error) == ("error", error)
    assert sdk.actions.get_by_id(endless.json()["action_id"]).status == "running"
    assert _server(_state(demo), "batch-1")["lock_holders"] == [endless.json()["action_id"]]


@pytest.mark.parametrize(
    "body", [{"duration": "long"}, {"duration": -5}, {"error": "boom"}, {"comand": "x"}]
)
def test_bad_lock_input_locks_nothing(demo: SimulatorServer, body: dict[str, Any]) -> None:
    status, code, _ = error_of(control(demo, "POST", f"/servers/{WEB_1}/lock", body))
    assert (status, code) == (422, "invalid_input")
    assert _server(_state(demo), "web-1")["lock_holders"] == []


def test_lock_or_delete_an_unknown_server(demo: SimulatorServer) -> None:
    for verb in ("lock", "delete"):
        assert error_of(control(demo, "POST", f"/servers/999/{verb}")) == (
            404,
            "not_found",
            "server with ID '999' not found",
        )


def test_delete_a_server_from_outside(demo: SimulatorServer, sdk: hcloud.Client) -> None:
    holder = _server(_state(demo), "db-1")["lock_holders"][0]
    assert control(demo, "POST", f"/servers/{DB_1}/delete").json() == {"deleted": DB_1}
    with pytest.raises(APIException) as err:
        sdk.servers.get_by_id(DB_1)
    assert (err.value.code, err.value.message) == (
        "not_found",
        f"server with ID '{DB_1}' not found",
    )
    state = _state(demo)
    assert state["deleted_servers"] == [DB_1]
    assert "db-1" not in {s["name"] for s in state["servers"]}
    interrupted = sdk.actions.get_by_id(holder)
    assert interrupted.status == "error"
    assert interrupted.error is not None
    assert error_of(control(demo, "POST", f"/servers/{DB_1}/delete"))[:2] == (404, "not_found")


def test_rate_limit_can_be_reshaped(demo: SimulatorServer, raw: RawApi) -> None:
    shaped = control(
        demo, "POST", "/rate_limit", {"capacity": 10, "refill_per_second": 0, "remaining": 2}
    )
    assert shaped.json() == {"capacity": 10, "refill_per_second": 0.0, "remaining": 2}
    first = raw.get("/servers")
    assert (first.headers["RateLimit-Limit"], first.headers["RateLimit-Remaining"]) == ("10", "1")
    assert raw.get("/servers").status_code == 200
    assert error_of(raw.get("/servers")) == (
        429,
        "rate_limit_exceeded",
        "limit of 10 requests per hour reached",
    )
    assert _state(demo)["rate_limit"] == {"capacity": 10, "remaining": 0, "refill_per_second": 0.0}
    assert error_of(control(demo, "POST", "/rate_limit", {"capacity": "many"}))[:2] == (
        422,
        "invalid_input",
    )


@pytest.mark.parametrize(
    ("method", "path", "data", "expected"),
    [
        ("POST", "/clock", b"{advance", (400, "json_error")),
        ("POST", "/clock", b"[1]", (400, "json_error")),
        ("GET", "/nope", None, (404, "not_found")),
        ("GET", "/reset", None, (405, "method_not_allowed")),
        ("PUT", "/faults", None, (405, "method_not_allowed")),
        ("PUT", "/clock", None, (405, "method_not_allowed")),
        ("POST", "/stats", None, (405, "method_not_allowed")),
    ],
)
def test_control_errors_use_the_api_envelope(
    demo: SimulatorServer, method: str, path: str, data: bytes | None, expected: tuple[int, str]
) -> None:
    response = requests.request(method, f"{demo.base_url}/_sim{path}", data=data, timeout=10)
    assert response.headers["Content-Type"] == "application/json"
    status, code, message = error_of(response)
    assert (status, code) == expected
    if status == 404:
        assert message == f"no such control endpoint: {method} /_sim{path}"


def test_finish_ends_a_lock_now_and_the_server_takes_actions_again(
    make_sim: SimFactory, make_client: ClientFactory
) -> None:
    sim = make_sim("demo", time_scale=1)
    client = make_client(sim)
    server = client.servers.get_by_name("web-1")
    holder = sim.state.lock_server(server.id, duration=None)
    with pytest.raises(hcloud.APIException) as locked:
        client.servers.power_off(server)
    assert locked.value.code == "locked"

    answer = requests.post(f"{sim.base_url}/_sim/actions/{holder}/finish", timeout=5)

    assert answer.status_code == 200
    assert client.actions.get_by_id(holder).status == "success"
    assert client.servers.power_off(server).status == "running"
