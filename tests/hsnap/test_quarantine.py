"""Quarantine against the simulator: drill servers and ``restore --as`` copies are cut off from the
world from their first boot (no IPv4, no network, hsnap's labels, hsnap's firewall); ``--open``
wires the copy like the original; hsnap's firewall is made once, re-used and kept while in use."""

from __future__ import annotations

from typing import Any

import hcloud
import pytest
from hcloud.firewalls import Firewall

from hcloud_sim import SimulatorServer
from hsnap.errors import ConfigError, HsnapError
from hsnap.events import ProgressEvent
from hsnap.restore.drill import DrillError, DrillOutcome, run_drill
from hsnap.restore.policy import drill_labels
from hsnap.restore.quarantine import FIREWALL_NAME, NOWHERE, RESTORED_FROM_LABEL
from hsnap.restore.restore import RestoreRequest, plan_restore, restore_new
from hsnap.restore.selection import DrillOptions, select_drills
from tests.conftest import SimFactory
from tests.hsnap.world import APP_1, RUN, SCALE, connect, on_event, requests_to, world

OURS = {"managed-by": "hsnap", "hsnap/server-id": str(APP_1)}
APPLY = "/firewalls/{id}/actions/apply_to_resources"


def _world() -> dict[str, Any]:
    """app-1 in a private network, behind a direct and a label-selected firewall, with labels."""
    return world(
        {"name": "app-1", "labels": {"env": "prod", "role": "web"}},
        images=[{"description": "nightly", "server": "app-1", "age": "1d", "labels": OURS}],
        networks=[
            {
                "name": "backend",
                "ip_range": "10.1.0.0/16",
                "subnets": [{"ip_range": "10.1.0.0/24"}],
                "servers": [{"name": "app-1", "ip": "10.1.0.5"}],
            }
        ],
        firewalls=[
            {"name": "ssh-admin", "rules": [_ssh("198.51.100.0/24")], "servers": ["app-1"]},
            {"name": "web", "rules": [_ssh("0.0.0.0/0")], "label_selectors": ["role=web"]},
        ],
    )


def _ssh(source: str) -> dict[str, Any]:
    return {"direction": "in", "protocol": "tcp", "port": "22", "source_ips": [source]}


@pytest.fixture
def sim(make_sim: SimFactory) -> SimulatorServer:
    return make_sim(_world(), time_scale=SCALE)


def _truth(sim: SimulatorServer, key: str) -> dict[str, dict[str, Any]]:
    return {x["name"]: x for x in sim.state.ground_truth()[key]}


def _quarantine(sim: SimulatorServer, name: str = FIREWALL_NAME) -> Firewall:
    client = hcloud.Client(token="sim-token", api_endpoint=sim.url)
    found = client.firewalls.get_by_name(name)
    assert found is not None, f"no firewall {name}"
    return found


def _drill(sim: SimulatorServer) -> DrillOutcome:
    cloud = connect(sim)
    [plan] = select_drills(cloud, DrillOptions(run_id=RUN, boot_timeout_s=600)).plans
    try:
        return run_drill(cloud, plan)
    except DrillError as exc:
        return exc.outcome


def _drill_server_seen(sim: SimulatorServer) -> list[dict[str, Any]]:
    """Drill once; the throwaway server as the ground truth and GET /servers/{id} show it the
    moment hsnap says it made it (before any later request of hsnap's could change it), and again
    when hsnap says it booted."""
    seen: list[dict[str, Any]] = []
    client = hcloud.Client(token="sim-token", api_endpoint=sim.url)

    def look(event: ProgressEvent) -> None:
        del event
        [truth] = [s for s in sim.state.ground_truth()["servers"] if s["name"] != "app-1"]
        seen.extend((truth, client.request("GET", f"/servers/{truth['id']}")["server"]))

    with (
        on_event(lambda e: "drill server" in e.detail, look),
        on_event(lambda e: "booted in" in e.detail, look),
    ):
        outcome = _drill(sim)
    assert outcome.result == "proven", outcome.error
    assert len(seen) == 4
    return seen


def test_a_drill_server_is_quarantined_from_its_first_boot(sim: SimulatorServer) -> None:
    seen = _drill_server_seen(sim)
    firewall = _quarantine(sim)
    for server in seen:
        assert server["public_net"]["ipv4"] is None
        assert server["private_net"] == []
        assert server["labels"] == drill_labels(RUN, APP_1)  # hsnap's only: no selector matches
    # as created, the firewall is already the server's (the create request carried it): pending
    # while its apply_firewall action runs, as the API shows it; applied by the time it runs
    assert [f["id"] for f in seen[0]["public_net"]["firewalls"]] == [firewall.id]
    for booted in seen[2:]:
        assert booted["public_net"]["firewalls"] == [{"id": firewall.id, "status": "applied"}]
    # the firewall came with the create request: nothing applied it afterwards
    assert requests_to(sim, "POST", APPLY) == 0
    assert firewall.labels == {"managed-by": "hsnap", "hsnap/quarantine": "none"}
    inbound = [r for r in firewall.rules or () if r.direction == "in"]
    outbound = [r for r in firewall.rules or () if r.direction == "out"]
    assert inbound == []  # nothing in
    assert [sorted(r.destination_ips or ()) for r in outbound] == [sorted(NOWHERE)]  # nothing out


def test_the_quarantine_firewall_is_made_once_and_kept(sim: SimulatorServer) -> None:
    assert _drill(sim).result == "proven"
    assert _drill(sim).result == "proven"
    assert requests_to(sim, "POST", "/firewalls") == 1  # made on first use, then re-used
    assert FIREWALL_NAME in _truth(sim, "firewalls")  # the drill server is gone, the firewall stays
    assert requests_to(sim, "DELETE", "/firewalls/{id}") == 0


def test_someone_elses_firewall_of_that_name_is_never_used(sim: SimulatorServer) -> None:
    client = hcloud.Client(token="sim-token", api_endpoint=sim.url)
    client.firewalls.create(name=FIREWALL_NAME, labels={"team": "ops"})  # type: ignore[arg-type]
    cloud = connect(sim)
    request = RestoreRequest(server="app-1", new_name="copy")
    with pytest.raises(ConfigError, match="exists and is not hsnap's"):
        restore_new(cloud, plan_restore(cloud, request))
    assert list(_truth(sim, "servers")) == ["app-1"]


def test_rules_changed_by_hand_are_put_back(sim: SimulatorServer) -> None:
    assert _drill(sim).result == "proven"
    client = hcloud.Client(token="sim-token", api_endpoint=sim.url)
    from hcloud.firewalls import FirewallRule  # noqa: PLC0415

    opened = FirewallRule(direction="in", protocol="tcp", port="80", source_ips=["0.0.0.0/0"])
    client.firewalls.set_rules(_quarantine(sim), [opened])
    assert _drill(sim).result == "proven"
    assert [r.direction for r in _quarantine(sim).rules or ()] == ["out"]


def test_restore_as_is_quarantined_by_default(sim: SimulatorServer) -> None:
    cloud = connect(sim)
    result = restore_new(cloud, plan_restore(cloud, RestoreRequest("app-1", new_name="copy")))
    made = _truth(sim, "servers")["copy"]
    firewall = _quarantine(sim)
    assert made["public_net"]["ipv4"] is None
    assert made["private_net"] == []
    assert made["labels"] == {RESTORED_FROM_LABEL: str(APP_1)}
    assert made["public_net"]["firewalls"] == [{"id": firewall.id, "status": "applied"}]
    assert (result.isolation, result.firewall_ids, result.ipv4) == (
        "quarantined",
        (firewall.id,),
        None,
    )
    assert requests_to(sim, "POST", APPLY) == 0


def test_allow_opens_ssh_from_those_ranges_only(sim: SimulatorServer) -> None:
    cloud = connect(sim)
    request = RestoreRequest("app-1", new_name="copy", allow=("203.0.113.7", "2001:db8::/64"))
    result = restore_new(cloud, plan_restore(cloud, request))
    assert result.allowed == ("2001:db8::/64", "203.0.113.7/32")
    [firewall_id] = result.firewall_ids
    firewall = next(f for f in _truth(sim, "firewalls").values() if f["id"] == firewall_id)
    assert firewall["name"].startswith(f"{FIREWALL_NAME}-ssh-")
    inbound = [r for r in firewall["rules"] if r["direction"] == "in"]
    assert inbound == [
        {
            "description": "hsnap quarantine: SSH from --allow",
            "direction": "in",
            "protocol": "tcp",
            "port": "22",
            "source_ips": ["2001:db8::/64", "203.0.113.7/32"],
            "destination_ips": [],
        }
    ]
    assert [r["direction"] for r in firewall["rules"]].count("out") == 1


def test_open_wires_the_copy_like_the_original_with_new_addresses(sim: SimulatorServer) -> None:
    cloud = connect(sim)
    request = RestoreRequest("app-1", new_name="copy", quarantine=False)
    result = restore_new(cloud, plan_restore(cloud, request))
    servers = _truth(sim, "servers")
    made, original = servers["copy"], servers["app-1"]
    firewalls = _truth(sim, "firewalls")
    assert made["labels"] == {"env": "prod", "role": "web"}
    assert [n["network"] for n in made["private_net"]] == [
        n["network"] for n in original["private_net"]
    ]
    assert made["private_net"][0]["ip"] != "10.1.0.5"  # not its addresses
    assert made["public_net"]["ipv4"]["ip"] != original["public_net"]["ipv4"]["ip"]
    assert {f["id"] for f in made["public_net"]["firewalls"]} == {
        firewalls["ssh-admin"]["id"],  # applied directly, in the create request
        firewalls["web"]["id"],  # by its label selector, through the copied labels
    }
    assert result.isolation == "open"
    assert FIREWALL_NAME not in firewalls


@pytest.mark.parametrize(
    ("request_fields", "message"),
    [
        ({"new_name": "copy", "allow": ("300.1.2.3",)}, "is not an address or CIDR range"),
        ({"new_name": "copy", "allow": ("10.0.0.0/8",), "quarantine": False}, "not --open"),
        ({"in_place": True, "allow": ("10.0.0.0/8",)}, "only with --as"),
    ],
)
def test_bad_allow_is_refused_with_the_request(
    request_fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):  # before any request reaches the API
        RestoreRequest("app-1", **request_fields)


def test_a_read_only_token_makes_no_firewall_and_no_server(make_sim: SimFactory) -> None:
    spec = _world()
    spec["projects"][0]["tokens"] = [{"token": "ro", "readonly": True}]
    sim = make_sim(spec, time_scale=SCALE)
    cloud = connect(sim, token="ro")
    with pytest.raises(HsnapError, match="read-only") as caught:
        restore_new(cloud, plan_restore(cloud, RestoreRequest("app-1", new_name="copy")))
    assert caught.value.code == "token_readonly"
    assert list(_truth(sim, "servers")) == ["app-1"]
    assert FIREWALL_NAME not in _truth(sim, "firewalls")


def test_two_drills_making_the_firewall_at_once_share_one(
    sim: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other drill made it between our look and our create: names are unique, so our create
    is refused (uniqueness_error) and theirs is used."""
    from hsnap.cloud import ties  # noqa: PLC0415
    from hsnap.restore import quarantine  # noqa: PLC0415

    cloud = connect(sim)
    theirs = quarantine.ensure_firewall(cloud)
    looks: list[str] = []

    def first_look_misses(cloud_: Any, name: str) -> Any:
        looks.append(name)
        return None if len(looks) == 1 else ties.find_firewall(cloud_, name)

    monkeypatch.setattr(quarantine, "find_firewall", first_look_misses)
    assert quarantine.ensure_firewall(cloud) == theirs
    assert requests_to(sim, "POST", "/firewalls", 409) == 1
    assert [f["name"] for f in _truth(sim, "firewalls").values()].count(FIREWALL_NAME) == 1
