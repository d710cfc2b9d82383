"""The control API cannot be turned against its host or its clients.

Bad values are refused with a 422 naming the field before anything changes, and the simulator
keeps serving; only a loopback ``Host`` is answered; a control token can be required; a scenario
is a built-in, a file the operator named or one below an allowed directory, and an error never
echoes a file's content; an API token can be revoked.
"""

from __future__ import annotations

import http.client
import math
from pathlib import Path
from typing import Any

import hcloud
import pytest
import requests

from hcloud_sim import SimulatorServer
from tests.conftest import ClientFactory, SimFactory
from tests.sim._api import control, error_of

AUTH = {"Authorization": "Bearer sim-token"}
WEB_1 = 100001
SECRET = "TOPSECRET-4f9a"


@pytest.fixture
def demo(make_sim: SimFactory) -> SimulatorServer:
    return make_sim("demo", time_scale=1)


def _post_raw(sim: SimulatorServer, path: str, raw: str, **headers: str) -> requests.Response:
    """A control POST with a body as written: JSON's NaN and Infinity literals included."""
    return requests.post(
        f"{sim.base_url}/_sim{path}",
        data=raw.encode(),
        headers={"Content-Type": "application/json", **headers},
        timeout=10,
    )


def _observable(sim: SimulatorServer) -> dict[str, Any]:
    """What a bad control call must leave alone."""
    state = control(sim, "GET", "/state").json()
    return {
        "scenario": control(sim, "GET", "/health").json()["scenario"],
        "time_scale": state["time_scale"],
        "rate_limit": {k: state["rate_limit"][k] for k in ("capacity", "refill_per_second")},
        "faults": state["faults"],
        "servers": [(s["id"], s["status"], s["lock_holders"]) for s in state["servers"]],
        "now": state["now"],
    }


def _assert_still_serving(sim: SimulatorServer) -> None:
    servers = requests.get(f"{sim.url}/servers", headers=AUTH, timeout=10)
    assert servers.status_code == 200
    assert servers.json()["meta"]["pagination"]["total_entries"] == 12
    clock = control(sim, "GET", "/clock").json()
    assert math.isfinite(clock["now"])
    assert clock["iso"].endswith("Z")


BAD_VALUES: list[tuple[str, str, str]] = [
    ("/clock", '{"time_scale": NaN}', "time_scale"),
    ("/clock", '{"time_scale": Infinity}', "time_scale"),
    ("/clock", '{"time_scale": "inf"}', "time_scale"),
    ("/clock", '{"time_scale": 1e999}', "time_scale"),
    ("/clock", '{"time_scale": 1e300}', "time_scale"),
    ("/clock", '{"advance": NaN}', "advance"),
    ("/clock", '{"advance": -Infinity}', "advance"),
    ("/clock", '{"advance": 1e308}', "advance"),
    ("/clock", '{"advance": 3600, "time_scale": NaN}', "time_scale"),
    ("/reset", '{"time_scale": NaN}', "time_scale"),
    ("/reset", '{"time_scale": Infinity}', "time_scale"),
    ("/reset", '{"scenario": "empty", "time_scale": "nan"}', "time_scale"),
    ("/reset", '{"scenario": {"seed": 1, "time_scale": Infinity}}', "scenario"),
    (
        "/reset",
        '{"scenario": {"projects": [{"servers": [{"name": "a", "shutdown_delay": NaN}]}]}}',
        "scenario",
    ),
    ("/faults", '{"code": "unavailable", "latency": 1e308}', "latency"),
    ("/faults", '{"code": "unavailable", "latency": Infinity}', "latency"),
    ("/faults", '{"latency": "inf"}', "latency"),
    ("/faults", '{"code": "unavailable", "status": 99}', "status"),
    ("/faults", '{"code": "unavailable", "status": 99999}', "status"),
    ("/faults", '{"code": "unavailable", "probability": NaN}', "probability"),
    ("/rate_limit", '{"capacity": 0}', "capacity"),
    ("/rate_limit", '{"capacity": -5}', "capacity"),
    ("/rate_limit", '{"capacity": 10, "refill_per_second": NaN}', "refill_per_second"),
    ("/rate_limit", '{"remaining": Infinity}', "remaining"),
    ("/rate_limit", '{"capacity": 10, "remaining": 11}', "remaining"),
    (f"/servers/{WEB_1}/lock", '{"duration": Infinity}', "duration"),
]


@pytest.mark.parametrize(("path", "raw", "field"), BAD_VALUES, ids=[b[1] for b in BAD_VALUES])
def test_a_bad_value_is_refused_naming_the_field_and_nothing_changes(
    demo: SimulatorServer, path: str, raw: str, field: str
) -> None:
    before = _observable(demo)

    status, code, message = error_of(_post_raw(demo, path, raw))

    assert (status, code) == (422, "invalid_input")
    assert f"'{field}'" in message
    after = _observable(demo)
    assert after["now"] - before["now"] < 60  # no jump of the clock
    assert {**after, "now": 0} == {**before, "now": 0}
    _assert_still_serving(demo)


def test_the_clock_cannot_be_pushed_past_what_the_api_can_write(demo: SimulatorServer) -> None:
    for _ in range(3):  # 300 years: allowed
        assert control(demo, "POST", "/clock", {"advance": 100 * 365 * 86400}).status_code == 200
    status, _, message = error_of(control(demo, "POST", "/clock", {"advance": 8000 * 365 * 86400}))
    assert status == 422
    assert "'advance'" in message
    _assert_still_serving(demo)


# -- who may use the control API -----------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:8780", "127.0.0.1.evil.example", "localhost.evil.example:1",
     "10.0.0.5", "[2001:db8::1]:8780", "[::1].evil.example", ""],
)  # fmt: skip
def test_a_foreign_host_is_refused(demo: SimulatorServer, host: str) -> None:
    for method, path in [("GET", "/state"), ("POST", "/reset"), ("POST", "/clock")]:
        response = requests.request(
            method, f"{demo.base_url}/_sim{path}", headers={"Host": host}, json={}, timeout=10
        )
        assert error_of(response)[:2] == (403, "forbidden")
        assert "servers" not in response.json()
    # the API itself is not the control plane: its token guards it, whatever the Host
    api = requests.get(f"{demo.url}/servers", headers={**AUTH, "Host": "evil.example"}, timeout=10)
    assert api.status_code == 200


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST:{port}", "127.0.0.1:{port}", "127.1.2.3", "[::1]:{port}"]
)
def test_loopback_hosts_are_answered(demo: SimulatorServer, host: str) -> None:
    headers = {"Host": host.format(port=demo.port)}
    response = requests.get(f"{demo.base_url}/_sim/health", headers=headers, timeout=10)
    assert response.status_code == 200


def test_a_request_without_host_is_refused(demo: SimulatorServer) -> None:
    conn = http.client.HTTPConnection(demo.host, demo.port, timeout=10)
    try:
        conn.putrequest("GET", "/_sim/state", skip_host=True)
        conn.endheaders()
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    assert response.status == 403
    assert b'"forbidden"' in body


def test_a_control_token_is_required_when_set(make_sim: SimFactory) -> None:
    sim = make_sim("demo", time_scale=1, control_token="ctl-" + SECRET)
    for headers in [{}, {"Authorization": "Bearer wrong"}, AUTH, {"Authorization": "ctl-x"}]:
        response = requests.post(f"{sim.base_url}/_sim/reset", headers=headers, timeout=10)
        assert error_of(response)[:2] == (401, "unauthorized")
        assert SECRET not in response.text
    good = {"Authorization": f"Bearer ctl-{SECRET}"}
    assert requests.get(f"{sim.base_url}/_sim/health", headers=good, timeout=10).status_code == 200
    # the control token is no API token
    api = requests.get(f"{sim.url}/servers", headers=good, timeout=10)
    assert error_of(api)[:2] == (401, "unauthorized")
    assert requests.get(f"{sim.url}/servers", headers=AUTH, timeout=10).status_code == 200


# -- which scenario files may be loaded ----------------------------------------------------------


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "secret.yaml"
    path.parent.mkdir()
    path.write_text(f"api_key: {SECRET}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "which", ["/etc/passwd", "/etc/shadow", "secret", "traversal", "link", "nul", "long"]
)
def test_reset_refuses_files_nobody_allowed(
    make_sim: SimFactory, tmp_path: Path, secret_file: Path, which: str
) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "link.yaml").symlink_to(secret_file)
    ref = {
        "secret": str(secret_file),
        "traversal": str(allowed / ".." / "outside" / "secret.yaml"),
        "link": str(allowed / "link.yaml"),
        "nul": "scenario\x00.yaml",
        "long": "x" * 5000,
    }.get(which, which)
    sim = make_sim("demo", time_scale=1, scenario_dirs=[allowed])

    response = control(sim, "POST", "/reset", {"scenario": ref})

    status, code, message = error_of(response)
    assert (status, code) == (422, "invalid_input")
    assert "not a built-in" in message
    assert "--scenario-dir" in message
    assert SECRET not in response.text
    assert "root:" not in response.text
    assert control(sim, "GET", "/health").json()["scenario"] == "demo"


BAD_ALLOWED: list[tuple[str, str, str]] = [
    ("env.yaml", f"HCLOUD_TOKEN: {SECRET}\n", "HCLOUD_TOKEN: Extra inputs are not permitted"),
    ("broken.yaml", f"password: {SECRET}: [\n", "not valid YAML/JSON at line 1"),
    ("list.json", f'["{SECRET}"]', "a scenario is a mapping"),
    ("binary.yaml", "", "not a text file"),
    (
        "status.yaml",
        f"projects: [{{servers: [{{name: a, status: {SECRET}}}]}}]",
        "projects.0.servers.0.status: Input should be",
    ),
]


@pytest.mark.parametrize(("name", "text", "problem"), BAD_ALLOWED, ids=[b[0] for b in BAD_ALLOWED])
def test_an_allowed_but_bad_file_is_named_and_never_echoed(
    make_sim: SimFactory, tmp_path: Path, name: str, text: str, problem: str
) -> None:
    path = tmp_path / name
    if text:
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(b"\xff\xfe" + SECRET.encode())
    sim = make_sim("demo", time_scale=1, scenario_dirs=[tmp_path])

    response = control(sim, "POST", "/reset", {"scenario": str(path)})

    status, _, message = error_of(response)
    assert status == 422
    assert str(path) in message
    assert problem in message
    assert SECRET not in response.text
    assert control(sim, "GET", "/health").json()["scenario"] == "demo"


def test_reset_loads_the_command_line_file_and_files_below_allowed_dirs(
    make_sim: SimFactory, tmp_path: Path
) -> None:
    given = tmp_path / "given.yaml"
    given.write_text("projects: [{servers: [{name: given-1}]}]", encoding="utf-8")
    sibling = tmp_path / "sibling.yaml"
    sibling.write_text("projects: [{servers: [{name: sibling-1}]}]", encoding="utf-8")
    nested = tmp_path / "dir" / "deeper" / "nested.yaml"
    nested.parent.mkdir(parents=True)
    nested.write_text("projects: [{servers: [{name: nested-1}]}]", encoding="utf-8")
    sim = make_sim(given, scenario_dirs=[tmp_path / "dir"])

    assert control(sim, "POST", "/reset", {"scenario": "empty"}).status_code == 200
    assert control(sim, "POST", "/reset", {"scenario": str(given)}).status_code == 200
    assert control(sim, "GET", "/health").json()["scenario"] == "given"
    assert control(sim, "POST", "/reset", {"scenario": str(nested)}).status_code == 200
    assert control(sim, "GET", "/health").json()["scenario"] == "nested"
    assert control(sim, "POST", "/reset", {"scenario": str(sibling)}).status_code == 422


# -- revoking an API token -----------------------------------------------------------------------


def test_a_revoked_token_gets_401_until_reset(
    demo: SimulatorServer, make_client: ClientFactory
) -> None:
    client = make_client(demo)
    assert len(client.servers.get_all()) == 12

    response = control(demo, "POST", "/tokens/revoke", {"token": "sim-token"})

    assert response.json() == {"revoked": True}
    with pytest.raises(hcloud.APIException) as err:
        client.servers.get_all()
    assert (err.value.code, err.value.message) == (
        "unauthorized",
        "the token you have provided is invalid",
    )
    assert len(make_client(demo, token="sim-readonly").servers.get_all()) == 12
    unknown = control(demo, "POST", "/tokens/revoke", {"token": SECRET})
    assert error_of(unknown)[:2] == (404, "not_found")
    assert SECRET not in unknown.text
    control(demo, "POST", "/reset")
    assert len(client.servers.get_all()) == 12
