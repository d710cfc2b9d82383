"""Load balancers as the API is since 2026-10-05 (newer than the OpenAPI document, whose
responses tests/openapi_check.py brings up to date): deleting one answers an action, and one can
be created on existing Primary IPs, which it holds for its lifetime. SDK, raw HTTP, Go CLI.
"""

from __future__ import annotations

import hcloud
import pytest
from hcloud.load_balancers import LoadBalancerCreatePublicNetwork
from hcloud.locations import Location

from hcloud_sim import SimulatorServer
from tests.sim._api import RawApi, error_of
from tests.sim._gocli import Run, failed_requests
from tests.sim._lb import ACTION_S, create, lb_named


def test_delete_answers_an_action_the_sdk_waits_for(
    cloud: hcloud.Client, world: SimulatorServer, wire: RawApi
) -> None:
    lb = create(cloud, name="front")
    deleted = cloud.load_balancers.delete(lb)
    assert deleted.action.command == "delete_load_balancer"
    assert [r["id"] for r in deleted.action.resources] == [lb.id]
    # gone at once, as a deleted server is; the action then runs to its end
    assert world.state.ground_truth()["load_balancers"] == []
    assert error_of(wire.get(f"/load_balancers/{lb.id}"))[:2] == (404, "not_found")
    deleted.action.wait_until_finished()
    assert cloud.actions.get_by_id(deleted.action.id).status == "success"
    raw = wire.session.delete(f"{wire.url}/load_balancers/{lb.id}")
    assert error_of(raw)[:2] == (404, "not_found")


def test_delete_raw_status_is_200_with_the_action(wire: RawApi, cloud: hcloud.Client) -> None:
    lb = create(cloud)
    answer = wire.session.delete(f"{wire.url}/load_balancers/{lb.id}")
    assert answer.status_code == 200
    assert answer.json()["action"]["status"] == "running"
    assert answer.json()["action"]["command"] == "delete_load_balancer"


def _primary(cloud: hcloud.Client, kind: str, *, auto_delete: bool, location: str = "fsn1") -> int:
    made = cloud.primary_ips.create(
        type=kind, name=f"{kind}-{auto_delete}-{location}", location=Location(name=location)
    ).primary_ip
    if auto_delete:
        cloud.primary_ips.update(made, auto_delete=True)
    return made.id


def test_created_on_existing_primary_ips_and_released_on_delete(
    cloud: hcloud.Client, world: SimulatorServer, wire: RawApi
) -> None:
    keep = _primary(cloud, "ipv4", auto_delete=False)
    dies = _primary(cloud, "ipv6", auto_delete=True)
    v4, v6 = cloud.primary_ips.get_by_id(keep), cloud.primary_ips.get_by_id(dies)
    lb = create(cloud, public_net=LoadBalancerCreatePublicNetwork(ipv4=v4, ipv6=v6))
    assert lb.public_net.ipv4.ip == v4.ip
    assert lb.public_net.ipv4.primary_ip.id == keep
    assert lb.public_net.ipv6.primary_ip.id == dies
    assert lb.public_net.ipv6.ip.startswith(v6.ip.split("/")[0].rstrip(":"))
    held = cloud.primary_ips.get_by_id(keep)
    assert (held.assignee_type, held.assignee_id) == ("load_balancer", lb.id)
    # held for the load balancer's lifetime: no unassign, no delete, no second taker
    refused = wire.post(f"/primary_ips/{keep}/actions/unassign")
    assert error_of(refused)[:2] == (422, "invalid_input")
    assert error_of(wire.session.delete(f"{wire.url}/primary_ips/{keep}"))[:2] == (
        422,
        "must_be_unassigned",
    )
    body = {"name": "two", "load_balancer_type": "lb11", "location": "fsn1"}
    again = wire.post("/load_balancers", {**body, "public_net": {"ipv4": keep}})
    assert error_of(again)[:2] == (422, "primary_ip_assigned")
    cloud.load_balancers.delete(lb).action.wait_until_finished()
    left = {ip["id"]: ip for ip in world.state.ground_truth()["primary_ips"]}
    assert dies not in left  # auto_delete: gone with the load balancer
    assert (left[keep]["assignee_type"], left[keep]["assignee_id"]) == ("server", None)


def test_public_net_refusals_change_nothing(
    cloud: hcloud.Client, world: SimulatorServer, wire: RawApi
) -> None:
    v4 = _primary(cloud, "ipv4", auto_delete=False)
    elsewhere = _primary(cloud, "ipv4", auto_delete=False, location="nbg1")
    before = world.state.ground_truth()
    base = {"name": "lb", "load_balancer_type": "lb11", "location": "fsn1"}
    cases = [
        ({"ipv6": v4}, (412, "primary_ip_version_mismatch")),
        ({"ipv4": elsewhere}, (422, "primary_ip_datacenter_mismatch")),
        ({"ipv4": 999_999_999}, (422, "invalid_input")),
        ({"ipv4": "x"}, (422, "invalid_input")),
        ({"ipv5": v4}, (422, "invalid_input")),
        ([v4], (422, "invalid_input")),
    ]
    for public_net, expected in cases:
        answer = wire.post("/load_balancers", {**base, "public_net": public_net})
        assert error_of(answer)[:2] == expected, public_net
    after = world.state.ground_truth()
    assert after["load_balancers"] == before["load_balancers"] == []
    assert after["primary_ips"] == before["primary_ips"]


@pytest.mark.gocli
def test_go_cli_delete(hcloud: Run, fast_sim: SimulatorServer) -> None:
    hcloud("load-balancer", "create", "--name", "front", "--type", "lb11", "--location", "fsn1")
    assert lb_named(fast_sim, "front")
    out = hcloud("load-balancer", "delete", "front").stdout
    assert "deleted" in out
    assert fast_sim.state.ground_truth()["load_balancers"] == []
    assert not failed_requests(fast_sim)


def test_action_duration_is_the_projects(cloud: hcloud.Client, world: SimulatorServer) -> None:
    lb = create(cloud)
    action = cloud.load_balancers.delete(lb).action
    world.state.clock.advance(ACTION_S - 1)
    assert cloud.actions.get_by_id(action.id).status == "running"
    world.state.clock.advance(1)
    assert cloud.actions.get_by_id(action.id).status == "success"
