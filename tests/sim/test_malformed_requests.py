"""Whatever a client sends, it gets an answer in the API's envelope, and the simulator serves on.

Every method on every path, malformed request lines and headers, unusable lengths, JSON nested too
deep, ids past int64, oversized bodies and over-long descriptions and label values.
"""

from __future__ import annotations

import http.client
import socket
from typing import Any

import hcloud
import pytest
import requests

from hcloud_sim import SimulatorServer
from tests.conftest import ClientFactory, SimFactory
from tests.openapi_check import ExchangeValidator
from tests.sim._api import RawApi, error_of

AUTH = {"Authorization": "Bearer sim-token"}
WEB_1, IMAGE = 100001, 300005  # demo: web-1 and its manual snapshot


@pytest.fixture
def sim(make_sim: SimFactory) -> SimulatorServer:
    return make_sim("demo", time_scale=1)


def _assert_still_serving(sim: SimulatorServer) -> None:
    response = requests.get(f"{sim.url}/servers/{WEB_1}", headers=AUTH, timeout=10)
    assert response.json()["server"]["name"] == "web-1"


def _exchange(sim: SimulatorServer, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as written; (status, headers, body) of the answer, which must come."""
    with socket.create_connection((sim.host, sim.port), timeout=10) as sock:
        sock.sendall(request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, dict(response.getheaders()), response.read()


def _assert_envelope(headers: dict[str, str], body: bytes, code: str) -> None:
    import json  # noqa: PLC0415 -- only the envelope checks parse bodies by hand

    assert headers["Content-Type"] == "application/json"
    assert len(headers["X-Correlation-Id"]) == 16
    assert json.loads(body)["error"]["code"] == code


# -- every method --------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["TRACE", "OPTIONS", "PROPFIND", "FOO", "PATCH"])
def test_any_method_on_a_known_path_is_405_with_allow(sim: SimulatorServer, method: str) -> None:
    for url, allow in [
        (f"{sim.url}/images/{IMAGE}", "DELETE, GET, PUT"),
        (f"{sim.url}/actions/500001", "GET"),
        (f"{sim.base_url}/_sim/clock", "GET, POST"),
    ]:
        response = requests.request(method, url, headers=AUTH, timeout=10)
        assert error_of(response)[:2] == (405, "method_not_allowed")
        assert response.headers["Allow"] == allow
        assert response.headers["Content-Type"] == "application/json"
    unknown = requests.request(method, f"{sim.url}/volumez", headers=AUTH, timeout=10)
    assert error_of(unknown)[:2] == (404, "not_found")


def test_head_answers_headers_only_and_the_connection_stays_usable(sim: SimulatorServer) -> None:
    with requests.Session() as session:
        session.headers.update(AUTH)
        head = session.head(f"{sim.url}/servers", timeout=10)
        assert (head.status_code, head.headers["Allow"]) == (405, "GET, POST")
        assert head.headers["Content-Type"] == "application/json"
        assert head.content == b""
        assert session.get(f"{sim.url}/servers", timeout=10).status_code == 200


def test_connect_gets_an_envelope(sim: SimulatorServer) -> None:
    status, headers, body = _exchange(
        sim,
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n"
        b"Authorization: Bearer sim-token\r\n\r\n",
    )
    assert status == 404
    _assert_envelope(headers, body, "not_found")
    _assert_still_serving(sim)


# -- malformed requests --------------------------------------------------------------------------

_POST = f"POST /v1/servers/{WEB_1}/actions/create_image HTTP/1.1\r\nHost: localhost\r\n"
_AUTH = "Authorization: Bearer sim-token\r\n"


def _post(extra_headers: str, body: bytes = b"") -> bytes:
    return f"{_POST}{_AUTH}{extra_headers}\r\n".encode() + body


def _post_json(body: bytes) -> bytes:
    return _post(f"Content-Length: {len(body)}\r\n", body)


MALFORMED: list[tuple[str, bytes, int, str]] = [
    ("content-length abc", _post("Content-Length: abc\r\n", b"{}"), 400, "json_error"),
    ("content-length -1", _post("Content-Length: -1\r\n"), 400, "json_error"),
    ("content-length huge", _post("Content-Length: 99999999999999999999\r\n"), 413,
     "invalid_input"),
    ("chunked", _post("Transfer-Encoding: chunked\r\n", b"2\r\n{}\r\n0\r\n\r\n"), 411,
     "invalid_input"),
    ("nested arrays", _post_json(b"[" * 200_000), 400, "json_error"),
    ("nested objects", _post_json(b'{"a":' * 60_000), 400, "json_error"),
    ("NaN", _post_json(b'{"description": NaN}'), 400, "json_error"),
    ("bad request line", b"GARBAGE\r\n\r\n", 400, "invalid_input"),
    ("bad version", b"GET /v1/servers HTTP/9.9\r\nHost: localhost\r\n\r\n", 505, "server_error"),
    ("uri too long", b"GET /v1/servers?" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414,
     "invalid_input"),
    ("too many headers", b"GET /v1/servers HTTP/1.1\r\n" + b"X-A: b\r\n" * 120 + b"\r\n", 431,
     "invalid_input"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [m[1:] for m in MALFORMED],
    ids=[m[0] for m in MALFORMED],
)
def test_a_malformed_request_gets_an_envelope_and_nothing_changes(
    sim: SimulatorServer, request_bytes: bytes, status: int, code: str
) -> None:
    answer = _exchange(sim, request_bytes)

    assert answer[0] == status
    _assert_envelope(answer[1], answer[2], code)
    assert sim.state.ground_truth()["created_images"] == []
    _assert_still_serving(sim)


@pytest.mark.parametrize(
    "path",
    [
        "/servers/99999999999999999999999",
        "/servers/9223372036854775808",
        f"/servers/{'9' * 5000}",
        f"/servers/{'9' * 5000}/actions",
        f"/images/{'9' * 30}",
        f"/actions?id={'9' * 5000}",
    ],
)
def test_an_id_past_int64_is_422_naming_it(
    sim: SimulatorServer, schema_check: ExchangeValidator, path: str
) -> None:
    response = RawApi(sim, schema_check).get(path)
    status, code, message = error_of(response)
    assert (status, code) == (422, "invalid_input")
    assert "'id'" in message
    _assert_still_serving(sim)


def test_the_largest_int64_id_is_just_not_found(sim: SimulatorServer) -> None:
    response = requests.get(f"{sim.url}/servers/9223372036854775807", headers=AUTH, timeout=10)
    assert error_of(response)[:2] == (404, "not_found")


# -- limits the real API has ---------------------------------------------------------------------


def test_an_oversized_body_is_413(sim: SimulatorServer) -> None:
    body = b'{"description": "' + b"x" * (1024 * 1024) + b'"}'
    response = requests.post(
        f"{sim.url}/servers/{WEB_1}/actions/create_image",
        data=body,
        headers={**AUTH, "Content-Type": "application/json"},
        timeout=10,
    )
    status, code, message = error_of(response)
    assert (status, code) == (413, "invalid_input")
    assert "1048576 bytes" in message
    assert sim.state.ground_truth()["created_images"] == []
    _assert_still_serving(sim)


def test_a_description_past_255_characters_is_refused(
    sim: SimulatorServer, make_client: ClientFactory
) -> None:
    client = make_client(sim)
    web_1 = client.servers.get_by_id(WEB_1)
    with pytest.raises(hcloud.APIException) as err:
        client.servers.create_image(web_1, description="d" * 256)
    assert (err.value.code, err.value.message) == (
        "invalid_input",
        "invalid input in field 'description': is too long (at most 255 characters)",
    )
    assert err.value.details == {
        "fields": [{"name": "description", "messages": ["is too long (at most 255 characters)"]}]
    }
    image = client.images.get_by_id(IMAGE)
    with pytest.raises(hcloud.APIException) as update:
        client.images.update(image, description="d" * 256)
    assert update.value.code == "invalid_input"
    assert sim.state.ground_truth()["created_images"] == []

    made = client.servers.create_image(web_1, description="d" * 255)
    assert made.image.description == "d" * 255


def test_a_label_value_past_63_characters_is_refused(
    sim: SimulatorServer, make_client: ClientFactory
) -> None:
    client = make_client(sim)
    web_1 = client.servers.get_by_id(WEB_1)
    labels: dict[str, Any] = {"note": "v" * 64}
    with pytest.raises(hcloud.APIException) as err:
        client.servers.create_image(web_1, description="x", labels=labels)
    assert err.value.code == "invalid_input"
    assert "labels" in err.value.message
    assert sim.state.ground_truth()["created_images"] == []
