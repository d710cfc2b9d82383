"""What every answer looks like on the wire: headers, the error envelope, body and route errors."""

from __future__ import annotations

import http.client
import json
import re
from typing import Any

import hcloud
import pytest
import requests

from hcloud_sim import SimulatorServer
from tests.conftest import SimFactory
from tests.openapi_check import ExchangeValidator
from tests.sim._api import CORRELATION_ID, error_of

AUTH = {"Authorization": "Bearer sim-token"}
WEB_1, WEB_2, BATCH_1 = 100001, 100002, 100009  # demo: web-2 is locked, batch-1 is off

#: (method, path under the host, JSON body or raw bytes, headers, status, error code or None)
EXCHANGES: list[tuple[str, str, Any, dict[str, str], int, str | None]] = [
    ("GET", "/v1/servers", None, AUTH, 200, None),
    ("POST", f"/v1/servers/{WEB_1}/actions/poweroff", None, AUTH, 201, None),
    ("GET", "/v1/servers/999", None, AUTH, 404, "not_found"),
    ("GET", "/v1/servers", None, {}, 401, "unauthorized"),
    ("PUT", "/v1/images/300005", {"x": 1}, AUTH, 422, "invalid_input"),
    ("PUT", "/v1/images/300005", b"{oops", AUTH, 400, "json_error"),
    ("GET", "/v1/actions", None, AUTH, 410, "deprecated_api_endpoint"),
    ("POST", f"/v1/servers/{WEB_2}/actions/create_image", {}, AUTH, 423, "locked"),
    ("GET", "/v1/no/such/route", None, AUTH, 404, "not_found"),
    ("GET", "/nope", None, AUTH, 404, "not_found"),
    ("DELETE", "/v1/servers", None, AUTH, 405, "method_not_allowed"),
]


@pytest.fixture
def sim(make_sim: SimFactory) -> SimulatorServer:
    """The demo fleet in real time, so that web-2's lock outlasts any test here."""
    return make_sim("demo", time_scale=1)


def _send(
    sim: SimulatorServer, method: str, path: str, body: Any, headers: dict[str, str]
) -> requests.Response:
    if isinstance(body, bytes):
        headers = {**headers, "Content-Type": "application/json"}
        return requests.request(method, sim.base_url + path, data=body, headers=headers, timeout=10)
    return requests.request(method, sim.base_url + path, json=body, headers=headers, timeout=10)


def _assert_api_headers(response: requests.Response) -> None:
    assert re.fullmatch(CORRELATION_ID, response.headers["X-Correlation-Id"])
    limit = int(response.headers["RateLimit-Limit"])
    remaining = int(response.headers["RateLimit-Remaining"])
    assert 0 <= remaining <= limit == 3600
    assert int(response.headers["RateLimit-Reset"]) > 1_700_000_000  # a UNIX time, not a delta


@pytest.mark.parametrize("exchange", EXCHANGES, ids=[f"{e[0]} {e[1]} {e[4]}" for e in EXCHANGES])
def test_every_answer_carries_the_api_headers(
    sim: SimulatorServer,
    schema_check: ExchangeValidator,
    exchange: tuple[str, str, Any, dict[str, str], int, str | None],
) -> None:
    method, path, body, headers, status, code = exchange
    response = _send(sim, method, path, body, headers)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    _assert_api_headers(response)
    payload = response.json()
    if code is not None:
        assert list(payload) == ["error"]
        assert set(payload["error"]) == {"code", "message", "details"}
        assert payload["error"]["code"] == code
        assert isinstance(payload["error"]["message"], str)
        assert payload["error"]["message"]
    if status not in (404, 405, 410) or "/servers/" in path:  # operations the document knows
        schema_check.validate(response)


def test_204_has_no_body_and_no_content_type(
    sim: SimulatorServer, schema_check: ExchangeValidator
) -> None:
    # hcloud-go 1.x (the Debian hcloud CLI) fails on an empty body labelled application/json
    response = requests.delete(f"{sim.url}/images/300005", headers=AUTH, timeout=10)
    schema_check.validate(response)
    assert response.status_code == 204
    assert response.content == b""
    assert "Content-Type" not in response.headers
    _assert_api_headers(response)


def test_correlation_ids_differ_per_request(sim: SimulatorServer) -> None:
    ids = {
        requests.get(f"{sim.url}/servers/{WEB_1}", headers=AUTH, timeout=10).headers[
            "X-Correlation-Id"
        ]
        for _ in range(5)
    }
    assert len(ids) == 5


def test_unknown_body_field_is_422_naming_it(
    sim: SimulatorServer, schema_check: ExchangeValidator
) -> None:
    for path, body in [
        (f"/servers/{WEB_1}/actions/create_image", {"description": "x", "labelz": {}}),
        (f"/servers/{WEB_1}", {"name": "web-1", "labelz": {}}),
        ("/images/300005", {"labelz": {}}),
    ]:
        method = "POST" if "actions" in path else "PUT"
        response = requests.request(method, sim.url + path, json=body, headers=AUTH, timeout=10)
        schema_check.validate(response)
        assert error_of(response) == (
            422,
            "invalid_input",
            "invalid input: unknown field name 'labelz'",
        )
        assert response.json()["error"]["details"] == {
            "fields": [{"name": "labelz", "messages": ["unknown field"]}]
        }
    assert sim.state.ground_truth()["created_images"] == []


@pytest.mark.parametrize("raw", [b"{oops", b"[1, 2]", b'"text"', b"\xff\xfe"])
def test_a_body_that_is_no_json_object_is_400_json_error(
    sim: SimulatorServer, schema_check: ExchangeValidator, raw: bytes
) -> None:
    response = requests.post(
        f"{sim.url}/servers/{WEB_1}/actions/create_image",
        data=raw,
        headers={**AUTH, "Content-Type": "application/json"},
        timeout=10,
    )
    schema_check.validate(response)
    assert error_of(response)[:2] == (400, "json_error")
    assert sim.state.ground_truth()["created_images"] == []


def test_unknown_route_is_404_and_wrong_method_405(sim: SimulatorServer) -> None:
    response = requests.get(f"{sim.url}/volumez", headers=AUTH, timeout=10)
    assert error_of(response) == (404, "not_found", "no such endpoint: GET /v1/volumez")
    for method, path in [("DELETE", "/servers"), ("POST", "/images/300005"), ("PUT", "/actions")]:
        response = requests.request(method, sim.url + path, headers=AUTH, timeout=10)
        status, code, message = error_of(response)
        assert (status, code) == (405, "method_not_allowed")
        assert method in message


def test_bad_query_values_are_422(sim: SimulatorServer, schema_check: ExchangeValidator) -> None:
    for params in [{"page": "abc"}, {"per_page": "0"}, {"status": "sleeping"}]:
        response = requests.get(f"{sim.url}/servers", params=params, headers=AUTH, timeout=10)
        schema_check.validate(response)
        status, code, message = error_of(response)
        assert (status, code) == (422, "invalid_input")
        assert next(iter(params)) in message


def test_post_actions_without_body_or_content_type(sim: SimulatorServer) -> None:
    """As the Go CLI sends them: no body, no Content-Type, no Content-Length."""
    conn = http.client.HTTPConnection(sim.host, sim.port, timeout=10)
    try:
        answers = []
        for server, verb in [(WEB_1, "shutdown"), (BATCH_1, "poweron")]:
            conn.putrequest("POST", f"/v1/servers/{server}/actions/{verb}")
            conn.putheader("Authorization", "Bearer sim-token")
            conn.endheaders()
            response = conn.getresponse()
            answers.append((response.status, json.loads(response.read())["action"]["command"]))
    finally:
        conn.close()
    assert answers == [(201, "shutdown_server"), (201, "start_server")]


def test_sdk_power_verbs_send_no_body(client: hcloud.Client) -> None:
    web_3 = client.servers.get_by_name("web-3")
    assert web_3 is not None
    assert client.servers.shutdown(web_3).command == "shutdown_server"
    batch = client.servers.get_by_name("batch-1")
    assert batch is not None
    assert client.servers.power_on(batch).command == "start_server"
