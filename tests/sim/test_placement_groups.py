"""Placement groups through the real SDK, raw HTTP for bad input, and the official Go CLI.

A spread group holds at most ten servers; a server joins at create or, while it is off, through
add_to_placement_group; it leaves when it is removed or deleted.
"""

from __future__ import annotations

from typing import Any

import hcloud
import pytest
from hcloud import APIException
from hcloud.images import Image
from hcloud.placement_groups import PlacementGroup
from hcloud.server_types import ServerType
from hcloud.servers import BoundServer

from hcloud_sim import SimulatorServer
from hcloud_sim.scenarios import ScenarioError, load_scenario
from tests.conftest import ClientFactory, SimFactory
from tests.openapi_check import ExchangeValidator
from tests.sim._api import RawApi, clock_stepping, error_of
from tests.sim._gocli import Run, failed_requests, server_named

WORLD: dict[str, Any] = {
    "name": "placement",
    "projects": [
        {
            "name": "pg",
            "action_durations": {
                "add_to_placement_group": 2,
                "remove_from_placement_group": 2,
                "create_server": 5,
                "start_server": 5,
                "stop_server": 3,
            },
            "servers": [
                {"name": "node-{i}", "count": 10, "labels": {"role": "node"}},
                {"name": "spare-1", "status": "off"},
                {"name": "spare-2"},
            ],
            "placement_groups": [
                {
                    "name": "full",
                    "labels": {"tier": "nodes"},
                    "servers": [f"node-{i}" for i in range(1, 11)],
                },
                {"name": "empty"},
            ],
        }
    ],
}


@pytest.fixture
def pg_sim(make_sim: SimFactory) -> SimulatorServer:
    return make_sim(WORLD, time_scale=1)


@pytest.fixture
def pgs(pg_sim: SimulatorServer, make_client: ClientFactory) -> hcloud.Client:
    return make_client(pg_sim, poll_interval=clock_stepping(pg_sim, 2.0))


@pytest.fixture
def raw(pg_sim: SimulatorServer, schema_check: ExchangeValidator) -> RawApi:
    return RawApi(pg_sim, schema_check)


def _server(client: hcloud.Client, name: str) -> BoundServer:
    server = client.servers.get_by_name(name)
    assert server is not None
    return server


def _group(client: hcloud.Client, name: str) -> Any:
    group = client.placement_groups.get_by_name(name)
    assert group is not None
    return group


def _refused(call: Any, code: str) -> APIException:
    with pytest.raises(APIException) as caught:
        call()
    assert caught.value.code == code, caught.value
    return caught.value


def _group_of(client: hcloud.Client, name: str) -> str | None:
    group = _server(client, name).placement_group
    return None if group is None else group.name


def test_seeded_groups_list_their_servers_and_servers_show_their_group(
    pgs: hcloud.Client,
) -> None:
    full = _group(pgs, "full")
    assert full.type == "spread"
    assert full.labels == {"tier": "nodes"}
    assert sorted(full.servers) == sorted(s.id for s in pgs.servers.get_all(label_selector="role"))
    assert _group_of(pgs, "node-3") == "full"
    assert _group_of(pgs, "spare-1") is None
    assert [g.name for g in pgs.placement_groups.get_all(label_selector="tier=nodes")] == ["full"]
    listed = pgs.placement_groups.get_list(type="spread", sort=["name:desc"])
    assert [g.name for g in listed.placement_groups] == ["full", "empty"]


def test_create_update_delete(pgs: hcloud.Client) -> None:
    created = pgs.placement_groups.create(name="db", type="spread", labels={"a": "b"})
    assert created.action is None
    group = created.placement_group
    assert (group.name, group.type, group.servers) == ("db", "spread", [])
    _refused(lambda: pgs.placement_groups.create(name="db", type="spread"), "uniqueness_error")
    updated = pgs.placement_groups.update(group, name="db-2", labels={"c": "d"})
    assert (updated.name, updated.labels) == ("db-2", {"c": "d"})
    pgs.placement_groups.delete(group)
    assert pgs.placement_groups.get_by_name("db-2") is None


def test_joining_and_leaving_needs_the_server_off(pgs: hcloud.Client) -> None:
    empty = _group(pgs, "empty")
    running = _server(pgs, "spare-2")
    error = _refused(
        lambda: pgs.servers.add_to_placement_group(running, empty), "server_not_stopped"
    )
    assert error.message == "server must be stopped"
    assert _group_of(pgs, "spare-2") is None

    off = _server(pgs, "spare-1")
    action = pgs.servers.add_to_placement_group(off, empty)
    assert action.command == "add_to_placement_group"
    _refused(lambda: pgs.servers.power_on(off), "locked")  # the action holds the server's lock
    action.wait_until_finished()
    assert _group_of(pgs, "spare-1") == "empty"
    assert _group(pgs, "empty").servers == [off.id]
    _refused(
        lambda: pgs.servers.add_to_placement_group(off, _group(pgs, "full")),
        "already_in_placement_group",
    )
    pgs.servers.remove_from_placement_group(off).wait_until_finished()
    assert _group_of(pgs, "spare-1") is None
    assert _group(pgs, "empty").servers == []


def test_a_spread_group_holds_ten_servers(pgs: hcloud.Client) -> None:
    full = _group(pgs, "full")
    error = _refused(
        lambda: pgs.servers.add_to_placement_group(_server(pgs, "spare-1"), full),
        "placement_group_member_limit_reached",
    )
    assert error.message == f"placement group with ID {full.id} contains already 10 servers"
    _refused(
        lambda: pgs.servers.create(
            name="node-11",
            server_type=ServerType(name="cx22"),
            image=Image(name="ubuntu-24.04"),
            placement_group=PlacementGroup(id=full.id),
        ),
        "placement_group_member_limit_reached",
    )
    assert pgs.servers.get_by_name("node-11") is None
    # a deleted server leaves its group, which has room again
    pgs.servers.delete(_server(pgs, "node-1"))
    assert len(_group(pgs, "full").servers) == 9
    created = pgs.servers.create(
        name="node-11",
        server_type=ServerType(name="cx22"),
        image=Image(name="ubuntu-24.04"),
        placement_group=PlacementGroup(id=full.id),
    )
    assert created.server.placement_group is not None
    assert created.server.placement_group.id == full.id
    assert created.server.id in _group(pgs, "full").servers


def test_deleting_a_group_frees_its_servers(pgs: hcloud.Client) -> None:
    pgs.placement_groups.delete(_group(pgs, "full"))
    assert _group_of(pgs, "node-1") is None


# -- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "spread"}, "name"),
        ({"name": "x"}, "type"),
        ({"name": "x", "type": "cluster"}, "type"),
        ({"name": 5, "type": "spread"}, "name"),
        ({"name": "x", "type": "spread", "labels": ["a"]}, "labels"),
        ({"name": "x", "type": "spread", "servers": [1]}, "servers"),
    ],
)
def test_bad_group_bodies_are_refused_and_change_nothing(
    raw: RawApi, pg_sim: SimulatorServer, body: dict[str, Any], field: str
) -> None:
    response = raw.post("/placement_groups", body)
    assert error_of(response)[:2] == (422, "invalid_input")
    assert response.json()["error"]["details"]["fields"][0]["name"] == field
    assert len(pg_sim.state.ground_truth()["placement_groups"]) == 2


def test_bad_references(raw: RawApi, pgs: hcloud.Client, pg_sim: SimulatorServer) -> None:
    off = _server(pgs, "spare-1")
    assert error_of(raw.get("/placement_groups/999999"))[:2] == (404, "not_found")
    assert error_of(raw.get("/placement_groups/x"))[:2] == (422, "invalid_input")
    bad = raw.get("/placement_groups", {"label_selector": "tier in (a"})
    assert error_of(bad)[:2] == (422, "invalid_input")
    assert error_of(raw.get("/placement_groups", {"type": "cluster"}))[:2] == (422, "invalid_input")
    add = f"/servers/{off.id}/actions/add_to_placement_group"
    assert error_of(raw.post(add, {"placement_group": "empty"}))[:2] == (422, "invalid_input")
    assert error_of(raw.post(add, {}))[:2] == (422, "invalid_input")
    # a server's id is not a placement group's
    assert error_of(raw.post(add, {"placement_group": off.id}))[:2] == (404, "not_found")
    remove = f"/servers/{off.id}/actions/remove_from_placement_group"
    assert error_of(raw.post(remove))[:2] == (422, "invalid_input")
    create = raw.post(
        "/servers",
        {"name": "x", "server_type": "cx22", "image": "ubuntu-24.04", "placement_group": 999},
    )
    assert error_of(create)[:2] == (422, "invalid_input")
    assert "x" not in {s["name"] for s in pg_sim.state.ground_truth()["servers"]}
    assert _group_of(pgs, "spare-1") is None


# -- the official Go CLI ---------------------------------------------------------------------------


@pytest.mark.gocli
def test_go_cli_creates_a_group_and_a_server_in_it_and_a_network(
    hcloud: Run, fast_sim: SimulatorServer
) -> None:
    out = hcloud("placement-group", "create", "--name", "spread-1", "--type", "spread")
    group = next(g for g in fast_sim.state.ground_truth()["placement_groups"])
    assert f"Placement group {group['id']} created" in out.stdout
    hcloud("network", "create", "--name", "lan", "--ip-range", "10.7.0.0/16")
    hcloud("network", "add-subnet", "lan", "--type", "cloud", "--network-zone", "eu-central")
    hcloud(
        "server", "create", "--name", "spread-web", "--type", "cx22", "--image", "ubuntu-24.04",
        "--location", "fsn1", "--network", "lan", "--placement-group", "spread-1",
    )  # fmt: skip
    server = server_named(fast_sim, "spread-web")
    assert server["placement_group"]["name"] == "spread-1"
    # add-subnet without a range took the network's first /24; 10.7.0.1 is the gateway
    assert server["private_net"][0]["ip"] == "10.7.0.2"
    (group,) = fast_sim.state.ground_truth()["placement_groups"]
    assert group["servers"] == [server["id"]]
    listed = hcloud("placement-group", "list", "-o", "columns=name,servers").stdout
    assert "spread-1" in listed
    assert not failed_requests(fast_sim)


@pytest.mark.parametrize(
    ("groups", "problem"),
    [
        ([{"name": "g", "servers": ["nope"]}], "placement group 'g': no server 'nope'"),
        (
            [{"name": "g", "servers": ["n-1"]}, {"name": "h", "servers": ["n-1"]}],
            "server 'n-1' is in placement groups 'g' and 'h'",
        ),
        ([{"name": "g", "servers": [f"n-{i}" for i in range(1, 12)]}], "at most 10 servers"),
        ([{"name": "g", "type": "cluster"}], "type: Input should be 'spread'"),
    ],
)
def test_a_scenario_with_impossible_groups_fails_at_load(
    groups: list[dict[str, Any]], problem: str
) -> None:
    scenario = {
        "projects": [
            {"servers": [{"name": "n-{i}", "count": 11}], "placement_groups": groups},
        ],
    }
    with pytest.raises(ScenarioError) as caught:
        load_scenario(scenario)
    assert problem in str(caught.value)
