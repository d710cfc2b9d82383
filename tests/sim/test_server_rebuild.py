"""Rebuild, change_protection and images that do not boot, through the real SDK (schema-checked)."""

from __future__ import annotations

import hcloud
import pytest
from hcloud import APIException
from hcloud.actions import ActionFailedException
from hcloud.images import Image
from hcloud.server_types import ServerType
from hcloud.servers import Server

from hcloud_sim import SimulatorServer
from tests.sim._api import RawApi, error_of
from tests.sim._restore import (
    APP_1,
    ARM_NIGHTLY,
    BIG_1,
    BIG_NIGHTLY,
    CREATE_S,
    FAILS,
    HANGS,
    NIGHTLY,
    REBUILD_S,
    SAFE_1,
    START_S,
)

#: longer than any action of the world: what has not happened by then never will
FOREVER = 30 * 86400


def _status(cloud: hcloud.Client, server_id: int) -> str:
    status: str = cloud.servers.get_by_id(server_id).status
    return status


def test_rebuild_powers_off_locks_replaces_the_image_and_comes_back(
    cloud: hcloud.Client, world: SimulatorServer
) -> None:
    big = cloud.servers.get_by_id(BIG_1)
    system_image = big.image.id
    rebuilt = cloud.servers.rebuild(big, Image(id=BIG_NIGHTLY))
    assert rebuilt.root_password
    assert (rebuilt.action.command, rebuilt.action.status) == ("rebuild_server", "running")
    during = cloud.servers.get_by_id(BIG_1)
    assert during.status == "rebuilding"
    assert during.image.id == BIG_NIGHTLY != system_image
    with pytest.raises(APIException) as caught:
        cloud.servers.power_on(during)
    assert caught.value.code == "locked"
    world.state.clock.advance(REBUILD_S)
    assert _status(cloud, BIG_1) == "running"
    assert cloud.actions.get_by_id(rebuilt.action.id).status == "success"


def test_rebuild_of_a_server_that_was_off_brings_it_up(cloud: hcloud.Client) -> None:
    cloud.servers.power_off(Server(id=APP_1)).wait_until_finished()
    assert _status(cloud, APP_1) == "off"
    cloud.servers.rebuild(Server(id=APP_1), Image(name="debian-12")).action.wait_until_finished()
    server = cloud.servers.get_by_id(APP_1)
    assert (server.status, server.image.name) == ("running", "debian-12")


@pytest.mark.parametrize(
    ("server_id", "image", "expected"),
    [
        (SAFE_1, NIGHTLY, (423, "protected", "server rebuild is protected")),
        (APP_1, ARM_NIGHTLY, (422, "invalid_input", "image has wrong architecture")),
        (APP_1, BIG_NIGHTLY, (422, "invalid_input", "image disk is bigger than server type disk")),
        (APP_1, 999, (422, "invalid_input", "image 999 not found")),
        (999, NIGHTLY, (404, "not_found", "server with ID '999' not found")),
    ],
)
def test_a_refused_rebuild_changes_nothing(
    wire: RawApi,
    world: SimulatorServer,
    server_id: int,
    image: int,
    expected: tuple[int, str, str],
) -> None:
    before = world.state.ground_truth()
    answer = wire.post(f"/servers/{server_id}/actions/rebuild", {"image": image})
    status, code, message = error_of(answer)
    assert (status, code) == expected[:2]
    assert expected[2] in message
    after = world.state.ground_truth()
    assert (after["servers"], after["actions"]) == (before["servers"], before["actions"])


def test_a_locked_server_is_not_rebuilt(cloud: hcloud.Client, world: SimulatorServer) -> None:
    world.state.lock_server(APP_1, duration=None)
    with pytest.raises(APIException) as caught:
        cloud.servers.rebuild(Server(id=APP_1), Image(id=NIGHTLY))
    assert caught.value.code == "locked"
    assert _status(cloud, APP_1) == "running"


def test_change_protection_guards_delete_and_rebuild(
    cloud: hcloud.Client, wire: RawApi, world: SimulatorServer
) -> None:
    action = cloud.servers.change_protection(Server(id=APP_1), delete=True, rebuild=True)
    assert (action.command, action.status) == ("change_protection", "success")
    assert cloud.servers.get_by_id(APP_1).protection == {"delete": True, "rebuild": True}
    for attempt in (
        lambda: cloud.servers.delete(Server(id=APP_1)),
        lambda: cloud.servers.rebuild(Server(id=APP_1), Image(id=NIGHTLY)),
    ):
        with pytest.raises(APIException) as caught:
            attempt()
        assert caught.value.code == "protected"
    assert _status(cloud, APP_1) == "running"

    mixed = wire.post(
        f"/servers/{APP_1}/actions/change_protection", {"delete": False, "rebuild": 1}
    )
    assert error_of(mixed)[:2] == (422, "invalid_input")
    differ = wire.post(
        f"/servers/{APP_1}/actions/change_protection", {"delete": False, "rebuild": True}
    )
    assert "must have the same value" in error_of(differ)[2]

    cloud.servers.change_protection(Server(id=APP_1), delete=False, rebuild=False)
    cloud.servers.delete(Server(id=APP_1))
    assert "app-1" not in {s["name"] for s in world.state.ground_truth()["servers"]}


def test_a_server_from_an_image_that_hangs_never_runs(
    cloud: hcloud.Client, world: SimulatorServer
) -> None:
    created = cloud.servers.create(
        name="hung", server_type=ServerType(name="cx22"), image=Image(id=HANGS)
    )
    world.state.clock.advance(FOREVER)
    assert _status(cloud, created.server.id) == "starting"
    assert cloud.actions.get_by_id(created.action.id).status == "success"
    assert cloud.actions.get_by_id(created.next_actions[0].id).status == "running"
    cloud.servers.delete(created.server)  # it can still be cleaned up
    assert "hung" not in {s["name"] for s in world.state.ground_truth()["servers"]}


def test_a_server_from_an_image_that_fails_ends_in_error_and_off(
    cloud: hcloud.Client,
) -> None:
    created = cloud.servers.create(
        name="broken", server_type=ServerType(name="cx22"), image=Image(id=FAILS)
    )
    with pytest.raises(ActionFailedException) as caught:
        created.action.wait_until_finished()
    assert caught.value.action.error["code"] == "action_failed"
    assert _status(cloud, created.server.id) == "off"
    assert cloud.actions.get_by_id(created.next_actions[0].id).status == "error"


def test_a_server_created_off_from_a_hanging_image_never_runs_on_poweron(
    cloud: hcloud.Client, world: SimulatorServer
) -> None:
    created = cloud.servers.create(
        name="cold",
        server_type=ServerType(name="cx22"),
        image=Image(id=HANGS),
        start_after_create=False,
    )
    world.state.clock.advance(CREATE_S)
    assert _status(cloud, created.server.id) == "off"
    cloud.servers.power_on(created.server)
    world.state.clock.advance(FOREVER)
    assert _status(cloud, created.server.id) == "starting"


@pytest.mark.parametrize(("image", "status"), [(HANGS, "starting"), (FAILS, "off")])
def test_a_rebuild_from_an_image_that_does_not_boot(
    cloud: hcloud.Client, world: SimulatorServer, image: int, status: str
) -> None:
    action = cloud.servers.rebuild(Server(id=APP_1), Image(id=image)).action
    world.state.clock.advance(REBUILD_S + START_S)
    assert _status(cloud, APP_1) == status
    assert cloud.actions.get_by_id(action.id).status == ("error" if image == FAILS else "success")
