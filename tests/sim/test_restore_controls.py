"""What a restore test sets up: quotas and non-booting disks, from the scenario or at run time."""

from __future__ import annotations

from typing import Any

import hcloud
import pytest
from hcloud import APIException
from hcloud.images import Image
from hcloud.server_types import ServerType
from hcloud.servers import Server

from hcloud_sim import SimulatorServer
from tests.conftest import ClientFactory, SimFactory
from tests.sim._api import clock_stepping, control
from tests.sim._restore import CREATE_S, NIGHTLY, START_S

#: a server whose disk no longer boots, and a dedicated one with a bigger disk
DISKS: dict[str, Any] = {
    "name": "disks",
    "projects": [
        {
            "servers": [
                {"name": "rotten", "boot": "error"},
                {"name": "db", "server_type": "ccx13"},
            ],
            "images": [{"description": "db manual", "server": "db"}],
        }
    ],
}


def _create(cloud: hcloud.Client, name: str, image: int) -> Any:
    return cloud.servers.create(
        name=name, server_type=ServerType(name="cx22"), image=Image(id=image)
    )


def test_the_server_quota_can_change_at_run_time(
    cloud: hcloud.Client, world: SimulatorServer
) -> None:
    answer = control(world, "POST", "/quota", {"servers": 4})  # four servers exist
    assert answer.json() == {"servers": 4, "snapshots": None}
    with pytest.raises(APIException) as caught:
        _create(cloud, "one-too-many", NIGHTLY)
    assert caught.value.code == "resource_limit_exceeded"
    control(world, "POST", "/quota", {"servers": None})  # no limit
    _create(cloud, "one-too-many", NIGHTLY)
    assert world.state.ground_truth()["quota"] == {"servers": None, "snapshots": None}
    refused = control(world, "POST", "/quota", {"servers": -1})
    assert refused.status_code == 422


def test_an_image_can_stop_booting_at_run_time(
    cloud: hcloud.Client, world: SimulatorServer
) -> None:
    answer = control(world, "POST", f"/images/{NIGHTLY}/boot", {"boot": "stuck"})
    assert answer.json() == {"image": NIGHTLY, "boot": "stuck"}
    created = _create(cloud, "hung", NIGHTLY)
    world.state.clock.advance(CREATE_S + START_S + 3600)
    assert cloud.servers.get_by_id(created.server.id).status == "starting"
    truth = next(i for i in world.state.ground_truth()["images"] if i["id"] == NIGHTLY)
    assert truth["boot"] == "stuck"
    assert control(world, "POST", "/images/1/boot", {"boot": "ok"}).status_code == 404
    assert control(world, "POST", f"/images/{NIGHTLY}/boot", {"boot": "maybe"}).status_code == 422


def test_snapshots_of_a_disk_that_does_not_boot_do_not_boot(
    make_sim: SimFactory, make_client: ClientFactory
) -> None:
    sim = make_sim(DISKS, time_scale=1)
    cloud = make_client(sim, poll_interval=clock_stepping(sim, 30.0))
    rotten = cloud.servers.get_by_name("rotten")
    assert rotten is not None
    snapshot = cloud.servers.create_image(rotten, type="snapshot")
    snapshot.action.wait_until_finished()
    created = _create(cloud, "restored", snapshot.image.id)
    with pytest.raises(hcloud.actions.ActionFailedException):
        created.action.wait_until_finished()
    assert cloud.servers.get_by_id(created.server.id).status == "off"


def test_a_seeded_snapshot_has_its_server_disk_size(
    make_sim: SimFactory, make_client: ClientFactory
) -> None:
    cloud = make_client(make_sim(DISKS, time_scale=1))
    (image,) = cloud.images.get_all(type="snapshot")
    assert image.disk_size == 80  # from the ccx13's disk: it does not fit a cx22
    with pytest.raises(APIException) as caught:
        _create(cloud, "small", image.id)
    assert "image disk is bigger than server type disk" in caught.value.message


def test_a_poweron_of_a_server_whose_disk_fails_ends_in_error(
    make_sim: SimFactory, make_client: ClientFactory
) -> None:
    sim = make_sim(DISKS, time_scale=1)
    cloud = make_client(sim, poll_interval=clock_stepping(sim, 30.0))
    rotten = Server(id=100001)
    cloud.servers.power_off(rotten).wait_until_finished()
    with pytest.raises(hcloud.actions.ActionFailedException):
        cloud.servers.power_on(rotten).wait_until_finished()
    assert cloud.servers.get_by_id(100001).status == "off"
