"""Scenario servers in any status Hetzner shows, and how the transitional ones move on."""

from __future__ import annotations

from typing import Any

import hcloud
import pytest

from hcloud_sim.scenarios import ScenarioError, load_scenario
from tests.conftest import ClientFactory, SimFactory

STATUSES = ["running", "off", "unknown", "initializing", "starting", "stopping", "rebuilding",
            "migrating", "deleting"]  # fmt: skip
#: status -> (command of the action holding the lock, status once it ended; None: deleted)
MOVES_ON: dict[str, tuple[str | None, str | None]] = {
    "initializing": ("create_server", "running"),
    "starting": ("start_server", "running"),
    "rebuilding": ("rebuild_server", "running"),
    "migrating": ("change_server_type", "running"),
    "deleting": ("delete_server", None),
    "stopping": (None, "off"),
}


DURATIONS = {"create_server": 30, "start_server": 10, "rebuild_server": 60,
             "change_server_type": 120, "delete_server": 5}  # fmt: skip


def _fleet(**extra: Any) -> dict[str, Any]:
    return {
        "projects": [
            {
                "action_durations": {
                    "create_server": 30,
                    "start_server": 10,
                    "rebuild_server": 60,
                    "change_server_type": 120,
                    "delete_server": 5,
                },
                "servers": [
                    {"name": status, "status": status, "shutdown_delay": 8, **extra}
                    for status in STATUSES
                ],
            }
        ]
    }


def _statuses(client: hcloud.Client) -> dict[str, str]:
    return {s.name: s.status for s in client.servers.get_all()}


def _running_commands(client: hcloud.Client) -> dict[str, list[str]]:
    return {
        s.name: [a.command for a in client.servers.get_actions(s, status=["running"])]
        for s in client.servers.get_all()
    }


def test_every_status_can_start_a_scenario_and_transitions_move_on(
    make_sim: SimFactory, make_client: ClientFactory
) -> None:
    sim = make_sim(_fleet(), time_scale=1)
    client = make_client(sim)
    assert _statuses(client) == {status: status for status in STATUSES}
    deleting = client.servers.get_by_name("deleting")
    holders = _running_commands(client)
    for status in STATUSES:
        command = MOVES_ON.get(status, (None, None))[0]
        assert holders[status] == ([command] if command else []), status
    with pytest.raises(hcloud.APIException) as err:  # the lock is real
        client.servers.create_image(client.servers.get_by_name("rebuilding"), description="x")
    assert err.value.code == "locked"

    sim.state.clock.advance(121)

    after = _statuses(client)
    expected = {
        status: MOVES_ON[status][1] if status in MOVES_ON else status for status in STATUSES
    }
    assert after == {name: status for name, status in expected.items() if status is not None}
    assert sim.state.ground_truth()["deleted_servers"] == [deleting.id]
    assert all(not commands for commands in _running_commands(client).values())


def test_each_transition_takes_its_commands_duration(
    make_sim: SimFactory, make_client: ClientFactory
) -> None:
    sim = make_sim(_fleet(), time_scale=1)
    client = make_client(sim)
    sim.state.clock.advance(59)
    assert _statuses(client)["rebuilding"] == "rebuilding"
    assert _statuses(client)["initializing"] == "running"  # 30 s
    sim.state.clock.advance(2)
    assert _statuses(client)["rebuilding"] == "running"  # 60 s
    assert _statuses(client)["migrating"] == "migrating"  # 120 s


def test_status_duration_null_keeps_the_status(
    make_sim: SimFactory, make_client: ClientFactory
) -> None:
    sim = make_sim(_fleet(status_duration=None), time_scale=1)
    client = make_client(sim)
    sim.state.clock.advance(365 * 86400)
    assert _statuses(client) == {status: status for status in STATUSES}
    assert _running_commands(client)["migrating"] == ["change_server_type"]


def test_status_duration_overrides_the_default(
    make_sim: SimFactory, make_client: ClientFactory
) -> None:
    sim = make_sim(_fleet(status_duration=300), time_scale=1)
    client = make_client(sim)
    sim.state.clock.advance(299)
    assert _statuses(client)["starting"] == "starting"
    assert _statuses(client)["stopping"] == "stopping"
    sim.state.clock.advance(2)
    assert (_statuses(client)["starting"], _statuses(client)["stopping"]) == ("running", "off")


def test_a_transitional_status_and_a_running_action_are_refused() -> None:
    server = {"name": "a", "status": "rebuilding", "running_actions": [{"command": "reboot"}]}
    spec = {"projects": [{"servers": [server]}]}
    with pytest.raises(ScenarioError, match=r"status 'rebuilding' brings its own running action"):
        load_scenario(spec)


def test_an_unknown_status_lists_hetzners() -> None:
    with pytest.raises(ScenarioError, match=r"servers\.0\.status: Input should be 'running'"):
        load_scenario({"projects": [{"servers": [{"name": "a", "status": "sleeping"}]}]})
