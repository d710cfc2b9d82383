"""Firewalls: rules, applied to servers directly and by label selector, through the SDK, raw HTTP
and the official Go CLI. Every response is checked against the OpenAPI document.

The restore world runs at 1x; tests move its clock, so ``pending`` (while ``apply_firewall``
runs, 5 simulated seconds) and ``applied`` are each seen at a known time.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import hcloud
import pytest
from hcloud import APIException
from hcloud.firewalls import (
    Firewall,
    FirewallResource,
    FirewallResourceLabelSelector,
    FirewallRule,
)
from hcloud.images import Image
from hcloud.server_types import ServerType
from hcloud.servers import Server, ServerCreatePublicNetwork

from hcloud_sim import SimulatorServer
from hcloud_sim.scenarios import ScenarioError, load_scenario
from tests.conftest import ClientFactory, SimFactory
from tests.sim._api import RawApi, error_of
from tests.sim._gocli import Run, failed_requests, server_named
from tests.sim._restore import APP_1, ARM_1, BIG_1, NIGHTLY, RESTORE

APPLY_S = 5  # the project's default duration of apply_firewall / remove_firewall
SSH = FirewallRule(
    direction="in", protocol="tcp", port="22", source_ips=["0.0.0.0/0", "::/0"], description="ssh"
)


def _on_server(world: SimulatorServer, server_id: int) -> list[dict[str, Any]]:
    server = next(s for s in world.state.ground_truth()["servers"] if s["id"] == server_id)
    firewalls: list[dict[str, Any]] = server["public_net"]["firewalls"]
    return firewalls


def _firewall(world: SimulatorServer, name: str) -> dict[str, Any]:
    return next(f for f in world.state.ground_truth()["firewalls"] if f["name"] == name)


def _by_server(fid: int) -> FirewallResource:
    return FirewallResource(type="server", server=Server(id=fid))


def _by_label(selector: str) -> FirewallResource:
    return FirewallResource(
        type="label_selector", label_selector=FirewallResourceLabelSelector(selector=selector)
    )


def test_applied_to_a_server_and_a_label_selector_pending_then_applied(
    cloud: hcloud.Client, world: SimulatorServer
) -> None:
    cloud.servers.update(Server(id=BIG_1), labels={"tier": "web"})
    created = cloud.firewalls.create(
        name="web", rules=[SSH], resources=[_by_server(APP_1), _by_label("tier=web")]
    )
    firewall = created.firewall
    assert [a.command for a in created.actions] == ["apply_firewall", "apply_firewall"]
    assert firewall.rules[0].description == "ssh"
    assert firewall.rules[0].source_ips == ["0.0.0.0/0", "::/0"]
    applied = {r.type: r for r in firewall.applied_to}
    assert applied["server"].server.id == APP_1
    assert applied["label_selector"].label_selector.selector == "tier=web"
    assert [r.server.id for r in applied["label_selector"].applied_to_resources] == [BIG_1]
    # while apply_firewall runs, the servers show it pending
    assert _on_server(world, APP_1) == [{"id": firewall.id, "status": "pending"}]
    assert _on_server(world, BIG_1) == [{"id": firewall.id, "status": "pending"}]
    assert _on_server(world, ARM_1) == []
    world.state.clock.advance(APPLY_S)
    server = cloud.servers.get_by_id(APP_1)
    assert [(f.firewall.id, f.status) for f in server.public_net.firewalls] == [
        (firewall.id, "applied")
    ]
    assert _on_server(world, BIG_1) == [{"id": firewall.id, "status": "applied"}]
    actions = cloud.firewalls.get_actions_list(firewall).actions
    assert [(a.command, a.status) for a in actions] == [("apply_firewall", "success")] * 2


def test_a_label_selector_follows_servers_created_and_relabelled_later(
    cloud: hcloud.Client, world: SimulatorServer
) -> None:
    firewall = cloud.firewalls.create(name="prod", resources=[_by_label("env=prod")]).firewall
    world.state.clock.advance(APPLY_S)
    assert _on_server(world, APP_1) == [{"id": firewall.id, "status": "applied"}]
    new = cloud.servers.create(
        name="late-1",
        server_type=ServerType(name="cx22"),
        image=Image(id=NIGHTLY),
        labels={"env": "prod"},
    ).server
    # a server created into the selector goes through apply_firewall like any other
    assert _on_server(world, new.id) == [{"id": firewall.id, "status": "pending"}]
    world.state.clock.advance(APPLY_S)
    assert _on_server(world, new.id) == [{"id": firewall.id, "status": "applied"}]
    cloud.servers.update(Server(id=APP_1), labels={"env": "dev"})
    assert _on_server(world, APP_1) == []
    cloud.servers.update(Server(id=ARM_1), labels={"env": "prod"})
    # relabelled into the selector: apply_firewall runs on it too (pending, then applied)
    assert _on_server(world, ARM_1) == [{"id": firewall.id, "status": "pending"}]
    world.state.clock.advance(APPLY_S)
    assert _on_server(world, ARM_1) == [{"id": firewall.id, "status": "applied"}]
    cloud.servers.update(Server(id=ARM_1), labels={"env": "prod", "tier": "x"})
    assert _on_server(world, ARM_1) == [{"id": firewall.id, "status": "applied"}]  # still in
    selector = cloud.firewalls.get_by_id(firewall.id).applied_to[0]
    assert {r.server.id for r in selector.applied_to_resources} == {ARM_1, new.id}
    # a label-selected firewall cannot be taken off one server, only off the selector
    with pytest.raises(APIException) as refused:
        cloud.firewalls.remove_from_resources(firewall, [_by_server(ARM_1)])
    assert refused.value.code == "firewall_managed_by_label_selector"
    for action in cloud.firewalls.remove_from_resources(firewall, [_by_label("env=prod")]):
        action.wait_until_finished()
    assert _on_server(world, ARM_1) == []
    assert cloud.firewalls.get_by_id(firewall.id).applied_to == []


def test_set_rules_replaces_them_and_reapplies(
    cloud: hcloud.Client, world: SimulatorServer
) -> None:
    firewall = cloud.firewalls.create(name="fw", rules=[SSH], resources=[_by_server(APP_1)])
    world.state.clock.advance(APPLY_S)
    rules = [
        FirewallRule(direction="in", protocol="icmp", source_ips=["192.0.2.0/24"]),
        FirewallRule(
            direction="out", protocol="udp", port="1000-2000", destination_ips=["2001:db8::/32"]
        ),
    ]
    actions = cloud.firewalls.set_rules(firewall.firewall, rules)
    assert [a.command for a in actions] == ["set_firewall_rules", "apply_firewall"]
    assert _on_server(world, APP_1)[0]["status"] == "pending"
    got = cloud.firewalls.get_by_id(firewall.firewall.id).rules
    assert [(r.direction, r.protocol, r.port) for r in got] == [
        ("in", "icmp", None),
        ("out", "udp", "1000-2000"),
    ]
    assert (got[0].destination_ips, got[1].source_ips) == ([], [])
    for action in actions:
        action.wait_until_finished()
    assert _on_server(world, APP_1)[0]["status"] == "applied"


def test_delete_is_refused_while_applied_and_a_deleted_server_leaves(
    cloud: hcloud.Client, world: SimulatorServer, wire: RawApi
) -> None:
    firewall = cloud.firewalls.create(name="fw", resources=[_by_server(APP_1)]).firewall
    refused = wire.session.delete(f"{wire.url}/firewalls/{firewall.id}")
    assert error_of(refused) == (
        422,
        "resource_in_use",
        f"firewall with ID '{firewall.id}' is still in use",
    )
    cloud.servers.delete(Server(id=APP_1))
    assert _firewall(world, "fw")["applied_to"] == []
    assert cloud.firewalls.delete(firewall) is True
    assert world.state.ground_truth()["firewalls"] == []


def test_remove_from_a_server_takes_effect_when_its_action_ends(
    cloud: hcloud.Client, world: SimulatorServer
) -> None:
    firewall = cloud.firewalls.create(name="fw", resources=[_by_server(APP_1)]).firewall
    world.state.clock.advance(APPLY_S)
    (action,) = cloud.firewalls.remove_from_resources(firewall, [_by_server(APP_1)])
    assert action.command == "remove_firewall"
    assert _on_server(world, APP_1) == [{"id": firewall.id, "status": "applied"}]
    action.wait_until_finished()
    assert _on_server(world, APP_1) == []
    with pytest.raises(APIException) as again:
        cloud.firewalls.remove_from_resources(firewall, [_by_server(APP_1)])
    assert again.value.code == "firewall_already_removed"


def test_server_create_applies_its_firewalls(cloud: hcloud.Client, world: SimulatorServer) -> None:
    firewall = cloud.firewalls.create(name="fw", rules=[SSH]).firewall
    servers_before = len(world.state.ground_truth()["servers"])
    # no public interface, nothing a firewall could guard: the API refuses the whole request
    with pytest.raises(APIException) as refused:
        cloud.servers.create(
            name="private",
            server_type=ServerType(name="cx22"),
            image=Image(id=NIGHTLY),
            firewalls=[Firewall(id=firewall.id)],
            public_net=ServerCreatePublicNetwork(enable_ipv4=False, enable_ipv6=False),
        )
    assert refused.value.code == "private_net_only_server"
    assert len(world.state.ground_truth()["servers"]) == servers_before
    assert _firewall(world, "fw")["applied_to"] == []
    # one public address is enough
    half = cloud.servers.create(
        name="v6-only",
        server_type=ServerType(name="cx22"),
        image=Image(id=NIGHTLY),
        firewalls=[Firewall(id=firewall.id)],
        public_net=ServerCreatePublicNetwork(enable_ipv4=False, enable_ipv6=True),
    ).server
    assert [f.firewall.id for f in half.public_net.firewalls] == [firewall.id]
    cloud.servers.delete(half)
    server = cloud.servers.create(
        name="guarded",
        server_type=ServerType(name="cx22"),
        image=Image(id=NIGHTLY),
        firewalls=[Firewall(id=firewall.id)],
    ).server
    assert [(f.firewall.id, f.status) for f in server.public_net.firewalls] == [
        (firewall.id, "pending")
    ]
    assert _firewall(world, "fw")["applied_to"] == [{"type": "server", "server": {"id": server.id}}]


def test_list_filters_sorts_and_updates(cloud: hcloud.Client) -> None:
    for name, env in (("b", "prod"), ("a", "dev"), ("c", "prod")):
        cloud.firewalls.create(name=name, labels={"env": env})
    assert [f.name for f in cloud.firewalls.get_all(sort=["name:desc"])] == ["c", "b", "a"]
    assert [f.name for f in cloud.firewalls.get_all(label_selector="env=prod")] == ["b", "c"]
    found = cloud.firewalls.get_by_name("a")
    assert found is not None
    updated = cloud.firewalls.update(found, name="a2", labels={"env": "qa"})
    assert (updated.name, updated.labels) == ("a2", {"env": "qa"})
    with pytest.raises(APIException) as taken:
        cloud.firewalls.update(found, name="b")
    assert taken.value.code == "uniqueness_error"


def _rule(**fields: Any) -> dict[str, Any]:
    return {
        "direction": "in",
        "protocol": "tcp",
        "port": "80",
        "source_ips": ["0.0.0.0/0"],
        **fields,
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rules": [_rule(source_ips=["10.0.0.0/33"])]}, "rules.0.source_ips.0"),
        ({"rules": [_rule(source_ips=["10.0.0.1/8"])]}, "rules.0.source_ips.0"),
        ({"rules": [_rule(source_ips=["10.0.0.1"])]}, "rules.0.source_ips.0"),
        ({"rules": [_rule(source_ips=[])]}, "rules.0.source_ips"),
        ({"rules": [_rule(protocol="icmp")]}, "rules.0.port"),
        ({"rules": [_rule(port="70000")]}, "rules.0.port"),
        ({"rules": [_rule(port="90-80")]}, "rules.0.port"),
        ({"rules": [_rule(protocol="sctp")]}, "rules.0.protocol"),
        ({"rules": [_rule(direction="sideways")]}, "rules.0.direction"),
        ({"rules": [_rule(colour="red")]}, "rules.0.colour"),
        ({"rules": "all"}, "rules"),
        ({"apply_to": [{"type": "label_selector", "label_selector": {"selector": "env in (a"}}]},
         "apply_to.0.label_selector.selector"),
        ({"apply_to": [{"type": "server", "server": {"id": "one"}}]}, "apply_to.0.server.id"),
        ({"apply_to": [{"type": "volume"}]}, "apply_to.0.type"),
    ],
)  # fmt: skip
def test_bad_bodies_are_refused_and_change_nothing(
    wire: RawApi, world: SimulatorServer, body: dict[str, Any], field: str
) -> None:
    created = wire.post("/firewalls", {"name": "new", **body})
    status, code, message = error_of(created)
    assert (status, code) == (422, "invalid_input")
    assert f"'{field}'" in message
    assert created.json()["error"]["details"]["fields"][0]["name"] == field
    existing = wire.post("/firewalls", {"name": "kept", "rules": [_rule()]}).json()["firewall"]
    if "rules" in body:
        refused = wire.post(f"/firewalls/{existing['id']}/actions/set_rules", body)
        assert error_of(refused)[:2] == (422, "invalid_input")
    assert [f["name"] for f in world.state.ground_truth()["firewalls"]] == ["kept"]
    assert _firewall(world, "kept")["rules"] == existing["rules"]


def test_unknown_ids_and_ids_of_another_kind(wire: RawApi, world: SimulatorServer) -> None:
    fid = wire.post("/firewalls", {"name": "fw"}).json()["firewall"]["id"]
    apply = f"/firewalls/{fid}/actions/apply_to_resources"
    for server_id in (999_999, NIGHTLY):  # an image's id is no server's
        refused = wire.post(apply, {"apply_to": [{"type": "server", "server": {"id": server_id}}]})
        assert error_of(refused) == (
            404,
            "firewall_resource_not_found",
            f"server with ID '{server_id}' not found",
        )
    for firewall_id in (1_299_999, APP_1):  # a server's id is no firewall's
        assert error_of(wire.get(f"/firewalls/{firewall_id}")) == (
            404,
            "not_found",
            f"firewall with ID '{firewall_id}' not found",
        )
    created = wire.post(
        "/servers",
        {"name": "x", "server_type": "cx22", "image": NIGHTLY, "firewalls": [{"firewall": APP_1}]},
    )
    assert error_of(created)[:2] == (404, "not_found")
    assert error_of(wire.get("/firewalls", {"label_selector": "env in (a"}))[:2] == (
        422,
        "invalid_input",
    )
    assert _firewall(world, "fw")["applied_to"] == []
    assert "x" not in {s["name"] for s in world.state.ground_truth()["servers"]}


def test_actions_endpoints(cloud: hcloud.Client, wire: RawApi) -> None:
    created = cloud.firewalls.create(name="fw", resources=[_by_server(APP_1)])
    (action,) = created.actions
    assert cloud.firewalls.actions.get_by_id(action.id).command == "apply_firewall"
    listed = wire.get("/firewalls/actions", {"status": "running"}).json()["actions"]
    assert [a["id"] for a in listed] == [action.id]
    one = wire.get(f"/firewalls/{created.firewall.id}/actions/{action.id}").json()["action"]
    assert one["resources"] == [
        {"id": created.firewall.id, "type": "firewall"},
        {"id": APP_1, "type": "server"},
    ]


def test_scenario_section_applies_by_name_and_selector(
    make_sim: SimFactory, make_client: ClientFactory
) -> None:
    scenario = {
        **RESTORE,
        "projects": [
            {
                **RESTORE["projects"][0],
                "firewalls": [
                    {"name": "ssh", "rules": [_rule(port="22")], "servers": ["arm-1"]},
                    {"name": "prod", "label_selectors": ["env=prod"]},
                ],
            }
        ],
    }
    sim = make_sim(scenario, time_scale=1)
    client = make_client(sim)
    ssh, prod = (client.firewalls.get_by_name(n) for n in ("ssh", "prod"))
    assert ssh is not None
    assert prod is not None
    assert ssh.rules[0].port == "22"
    arm = client.servers.get_by_id(ARM_1)
    app = client.servers.get_by_id(APP_1)
    assert [(f.firewall.id, f.status) for f in arm.public_net.firewalls] == [(ssh.id, "applied")]
    assert [f.firewall.id for f in app.public_net.firewalls] == [prod.id]


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({"firewalls": [{"name": "x", "servers": ["nope"]}]}, "firewall 'x': no server 'nope'"),
        ({"firewalls": [{"name": "x"}, {"name": "x"}]}, "firewall name 'x' is used twice"),
    ],
)  # fmt: skip
def test_scenario_naming_what_is_not_there_fails_at_load(
    section: dict[str, Any], problem: str
) -> None:
    """Checked with the file, so a bad file never half-builds a world (``POST /_sim/reset``)."""
    project = {**RESTORE["projects"][0], **section}
    with pytest.raises(ScenarioError, match=re.escape(problem)):
        load_scenario({**RESTORE, "projects": [project]})


@pytest.mark.parametrize(
    ("firewall", "problem"),
    [
        ({"rules": [_rule(source_ips=["300.0.0.0/8"])]}, "rules.0.source_ips.0"),
        ({"label_selectors": ["env in (a"]}, "label_selectors"),
    ],
)
def test_a_bad_rule_or_selector_in_a_scenario_file_is_refused_when_it_loads(
    firewall: dict[str, Any], problem: str
) -> None:
    project = {**RESTORE["projects"][0], "firewalls": [{"name": "bad", **firewall}]}
    with pytest.raises(ScenarioError, match=re.escape(problem)):
        load_scenario({**RESTORE, "projects": [project]})


# -- the official Go CLI ----------------------------------------------------------------------


@pytest.mark.gocli
def test_go_cli_create_add_rule_and_apply(
    hcloud: Run, fast_sim: SimulatorServer, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps([_rule(port="443")]))
    out = hcloud("firewall", "create", "--name", "edge", "--rules-file", str(rules)).stdout
    assert re.fullmatch(r"Firewall \d+ created\n", out)
    hcloud(
        "firewall", "add-rule", "edge", "--direction", "in", "--protocol", "tcp",
        "--port", "22", "--source-ips", "0.0.0.0/0", "--description", "ssh",
    )  # fmt: skip
    hcloud("firewall", "apply-to-resource", "edge", "--type", "server", "--server", "web-1")
    hcloud(
        "firewall", "apply-to-resource", "edge", "--type", "label_selector",
        "--label-selector", "role=db",
    )  # fmt: skip
    firewall = _firewall(fast_sim, "edge")
    assert [(r["port"], r["description"]) for r in firewall["rules"]] == [
        ("443", None),
        ("22", "ssh"),
    ]
    db = {server_named(fast_sim, n)["id"] for n in ("db-1", "db-2")}
    selector = firewall["applied_to"][1]
    assert {r["server"]["id"] for r in selector["applied_to_resources"]} == db
    assert server_named(fast_sim, "web-1")["public_net"]["firewalls"] == [
        {"id": firewall["id"], "status": "applied"}
    ]
    described = hcloud("firewall", "describe", "edge").stdout
    assert "Label Selector:\trole=db" in described
    assert not failed_requests(fast_sim)


@pytest.mark.gocli
def test_go_cli_server_create_with_a_firewall(hcloud: Run, fast_sim: SimulatorServer) -> None:
    hcloud("firewall", "create", "--name", "base")
    hcloud(
        "server", "create", "--name", "guarded", "--type", "cx22", "--image", "ubuntu-24.04",
        "--firewall", "base",
    )  # fmt: skip
    firewall = _firewall(fast_sim, "base")
    server = server_named(fast_sim, "guarded")
    assert firewall["applied_to"] == [{"type": "server", "server": {"id": server["id"]}}]
    assert [f["id"] for f in server["public_net"]["firewalls"]] == [firewall["id"]]
    assert not failed_requests(fast_sim)
