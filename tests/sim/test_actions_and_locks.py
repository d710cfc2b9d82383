"""Snapshots, actions and locks through the real SDK: create_image, 423 locked, batches, deletion.

Simulated time runs at real speed here and tests move it with ``clock.advance``; SDK clients that
wait on actions get a ``poll_interval`` that steps the clock instead of sleeping.
"""

from __future__ import annotations

import re
from typing import Any

import hcloud
import pytest
from hcloud import APIException
from hcloud.actions import ActionFailedException
from hcloud.servers import BoundServer

from hcloud_sim import SimulatorServer
from tests.conftest import ClientFactory, SimFactory
from tests.openapi_check import ExchangeValidator
from tests.sim._api import CORRELATION_ID, RawApi, clock_stepping, control, error_of

LOCKED = "cannot perform operation because server is locked"
PAGE_KEYS = {"page", "per_page", "previous_page", "next_page", "last_page", "total_entries"}

WORLD: dict[str, Any] = {
    "name": "actions",
    "projects": [
        {
            "name": "actions",
            "action_durations": {"create_image": 120, "reboot_server": 15},
            "servers": [
                {"name": "app-1", "labels": {"env": "prod"}, "disk": 80, "snapshot_size": 3.5},
                {
                    "name": "busy-1",
                    "running_actions": [
                        {"command": "change_server_type", "duration": 90, "elapsed": 20}
                    ],
                },
                {
                    "name": "broken-snap",
                    "snapshot_error": {
                        "code": "action_failed",
                        "message": "image creation failed: disk read error",
                    },
                },
                {"name": "doomed", "delete_after": 300},
                {"name": "spare"},
            ],
        }
    ],
}


@pytest.fixture
def sim(make_sim: SimFactory) -> SimulatorServer:
    return make_sim(WORLD)


@pytest.fixture
def client(sim: SimulatorServer, make_client: ClientFactory) -> hcloud.Client:
    """Waiting on an action moves simulated time on by 30 s per poll."""
    return make_client(sim, poll_interval=clock_stepping(sim, 30.0))


@pytest.fixture
def raw(sim: SimulatorServer, schema_check: ExchangeValidator) -> RawApi:
    return RawApi(sim, schema_check)


def by_name(client: hcloud.Client, name: str) -> BoundServer:
    server = client.servers.get_by_name(name)
    assert server is not None, name
    return server


# -- create_image ------------------------------------------------------------------------------


def test_create_image_runs_from_creating_to_available(
    sim: SimulatorServer, client: hcloud.Client
) -> None:
    server = by_name(client, "app-1")
    result = client.servers.create_image(
        server, description="before upgrade", labels={"managed-by": "hsnap", "flag": ""}
    )
    action, image = result.action, result.image
    assert (action.command, action.status, action.progress) == ("create_image", "running", 0)
    assert action.finished is None
    assert action.error is None
    assert sorted((r["id"], r["type"]) for r in action.resources) == [
        (server.id, "server"),
        (image.id, "image"),
    ]
    assert (image.type, image.status, image.image_size) == ("snapshot", "creating", None)
    assert image.description == "before upgrade"
    assert image.labels == {"managed-by": "hsnap", "flag": ""}
    assert image.disk_size == 80
    assert (image.created_from.id, image.created_from.name) == (server.id, "app-1")

    sim.state.clock.advance(60)  # half of the 120 s this snapshot takes
    halfway = client.actions.get_by_id(action.id)
    assert halfway.status == "running"
    assert 45 <= halfway.progress <= 55
    assert client.images.get_by_id(image.id).status == "creating"

    action.wait_until_finished()
    assert (action.status, action.progress, action.error) == ("success", 100, None)
    assert action.finished is not None
    assert action.finished >= action.started

    done = client.images.get_by_id(image.id)
    assert (done.status, done.image_size, done.type) == ("available", 3.5, "snapshot")
    assert done.description == "before upgrade"
    assert done.labels == {"managed-by": "hsnap", "flag": ""}
    assert (done.created_from.id, done.created_from.name) == (server.id, "app-1")
    assert [i.id for i in client.images.get_all(label_selector="managed-by=hsnap")] == [image.id]


def test_create_image_without_a_body_makes_a_described_snapshot(
    client: hcloud.Client,
) -> None:
    server = by_name(client, "spare")
    result = client.servers.create_image(server)
    assert result.image.type == "snapshot"
    assert result.image.description  # generated when not given
    assert result.image.labels == {}
    result.action.wait_until_finished()
    assert client.images.get_by_id(result.image.id).status == "available"


def test_a_failing_snapshot_ends_in_error_and_an_unavailable_image(client: hcloud.Client) -> None:
    server = by_name(client, "broken-snap")
    result = client.servers.create_image(server, description="doomed")
    with pytest.raises(ActionFailedException) as caught:
        result.action.wait_until_finished()
    failed = caught.value.action
    assert failed.id == result.action.id
    assert failed.status == "error"
    assert failed.error == {
        "code": "action_failed",
        "message": "image creation failed: disk read error",
    }
    assert client.actions.get_by_id(failed.id).error == failed.error

    image = client.images.get_by_id(result.image.id)
    assert image.status == "unavailable"
    assert image.image_size is None
    assert client.servers.get_actions(server, status=["running"]) == []  # the lock is released


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"description": "x", "x": 1}, None),
        ({"labels": {"bad key": "v"}}, "labels"),
        ({"labels": {"hetzner.cloud/x": "v"}}, "labels"),
        ({"type": "golden"}, "type"),
    ],
)
def test_create_image_rejects_bad_input(
    raw: RawApi, sim: SimulatorServer, body: dict[str, Any], field: str | None
) -> None:
    server_id = sim.state.server_by_name("app-1").id
    status, code, message = error_of(raw.post(f"/servers/{server_id}/actions/create_image", body))
    assert (status, code) == (422, "invalid_input")
    if field is None:
        assert message == "invalid input: unknown field name 'x'"
    else:
        assert message.startswith(f"invalid input in field '{field}': ")
    assert sim.state.ground_truth()["created_images"] == []


# -- 423 locked ------------------------------------------------------------------------------


@pytest.mark.parametrize("verb", ["create_image", "shutdown", "power_off", "power_on", "reboot"])
def test_a_server_with_a_running_action_is_locked(client: hcloud.Client, verb: str) -> None:
    server = by_name(client, "busy-1")
    with pytest.raises(APIException) as caught:
        getattr(client.servers, verb)(server)
    error = caught.value
    assert (error.code, error.message) == ("locked", LOCKED)
    assert re.fullmatch(CORRELATION_ID, error.correlation_id or "")
    assert str(error) == f"{LOCKED} (locked, {error.correlation_id})"
    assert re.fullmatch(rf"{LOCKED} \(locked, {CORRELATION_ID}\)", str(error))
    assert server.locked is False  # the "locked" field is something else


@pytest.mark.parametrize(
    ("verb", "body"), [("create_image", {"description": "x"}), ("shutdown", None)]
)
def test_locked_is_a_423_on_the_wire(
    raw: RawApi, sim: SimulatorServer, verb: str, body: dict[str, Any] | None
) -> None:
    server_id = sim.state.server_by_name("busy-1").id
    response = raw.post(f"/servers/{server_id}/actions/{verb}", body)
    assert error_of(response) == (423, "locked", LOCKED)
    assert response.json()["error"]["details"] is None
    assert re.fullmatch(CORRELATION_ID, response.headers["X-Correlation-Id"])


def test_the_lock_holder_is_listed_and_the_lock_ends_with_it(
    sim: SimulatorServer, client: hcloud.Client
) -> None:
    server = by_name(client, "busy-1")
    holders = client.servers.get_actions(server, status=["running"])
    assert [(a.command, a.status) for a in holders] == [("change_server_type", "running")]
    assert 20 <= holders[0].progress <= 25  # 20 of its 90 s have passed
    assert [r["id"] for r in holders[0].resources] == [server.id]

    sim.state.clock.advance(69)
    with pytest.raises(APIException, match="server is locked"):
        client.servers.create_image(server)

    sim.state.clock.advance(2)  # past the holder's end
    assert client.servers.get_actions(server, status=["running"]) == []
    finished = client.actions.get_by_id(holders[0].id)
    assert (finished.status, finished.progress) == ("success", 100)
    result = client.servers.create_image(server, description="after the lock")
    assert result.action.status == "running"
    assert [a.id for a in client.servers.get_actions(server, status=["running"])] == [
        result.action.id
    ]


def test_our_own_snapshot_holds_the_lock_until_it_ends(client: hcloud.Client) -> None:
    server = by_name(client, "app-1")
    first = client.servers.create_image(server)
    with pytest.raises(APIException) as caught:
        client.servers.create_image(server)
    assert caught.value.code == "locked"
    first.action.wait_until_finished()
    second = client.servers.create_image(server)
    assert second.image.id != first.image.id


def test_a_lock_from_the_simulator_api(sim: SimulatorServer, client: hcloud.Client) -> None:
    server = by_name(client, "spare")
    holder = sim.state.lock_server(server.id, command="rebuild_server", duration=30)
    with pytest.raises(APIException, match="server is locked"):
        client.servers.reboot(server)
    running = client.servers.get_actions(server, status=["running"])
    assert [(a.id, a.command) for a in running] == [(holder, "rebuild_server")]
    sim.state.clock.advance(31)
    assert client.servers.reboot(server).command == "reboot_server"


def test_an_endless_lock_from_the_control_api(sim: SimulatorServer, client: hcloud.Client) -> None:
    server = by_name(client, "spare")
    response = control(
        sim, "POST", f"/servers/{server.id}/lock", {"command": "rebuild_server", "duration": None}
    )
    assert response.status_code == 201
    holder = response.json()["action_id"]
    sim.state.clock.advance(7 * 86400)
    with pytest.raises(APIException, match="server is locked"):
        client.servers.create_image(server)
    assert client.actions.get_by_id(holder).status == "running"
    assert client.actions.get_by_id(holder).progress == 0


def test_a_lock_holder_that_fails_reports_its_error(
    sim: SimulatorServer, client: hcloud.Client
) -> None:
    server = by_name(client, "spare")
    holder = sim.state.lock_server(
        server.id, duration=10, error=("unknown_error", "server is locked")
    )
    sim.state.clock.advance(11)
    failed = client.actions.get_by_id(holder)
    assert failed.status == "error"
    assert failed.error == {"code": "unknown_error", "message": "server is locked"}
    assert client.servers.create_image(server).action.status == "running"


# -- actions: one, a batch, a server's -----------------------------------------------------------


def _three_actions(sim: SimulatorServer, client: hcloud.Client) -> list[int]:
    """A running create_image, a running reboot and a finished change_server_type."""
    snapshot = client.servers.create_image(by_name(client, "app-1")).action.id
    reboot = client.servers.reboot(by_name(client, "spare")).id
    sim.state.clock.advance(71)  # busy-1's holder ends; the other two still run
    holder = client.servers.get_actions(by_name(client, "busy-1"))[0].id
    return [snapshot, reboot, holder]


def test_get_actions_by_id_in_a_batch(sim: SimulatorServer, client: hcloud.Client) -> None:
    snapshot, reboot, holder = _three_actions(sim, client)
    body = client.request("GET", "/actions", params={"id": [snapshot, reboot, holder]})
    assert set(body["meta"]["pagination"]) == PAGE_KEYS
    assert body["meta"]["pagination"]["total_entries"] == 3
    by_id = {a["id"]: a for a in body["actions"]}
    assert set(by_id) == {snapshot, reboot, holder}
    assert (by_id[snapshot]["command"], by_id[snapshot]["status"]) == ("create_image", "running")
    assert (by_id[reboot]["command"], by_id[reboot]["status"]) == ("reboot_server", "success")
    assert (by_id[holder]["command"], by_id[holder]["status"]) == ("change_server_type", "success")

    one = client.request("GET", "/actions", params={"id": [reboot]})
    assert [a["id"] for a in one["actions"]] == [reboot]


def test_a_batch_sorts_and_pages(sim: SimulatorServer, client: hcloud.Client) -> None:
    ids = _three_actions(sim, client)
    desc = client.request("GET", "/actions", params={"id": ids, "sort": "id:desc"})
    assert [a["id"] for a in desc["actions"]] == sorted(ids, reverse=True)

    by_command = client.request("GET", "/actions", params={"id": ids, "sort": "command"})
    assert [a["command"] for a in by_command["actions"]] == [
        "change_server_type",
        "create_image",
        "reboot_server",
    ]

    page = client.request(
        "GET", "/actions", params={"id": ids, "sort": "id", "per_page": 1, "page": 2}
    )
    assert [a["id"] for a in page["actions"]] == [sorted(ids)[1]]
    assert page["meta"]["pagination"] == {
        "page": 2,
        "per_page": 1,
        "previous_page": 1,
        "next_page": 3,
        "last_page": 3,
        "total_entries": 3,
    }


def test_listing_actions_without_an_id_is_gone(raw: RawApi, client: hcloud.Client) -> None:
    response = raw.get("/actions")
    status, code, _ = error_of(response)
    assert (status, code) == (410, "deprecated_api_endpoint")
    with (
        pytest.raises(APIException) as caught,
        pytest.warns(DeprecationWarning, match="deprecated"),
    ):
        client.actions.get_all()  # the SDK's deprecated call reaches the removed endpoint
    assert caught.value.code == "deprecated_api_endpoint"


def test_get_one_action(client: hcloud.Client) -> None:
    created = client.servers.reboot(by_name(client, "spare"))
    fetched = client.actions.get_by_id(created.id)
    assert (fetched.id, fetched.command, fetched.status) == (created.id, "reboot_server", "running")
    assert fetched.started == created.started
    with pytest.raises(APIException) as caught:
        client.actions.get_by_id(4242)
    assert (caught.value.code, caught.value.message) == (
        "not_found",
        "action with ID '4242' not found",
    )


def test_a_servers_actions_filtered_by_status(
    sim: SimulatorServer, raw: RawApi, client: hcloud.Client
) -> None:
    server = by_name(client, "spare")
    reboot = client.servers.reboot(server).id
    sim.state.clock.advance(16)
    snapshot = client.servers.create_image(server).action.id

    running = raw.get(f"/servers/{server.id}/actions", {"status": "running"}).json()
    assert [a["id"] for a in running["actions"]] == [snapshot]
    assert set(running["meta"]["pagination"]) == PAGE_KEYS
    done = raw.get(f"/servers/{server.id}/actions", {"status": "success"}).json()
    assert [a["id"] for a in done["actions"]] == [reboot]
    both = raw.get(
        f"/servers/{server.id}/actions", {"status": ["running", "success"], "sort": "id:desc"}
    ).json()
    assert [a["id"] for a in both["actions"]] == [snapshot, reboot]
    assert [a.id for a in client.servers.get_actions(server, status=["success"])] == [reboot]
    assert raw.get(f"/servers/{server.id}/actions", {"status": "error"}).json()["actions"] == []


# -- deleted servers ---------------------------------------------------------------------------


def test_a_server_deleted_mid_snapshot(sim: SimulatorServer, client: hcloud.Client) -> None:
    server = by_name(client, "app-1")
    started = client.servers.create_image(server, description="interrupted")
    response = control(sim, "POST", f"/servers/{server.id}/delete")
    assert response.status_code == 200

    gone = f"server with ID '{server.id}' not found"
    for call in (
        lambda: client.servers.get_by_id(server.id),
        lambda: client.servers.create_image(server),
        lambda: client.servers.get_actions(server),
        lambda: client.servers.power_off(server),
    ):
        with pytest.raises(APIException) as caught:
            call()
        assert (caught.value.code, caught.value.message) == ("not_found", gone)
    assert client.servers.get_by_name("app-1") is None

    with pytest.raises(ActionFailedException):
        started.action.wait_until_finished()
    failed = client.actions.get_by_id(started.action.id)
    assert failed.status == "error"
    assert failed.error is not None
    assert failed.error["code"]
    assert failed.error["message"]
    assert client.images.get_by_id(started.image.id).status == "unavailable"


def test_a_server_deleted_by_the_scenario(sim: SimulatorServer, raw: RawApi) -> None:
    server_id = sim.state.server_by_name("doomed").id
    assert raw.get(f"/servers/{server_id}").status_code == 200
    sim.state.clock.advance(301)
    assert error_of(raw.get(f"/servers/{server_id}")) == (
        404,
        "not_found",
        f"server with ID '{server_id}' not found",
    )
    status, code, _ = error_of(raw.post(f"/servers/{server_id}/actions/create_image", {}))
    assert (status, code) == (404, "not_found")
    names = {s["name"] for s in raw.get("/servers").json()["servers"]}
    assert names == {"app-1", "busy-1", "broken-snap", "spare"}
