"""Power actions through the real SDK: ACPI shutdown, poweroff, poweron, reboot, and guests.

Simulated time runs at real speed; each test moves it with ``clock.advance`` and reads the
server's status after each step. Durations: shutdown 2 s, poweroff 3 s, poweron 10 s, reboot 15 s.
"""

from __future__ import annotations

from typing import Any

import hcloud
import pytest
from hcloud import APIException
from hcloud.servers import BoundServer

from hcloud_sim import SimulatorServer
from tests.conftest import ClientFactory, SimFactory
from tests.sim._api import clock_stepping

WORLD: dict[str, Any] = {
    "name": "power",
    "projects": [
        {
            "name": "power",
            "action_durations": {
                "shutdown_server": 2,
                "stop_server": 3,
                "start_server": 10,
                "reboot_server": 15,
                "create_image": 60,
            },
            "servers": [
                {"name": "vm", "shutdown_delay": 30},
                {"name": "deaf", "acpi": "ignore"},
                {"name": "cold", "status": "off"},
                {"name": "ranged", "shutdown_delay": [20, 40]},
            ],
        }
    ],
}


@pytest.fixture
def sim(make_sim: SimFactory) -> SimulatorServer:
    return make_sim(WORLD)


@pytest.fixture
def client(sim: SimulatorServer, make_client: ClientFactory) -> hcloud.Client:
    """Waiting on an action moves simulated time on by 1 s per poll."""
    return make_client(sim, poll_interval=clock_stepping(sim, 1.0))


class Fleet:
    """Reads a named server's status and moves the clock, so tests read as timelines."""

    def __init__(self, sim: SimulatorServer, client: hcloud.Client) -> None:
        self.sim, self.client = sim, client

    def server(self, name: str) -> BoundServer:
        server = self.client.servers.get_by_name(name)
        assert server is not None, name
        return server

    def status(self, name: str) -> str:
        return self.server(name).status

    def advance(self, seconds: float) -> None:
        self.sim.state.clock.advance(seconds)

    def action_status(self, action_id: int) -> str:
        return self.client.actions.get_by_id(action_id).status


@pytest.fixture
def fleet(sim: SimulatorServer, client: hcloud.Client) -> Fleet:
    return Fleet(sim, client)


def test_shutdown_succeeds_before_the_server_is_off(fleet: Fleet, client: hcloud.Client) -> None:
    action = client.servers.shutdown(fleet.server("vm"))
    assert (action.command, action.status) == ("shutdown_server", "running")
    assert fleet.status("vm") == "running"

    action.wait_until_finished()  # the ACPI signal was delivered; that is all
    assert action.status == "success"
    assert fleet.status("vm") == "stopping"

    fleet.advance(25)
    assert fleet.status("vm") == "stopping"
    fleet.advance(10)  # past the guest's 30 s shutdown
    assert fleet.status("vm") == "off"


def test_a_guest_that_ignores_acpi_keeps_running(fleet: Fleet, client: hcloud.Client) -> None:
    action = client.servers.shutdown(fleet.server("deaf"))
    action.wait_until_finished()
    assert action.status == "success"
    fleet.advance(3600)
    assert fleet.status("deaf") == "running"

    forced = client.servers.power_off(fleet.server("deaf"))
    fleet.advance(3.5)
    assert fleet.action_status(forced.id) == "success"
    assert fleet.status("deaf") == "off"


def test_the_shutdown_delay_may_be_a_range(fleet: Fleet, client: hcloud.Client) -> None:
    client.servers.shutdown(fleet.server("ranged"))
    fleet.advance(2.5 + 19)  # ACPI delivered, guest still inside its 20..40 s
    assert fleet.status("ranged") == "stopping"
    fleet.advance(21)
    assert fleet.status("ranged") == "off"


def test_poweroff_forces_the_server_off(fleet: Fleet, client: hcloud.Client) -> None:
    action = client.servers.power_off(fleet.server("vm"))
    assert (action.command, action.status) == ("stop_server", "running")
    fleet.advance(2)
    assert fleet.status("vm") == "running"
    fleet.advance(1.5)
    assert fleet.action_status(action.id) == "success"
    assert fleet.status("vm") == "off"


def test_poweron_goes_through_starting(fleet: Fleet, client: hcloud.Client) -> None:
    assert fleet.status("cold") == "off"
    action = client.servers.power_on(fleet.server("cold"))
    assert (action.command, action.status) == ("start_server", "running")
    assert fleet.status("cold") == "starting"
    fleet.advance(9)
    assert fleet.status("cold") == "starting"
    fleet.advance(1.5)
    assert fleet.action_status(action.id) == "success"
    assert fleet.status("cold") == "running"


def test_poweron_of_a_running_server_changes_nothing(fleet: Fleet, client: hcloud.Client) -> None:
    action = client.servers.power_on(fleet.server("vm"))
    assert fleet.status("vm") == "running"
    action.wait_until_finished()
    assert action.status == "success"
    assert fleet.status("vm") == "running"


def test_shutdown_of_an_off_server_keeps_it_off(fleet: Fleet, client: hcloud.Client) -> None:
    action = client.servers.shutdown(fleet.server("cold"))
    action.wait_until_finished()
    assert action.status == "success"
    fleet.advance(60)
    assert fleet.status("cold") == "off"


def test_reboot_locks_the_server_and_keeps_it_running(fleet: Fleet, client: hcloud.Client) -> None:
    action = client.servers.reboot(fleet.server("vm"))
    assert (action.command, action.status) == ("reboot_server", "running")
    with pytest.raises(APIException) as caught:
        client.servers.create_image(fleet.server("vm"))
    assert caught.value.code == "locked"
    assert fleet.status("vm") == "running"
    fleet.advance(15.5)
    assert fleet.action_status(action.id) == "success"
    assert fleet.status("vm") == "running"
    assert client.servers.create_image(fleet.server("vm")).action.status == "running"


def test_poweron_while_stopping_wins_over_the_guest(fleet: Fleet, client: hcloud.Client) -> None:
    client.servers.shutdown(fleet.server("vm"))
    fleet.advance(2.5)
    assert fleet.status("vm") == "stopping"
    client.servers.power_on(fleet.server("vm"))
    fleet.advance(10.5)
    assert fleet.status("vm") == "running"
    fleet.advance(60)  # the guest's halt, had it come, is overtaken
    assert fleet.status("vm") == "running"


def test_poweroff_while_stopping(fleet: Fleet, client: hcloud.Client) -> None:
    client.servers.shutdown(fleet.server("vm"))
    fleet.advance(2.5)
    client.servers.power_off(fleet.server("vm"))
    fleet.advance(3.5)
    assert fleet.status("vm") == "off"
    fleet.advance(60)
    assert fleet.status("vm") == "off"


def test_an_off_server_is_snapshotted_and_stays_off(fleet: Fleet, client: hcloud.Client) -> None:
    assert [s.name for s in client.servers.get_all(status=["off"])] == ["cold"]
    result = client.servers.create_image(fleet.server("cold"), description="consistent")
    result.action.wait_until_finished()
    assert client.images.get_by_id(result.image.id).status == "available"
    assert fleet.status("cold") == "off"


def test_the_full_cycle_shutdown_snapshot_poweron(fleet: Fleet, client: hcloud.Client) -> None:
    client.servers.shutdown(fleet.server("vm")).wait_until_finished()
    fleet.advance(31)
    assert fleet.status("vm") == "off"
    snapshot = client.servers.create_image(fleet.server("vm"))
    snapshot.action.wait_until_finished()
    start = client.servers.power_on(fleet.server("vm"))
    start.wait_until_finished()
    assert (start.status, fleet.status("vm")) == ("success", "running")
    assert client.images.get_by_id(snapshot.image.id).status == "available"


@pytest.mark.parametrize("verb", ["shutdown", "power_off", "power_on", "reboot"])
def test_power_actions_on_an_unknown_server(client: hcloud.Client, verb: str) -> None:
    ghost = BoundServer(client.servers, {"id": 4242}, complete=False)
    with pytest.raises(APIException) as caught:
        getattr(client.servers, verb)(ghost)
    assert (caught.value.code, caught.value.message) == (
        "not_found",
        "server with ID '4242' not found",
    )
