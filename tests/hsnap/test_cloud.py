"""Settings and ``Cloud`` against the simulator: endpoints, retries, errors, rate limits.

Both sides run at the same time scale, so hsnap's backoffs and the rate bucket's refill pass in
milliseconds. What is asserted is what a user (or the simulator's ground truth) sees: errors with
stable codes and messages a person can act on, and how many requests reached the API.
"""

from __future__ import annotations

import re
import socket

import pytest
from pydantic import SecretStr

from hcloud_sim import SimulatorServer
from hsnap.cloud.client import MAX_429, READ_ATTEMPTS
from hsnap.errors import ConfigError, GoneError, PermanentError, TransientError
from hsnap.policy import ownership_labels, run_selector
from hsnap.settings import Settings, load_settings
from tests.conftest import SimFactory
from tests.hsnap.world import APP_1, SCALE, SECRET, add_fault, connect, requests_to, world

CORRELATION_ID = re.compile(r"\b[0-9a-f]{16}\b")


@pytest.fixture
def sim(make_sim: SimFactory) -> SimulatorServer:
    return make_sim(world(), time_scale=SCALE)


@pytest.fixture(autouse=True)
def _no_hsnap_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HCLOUD_TOKEN", "HCLOUD_ENDPOINT", "HSNAP_TIME_SCALE"):
        monkeypatch.delenv(name, raising=False)


# -- 13. settings --------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["api.example.com", "10.0.0.7", "[2001:db8::1]", "127.example"])
def test_plain_http_to_a_remote_host_is_refused(host: str) -> None:
    with pytest.raises(ConfigError, match="refusing to send the API token over plain http") as info:
        Settings(token=SecretStr(SECRET), endpoint=f"http://{host}:8080/v1")
    assert "use https, or a loopback address" in str(info.value)
    assert SECRET not in str(info.value)


def test_load_settings_refuses_plain_http_before_reading_a_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HCLOUD_ENDPOINT", "http://api.hetzner.cloud/v1")
    monkeypatch.setenv("HCLOUD_TOKEN", SECRET)
    with pytest.raises(ConfigError, match=r"plain http to api\.hetzner\.cloud") as info:
        load_settings(token_secret=None)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://api.hetzner.cloud/v1",
        "http://127.0.0.1:8780/v1",
        "http://localhost:8780/v1/",
        "http://[::1]:8780/v1",
        "http://127.1.2.3/v1",
    ],
)
def test_https_anywhere_and_http_on_loopback_are_accepted(endpoint: str) -> None:
    settings = Settings(token=SecretStr(SECRET), endpoint=endpoint)
    assert settings.endpoint == endpoint.rstrip("/")


@pytest.mark.parametrize("endpoint", ["ftp://example.com/v1", "api.hetzner.cloud/v1", "https://"])
def test_endpoint_that_is_not_an_http_url_is_refused(endpoint: str) -> None:
    with pytest.raises(ConfigError, match="is not an http"):
        Settings(token=SecretStr(SECRET), endpoint=endpoint)


def test_missing_token_names_hcloud_token() -> None:
    with pytest.raises(ConfigError, match="HCLOUD_TOKEN") as info:
        load_settings(token_secret=None)
    assert "no Hetzner API token" in str(info.value)
    assert "Secret block" in str(info.value)


def test_load_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HCLOUD_TOKEN", SECRET)
    monkeypatch.setenv("HCLOUD_ENDPOINT", "http://127.0.0.1:8780/v1")
    monkeypatch.setenv("HSNAP_TIME_SCALE", "60")
    settings = load_settings(token_secret=None)
    assert settings.token.get_secret_value() == SECRET
    assert (settings.endpoint, settings.time_scale) == ("http://127.0.0.1:8780/v1", 60.0)
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert SECRET not in text


def test_default_endpoint_is_the_real_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HCLOUD_TOKEN", SECRET)
    settings = load_settings(token_secret=None)
    assert (settings.endpoint, settings.time_scale) == ("https://api.hetzner.cloud/v1", 1.0)


@pytest.mark.parametrize("scale", ["fast", "0", "-5"])
def test_bad_time_scale_is_a_config_error(monkeypatch: pytest.MonkeyPatch, scale: str) -> None:
    monkeypatch.setenv("HCLOUD_TOKEN", SECRET)
    monkeypatch.setenv("HSNAP_TIME_SCALE", scale)
    with pytest.raises(ConfigError, match="HSNAP_TIME_SCALE"):
        load_settings(token_secret=None)


# -- reads ---------------------------------------------------------------------------------------


def test_list_servers_reads_every_page(make_sim: SimFactory) -> None:
    sim = make_sim(
        world({"name": "node-{i:02d}", "count": 60, "labels": {"env": "prod"}}, {"name": "odd"}),
        time_scale=SCALE,
    )
    cloud = connect(sim)
    servers = cloud.list_servers()
    assert len(servers) == 61
    assert {s.name for s in servers} >= {"node-01", "node-60", "odd"}
    prod = cloud.list_servers("env=prod")
    assert len(prod) == 60
    assert prod[0].labels == {"env": "prod"}
    assert requests_to(sim, "GET", "/servers") >= 4  # 50 per page at most


def test_find_and_get_server(make_sim: SimFactory) -> None:
    sim = make_sim("demo", time_scale=SCALE)
    cloud = connect(sim)
    batch = cloud.find_server("batch-1")
    assert batch is not None
    assert (batch.name, batch.status) == ("batch-1", "off")
    assert cloud.get_server(batch.id) == batch
    assert cloud.find_server("no-such-server") is None
    with pytest.raises(GoneError) as info:
        cloud.get_server(999999)
    assert info.value.code == "not_found"
    assert "not found (deleted?)" in str(info.value)


def test_running_actions_name_the_lock_holder(sim: SimulatorServer) -> None:
    cloud = connect(sim)
    assert cloud.running_actions(APP_1) == []
    holder = sim.state.lock_server(APP_1, command="reboot_server", duration=None)
    [action] = cloud.running_actions(APP_1)
    assert (action.id, action.command, action.status) == (holder, "reboot_server", "running")
    assert action.describe() == f"reboot_server #{holder} (0%)"
    assert (APP_1, "server") in action.resources


def test_get_actions_batches_fifty_ids_per_request(make_sim: SimFactory) -> None:
    busy = {"name": "busy-{i:02d}", "count": 55, "running_actions": [{"duration": None}]}
    sim = make_sim(world(busy), time_scale=SCALE)
    ids = [a["id"] for a in sim.state.ground_truth()["actions"]]
    assert len(ids) == 55
    actions = connect(sim).get_actions(ids)
    assert sorted(a.id for a in actions) == sorted(ids)
    assert {a.status for a in actions} == {"running"}
    assert requests_to(sim, "GET", "/actions") == 2


def test_find_images_sees_only_this_runs_snapshots(make_sim: SimFactory) -> None:
    mine = ownership_labels(APP_1, "run-1")
    images = [
        {"description": "mine", "server": "app-1", "labels": mine},
        {"description": "mine, backup", "server": "app-1", "type": "backup", "labels": mine},
        {"description": "other run", "server": "app-1", "labels": ownership_labels(APP_1, "r-2")},
        {"description": "manual", "server": "app-1"},
    ]
    sim = make_sim(world(images=images), time_scale=SCALE)
    found = connect(sim).find_images(run_selector(APP_1, "run-1"))
    assert [i.description for i in found] == ["mine"]
    assert found[0].labels == mine
    assert found[0].status == "available"


# -- transient errors: reads retried, writes not -------------------------------------------------


@pytest.mark.parametrize("code", ["bad_gateway", "unavailable", "timeout", "server_error"])
def test_a_short_burst_on_a_read_is_retried(sim: SimulatorServer, code: str) -> None:
    add_fault(sim, method="GET", path="/servers/*", code=code, count=READ_ATTEMPTS - 1)
    assert connect(sim).get_server(APP_1).name == "app-1"
    assert requests_to(sim, "GET", "/servers/{id}") == READ_ATTEMPTS


def test_a_long_burst_on_a_read_is_transient(sim: SimulatorServer) -> None:
    add_fault(sim, method="GET", path="/servers/*", code="bad_gateway")
    with pytest.raises(TransientError) as info:
        connect(sim).get_server(APP_1)
    assert info.value.code == "bad_gateway"
    assert str(info.value).startswith(f"server {APP_1}: ")
    assert not CORRELATION_ID.search(str(info.value))
    # hsnap's own attempts only: the SDK's retry (which also covers 502) is off
    assert requests_to(sim, "GET", "/servers/{id}") == READ_ATTEMPTS


def test_dropped_connections_on_reads_are_retried_then_reported(sim: SimulatorServer) -> None:
    cloud = connect(sim)
    add_fault(sim, method="GET", path="/servers/*", drop=True, count=READ_ATTEMPTS - 1)
    assert cloud.get_server(APP_1).id == APP_1
    add_fault(sim, method="GET", path="/servers/*", drop=True)
    with pytest.raises(TransientError) as info:
        cloud.get_server(APP_1)
    assert info.value.code == "connection"
    assert f"no answer from {sim.url}" in str(info.value)


@pytest.mark.parametrize("code", ["timeout", "conflict", "bad_gateway", "unavailable"])
def test_a_create_is_sent_once_whatever_the_answer(sim: SimulatorServer, code: str) -> None:
    cloud = connect(sim)
    add_fault(sim, method="POST", path="/servers/*/actions/create_image", code=code, count=1)
    with pytest.raises(TransientError) as info:
        cloud.create_snapshot(APP_1, "d", ownership_labels(APP_1, "run-1"))
    assert info.value.code == code
    # the SDK's own retry (it re-sends POSTs on 504, 409 and 502) is off: one request, no image
    assert requests_to(sim, "POST", "/servers/{id}/actions/create_image") == 1
    assert sim.state.ground_truth()["created_images"] == []


def test_create_returns_the_image_and_its_action(sim: SimulatorServer) -> None:
    labels = ownership_labels(APP_1, "run-1")
    image, action = connect(sim).create_snapshot(APP_1, "before upgrade", labels)
    assert (image.status, image.description, image.labels) == ("creating", "before upgrade", labels)
    assert (action.command, action.status) == ("create_image", "running")
    assert (image.id, "image") in action.resources
    assert sim.state.ground_truth()["created_images"] == [image.id]


def test_a_locked_server_answers_locked_not_lock_timeout(sim: SimulatorServer) -> None:
    sim.state.lock_server(APP_1, duration=None)
    with pytest.raises(PermanentError) as info:
        connect(sim).create_snapshot(APP_1, "d", {})
    assert info.value.code == "locked"
    assert "server is locked" in str(info.value)


# -- 429 and the rate governor -------------------------------------------------------------------


def test_429_on_a_write_is_waited_out_and_sent_again(sim: SimulatorServer) -> None:
    cloud = connect(sim)
    before = cloud.governor.responses_429
    add_fault(
        sim,
        method="POST",
        path="/servers/*/actions/create_image",
        code="rate_limit_exceeded",
        count=2,
    )
    image, _ = cloud.create_snapshot(APP_1, "d", {})
    assert cloud.governor.responses_429 - before == 2
    assert requests_to(sim, "POST", "/servers/{id}/actions/create_image", 429) == 2
    assert sim.state.ground_truth()["created_images"] == [image.id]


def test_429_that_never_ends_gives_up_transiently(sim: SimulatorServer) -> None:
    add_fault(sim, method="GET", path="/servers/*", code="rate_limit_exceeded")
    cloud = connect(sim)
    with pytest.raises(TransientError) as info:
        cloud.get_server(APP_1)
    assert info.value.code == "rate_limit_exceeded"
    assert "requests per hour" in str(info.value)
    # bounded: the governor's patience, then at most the read retries
    assert MAX_429 < requests_to(sim, "GET", "/servers/{id}", 429) <= MAX_429 + READ_ATTEMPTS


def test_one_governor_per_project_token(sim: SimulatorServer) -> None:
    assert connect(sim).governor is connect(sim).governor
    assert connect(sim).governor is not connect(sim, token="sim-readonly").governor


# -- credentials ---------------------------------------------------------------------------------


def test_invalid_token_is_permanent_and_actionable(
    make_sim: SimFactory, caplog: pytest.LogCaptureFixture
) -> None:
    sim = make_sim(world(tokens=[{"token": SECRET}]), time_scale=SCALE)
    caplog.set_level("DEBUG")
    with pytest.raises(PermanentError) as info:
        connect(sim, token="tok-SECRET-0000-revoked").list_servers()
    error = info.value
    assert error.code == "unauthorized"
    assert not error.transient
    assert "create an API token in the Hetzner Cloud Console" in str(error)
    assert "set HCLOUD_TOKEN" in str(error)
    assert requests_to(sim, "GET", "/servers") == 1  # not retried
    for text in (str(error), repr(error), caplog.text):
        assert "SECRET" not in text


def test_read_only_token_reads_but_cannot_create(make_sim: SimFactory) -> None:
    sim = make_sim(
        world(tokens=[{"token": SECRET}, {"token": f"{SECRET}-ro", "readonly": True}]),
        time_scale=SCALE,
    )
    cloud = connect(sim, token=f"{SECRET}-ro")
    assert [s.name for s in cloud.list_servers()] == ["app-1"]
    with pytest.raises(PermanentError) as info:
        cloud.create_snapshot(APP_1, "d", {})
    assert info.value.code == "token_readonly"
    assert "create a Read & Write API token" in str(info.value)
    assert "SECRET" not in str(info.value)


# -- the environment's proxy settings, read once per client ------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
def test_the_environments_proxy_carries_the_requests(
    sim: SimulatorServer, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    for name in ("HTTP_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv(variable, f"http://127.0.0.1:{_closed_port()}")  # on loopback: allowed
    cloud = connect(sim)
    with pytest.raises(TransientError, match="no answer"):
        cloud.list_servers()  # the proxy is down: nothing went around it
    assert requests_to(sim, "GET", "/servers") == 0

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert [s.name for s in connect(sim).list_servers()] == ["app-1"]  # straight to the API
