"""POST /servers and DELETE /servers/{id} through the real SDK, every response schema-checked.

The simulator runs at 1x and tests move its clock, so every state a user could observe between
``initializing`` and ``running`` is seen at a known simulated time.
"""

from __future__ import annotations

from typing import Any

import hcloud
import pytest
from hcloud import APIException
from hcloud.images import Image
from hcloud.locations import Location
from hcloud.server_types import ServerType
from hcloud.servers import Server, ServerCreatePublicNetwork

from hcloud_sim import SimulatorServer
from tests.conftest import ClientFactory
from tests.sim._api import RawApi, error_of
from tests.sim._restore import (
    APP_1,
    ARM_NIGHTLY,
    BIG_NIGHTLY,
    CREATE_S,
    DELETE_S,
    HALF_MADE,
    NIGHTLY,
    SAFE_1,
    START_S,
)


def _create(cloud: hcloud.Client, name: str = "restored", **kwargs: Any) -> Any:
    kwargs.setdefault("server_type", ServerType(name="cx22"))
    kwargs.setdefault("image", Image(id=NIGHTLY))
    return cloud.servers.create(name=name, **kwargs)


def _names(world: SimulatorServer) -> set[str]:
    return {s["name"] for s in world.state.ground_truth()["servers"]}


def test_a_server_from_a_snapshot_initializes_starts_and_runs(
    cloud: hcloud.Client, world: SimulatorServer
) -> None:
    created = _create(
        cloud,
        location=Location(name="nbg1"),
        labels={"restored-from": str(APP_1)},
        public_net=ServerCreatePublicNetwork(enable_ipv4=False, enable_ipv6=True),
    )
    server = created.server
    assert (server.status, server.location.name) == ("initializing", "nbg1")
    assert (server.server_type.name, server.primary_disk_size) == ("cx22", 40)
    assert server.image.id == NIGHTLY
    assert server.labels == {"restored-from": str(APP_1)}
    assert server.public_net.ipv4 is None
    assert server.public_net.ipv6.ip.endswith("::/64")
    assert created.root_password
    assert (created.action.command, created.action.status) == ("create_server", "running")
    assert [(a.command, a.status) for a in created.next_actions] == [("start_server", "running")]

    world.state.clock.advance(CREATE_S)
    assert cloud.servers.get_by_id(server.id).status == "starting"
    assert cloud.actions.get_by_id(created.action.id).status == "success"
    world.state.clock.advance(START_S)
    assert cloud.servers.get_by_id(server.id).status == "running"
    assert cloud.actions.get_by_id(created.next_actions[0].id).status == "success"


def test_start_after_create_false_leaves_it_off(
    cloud: hcloud.Client, world: SimulatorServer
) -> None:
    created = _create(cloud, start_after_create=False)
    assert created.next_actions == []
    world.state.clock.advance(CREATE_S + START_S)
    assert cloud.servers.get_by_id(created.server.id).status == "off"


def test_image_by_name_and_default_location(cloud: hcloud.Client) -> None:
    created = _create(cloud, image=Image(name="debian-12"), server_type=ServerType(name="cpx11"))
    assert created.server.image.name == "debian-12"
    assert created.server.location.name == "fsn1"  # the first location offering the type
    assert created.server.public_net.ipv4 is not None  # public IPs unless told otherwise


def test_an_arm_snapshot_makes_an_arm_server(cloud: hcloud.Client) -> None:
    created = _create(cloud, image=Image(id=ARM_NIGHTLY), server_type=ServerType(name="cax11"))
    assert created.server.server_type.architecture == "arm"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"image": ARM_NIGHTLY}, (422, "invalid_input", "image has wrong architecture")),
        ({"image": BIG_NIGHTLY}, (422, "invalid_input", "image disk is bigger than server type")),
        ({"image": HALF_MADE}, (422, "invalid_input", "is not available")),
        ({"image": 999}, (422, "invalid_input", "image 999 not found")),
        ({"image": "no-such-os"}, (422, "invalid_input", "'no-such-os' not found")),
        ({"server_type": "cx99"}, (422, "invalid_input", "server type 'cx99' not found")),
        ({"location": "mars"}, (422, "invalid_input", "location 'mars' not found")),
        ({"location": "ash"}, (422, "invalid_input", "cx22 is not available in location ash")),
        ({"name": "app-1"}, (409, "uniqueness_error", "server name is already used")),
        ({"name": "not a hostname"}, (422, "invalid_input", "valid hostname")),
        ({"name": None}, (422, "invalid_input", "'name': is required")),
        ({"ssh_keys": ["mine"]}, (422, "invalid_input", "SSH key 'mine' not found")),
        ({"ssh_keys": "mine"}, (422, "invalid_input", "'ssh_keys': must be a list")),
        ({"public_net": {"ipv4": 7}}, (422, "invalid_input", "primary IP 7 not found")),
        ({"start_after_create": "yes"}, (422, "invalid_input", "must be a boolean")),
        ({"datacenter": "fsn1-dc99"}, (422, "invalid_input", "datacenter 'fsn1-dc99' not found")),
        ({"datacenter": 4, "location": "fsn1"}, (422, "invalid_input", "either location or")),
        ({"server_type": "cx11"}, (422, "invalid_input", "cx11 is deprecated and unavailable")),
    ],
)
def test_a_refused_create_names_the_problem_and_changes_nothing(
    wire: RawApi,
    world: SimulatorServer,
    body: dict[str, Any],
    expected: tuple[int, str, str],
) -> None:
    status, code, message = expected
    before = world.state.ground_truth()
    request = {"name": "restored", "server_type": "cx22", "image": NIGHTLY, **body}
    answer = wire.post("/servers", {k: v for k, v in request.items() if v is not None})
    got_status, got_code, got_message = error_of(answer)
    assert (got_status, got_code) == (status, code)
    assert message in got_message
    after = world.state.ground_truth()
    assert (after["servers"], after["actions"]) == (before["servers"], before["actions"])


def test_a_bigger_type_takes_the_bigger_image(cloud: hcloud.Client) -> None:
    created = _create(cloud, image=Image(id=BIG_NIGHTLY), server_type=ServerType(name="cx32"))
    assert created.server.primary_disk_size == 80


def test_ids_and_names_are_interchangeable(wire: RawApi) -> None:
    answer = wire.post(
        "/servers", {"name": "by-id", "server_type": "104", "image": str(NIGHTLY), "location": 2}
    )
    assert answer.status_code == 201
    server = answer.json()["server"]
    assert (server["server_type"]["name"], server["location"]["name"]) == ("cx22", "nbg1")


def test_the_server_quota_answers_403_until_a_server_is_deleted(
    cloud: hcloud.Client, world: SimulatorServer
) -> None:
    _create(cloud, name="fifth")  # four seeded, quota five
    with pytest.raises(APIException) as caught:
        _create(cloud, name="sixth")
    assert caught.value.code == "resource_limit_exceeded"
    assert caught.value.details == {"limits": [{"name": "server_limit"}]}
    assert "sixth" not in _names(world)
    cloud.servers.delete(Server(id=APP_1))
    assert _create(cloud, name="sixth").server.name == "sixth"


def test_delete_answers_404_from_then_on(cloud: hcloud.Client, world: SimulatorServer) -> None:
    action = cloud.servers.delete(Server(id=APP_1))
    assert (action.command, action.status) == ("delete_server", "running")
    with pytest.raises(APIException) as caught:
        cloud.servers.get_by_id(APP_1)
    assert caught.value.code == "not_found"
    assert "app-1" not in _names(world)
    world.state.clock.advance(DELETE_S)
    assert cloud.actions.get_by_id(action.id).status == "success"
    # the name is free again
    assert _create(cloud, name="app-1").server.name == "app-1"
    with pytest.raises(APIException) as again:
        cloud.servers.delete(Server(id=APP_1))
    assert again.value.code == "not_found"


def test_a_server_still_booting_can_be_deleted(
    cloud: hcloud.Client, world: SimulatorServer
) -> None:
    created = _create(cloud)
    cloud.servers.delete(created.server)
    world.state.clock.advance(CREATE_S + START_S)
    assert created.server.id not in {s["id"] for s in world.state.ground_truth()["servers"]}
    for action in (created.action, *created.next_actions):
        assert cloud.actions.get_by_id(action.id).status == "error"


def test_delete_protection_answers_423_protected(
    cloud: hcloud.Client, world: SimulatorServer
) -> None:
    with pytest.raises(APIException) as caught:
        cloud.servers.delete(Server(id=SAFE_1))
    assert caught.value.code == "protected"
    assert "safe-1" in _names(world)


def test_a_read_only_token_cannot_create(
    world: SimulatorServer, make_client: ClientFactory
) -> None:
    with pytest.raises(APIException) as caught:
        _create(make_client(world, token="sim-readonly"))
    assert caught.value.code == "token_readonly"
    assert "restored" not in _names(world)
