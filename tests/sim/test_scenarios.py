"""Scenario files and built-ins, determinism, time scale, pre-aged images, the hcloud-sim CLI."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hcloud import APIException

from hcloud_sim.scenarios import BUILTINS, ScenarioError, load_scenario
from hcloud_sim.state import Simulator
from tests.conftest import ClientFactory, SimFactory
from tests.openapi_check import ExchangeValidator
from tests.sim._api import RawApi, control, error_of

DATA = Path(__file__).parent / "data"
EXAMPLE = DATA / "example.yaml"
MINIMAL = DATA / "minimal.json"


def _created(image: Any) -> datetime:
    assert image.created is not None
    created: datetime = image.created
    return created


# -- files ---------------------------------------------------------------------------------------


def test_the_documented_yaml_example_loads(
    make_sim: SimFactory, make_client: ClientFactory
) -> None:
    scenario = load_scenario(EXAMPLE)
    assert (scenario.name, scenario.seed, scenario.time_scale) == ("example", 7, 20)
    sim = make_sim(EXAMPLE)
    assert sim.state.clock.scale == 20
    shop = make_client(sim, token="shop-rw")
    with pytest.raises(APIException) as err:  # the file's first fault: one 503 on GET /servers
        shop.servers.get_all()
    assert err.value.code == "unavailable"
    servers = {s.name: s for s in shop.servers.get_all()}
    assert set(servers) == {
        "web-1", "web-2", "web-3", "db-1", "edge-1", "private-1", "busy-1", "flaky-1", "doomed-1",
    }  # fmt: skip
    assert servers["db-1"].status == "off"
    assert servers["db-1"].protection == {"delete": True, "rebuild": True}
    assert servers["edge-1"].public_net.ipv4 is None
    assert servers["private-1"].public_net.ipv6 is None
    assert servers["private-1"].private_net[0].network.id == shop.networks.get_by_name("private").id
    backend = shop.networks.get_by_name("backend")
    assert [(p.network.id, p.ip, p.alias_ips) for p in servers["db-1"].private_net] == [
        (backend.id, "10.1.0.5", ["10.1.0.6"])
    ]
    assert servers["web-1"].private_net[0].ip == "10.1.0.2"
    assert servers["web-2"].placement_group.name == "web-spread"
    db_v4 = shop.primary_ips.get_by_name("db-v4")
    assert servers["db-1"].public_net.primary_ipv4.id == db_v4.id
    assert servers["db-1"].public_net.ipv4.dns_ptr == "db.example.com"
    assert not db_v4.auto_delete
    assert shop.primary_ips.get_by_name("spare-v6").protection == {"delete": True}
    assert servers["web-1"].public_net.floating_ips[0].id == shop.floating_ips.get_by_name("vip").id
    assert [v.name for v in servers["db-1"].volumes] == ["db-data"]
    assert shop.volumes.get_by_name("archive").server is None
    ssh, front = shop.firewalls.get_by_name("ssh"), shop.load_balancers.get_by_name("front")
    assert [f.firewall.id for f in servers["web-3"].public_net.firewalls] == [ssh.id]
    assert [t.type for t in front.targets] == ["server", "label_selector", "ip"]
    assert shop.certificates.get_by_name("api-cert").status.issuance == "failed"
    busy = shop.servers.get_actions(servers["busy-1"], status=["running"])
    assert [a.command for a in busy] == ["change_server_type"]
    backups = shop.images.get_all(type=["backup"])
    assert backups[0].bound_to.id == servers["db-1"].id
    assert [i.bound_to.id for i in backups[1:]] == [servers["web-1"].id] * 3
    assert servers["web-1"].backup_window == "22-02"
    assert [k.name for k in shop.ssh_keys.get_all(label_selector="team=ops")] == ["ops"]

    lab = make_client(sim, token="lab-rw")
    assert [s.name for s in lab.servers.get_all()] == ["lab-1"]
    truth = sim.state.ground_truth("shop")
    assert truth["rate_limit"]["capacity"] == 600
    assert [f["code"] for f in truth["faults"]] == ["unavailable", "timeout", None]
    assert sim.state.project("shop").spec.snapshot_quota == 5

    sim.state.clock.advance(121)  # doomed-1 is deleted by "someone else" two minutes in
    assert sim.state.ground_truth("shop")["deleted_servers"] == [servers["doomed-1"].id]


def test_a_json_file_loads_with_its_name_from_the_file(
    make_sim: SimFactory, make_client: ClientFactory
) -> None:
    scenario = load_scenario(MINIMAL)
    assert scenario.name == "minimal"
    client = make_client(make_sim(MINIMAL))
    assert [s.name for s in client.servers.get_all(label_selector="env=test")] == ["solo-1"]
    assert [i.description for i in client.images.get_all(type=["snapshot"])] == ["solo-1 weekly"]


BAD_FILES: list[tuple[str, str, str]] = [
    ("unknown-field.yaml", "projects: [{servers: [{name: a, colour: red}]}]", "colour"),
    ("bad-age.yaml", "projects: [{images: [{description: x, age: 3 days}]}]", "age '3 days'"),
    (
        "duplicate-token.yaml",
        "projects: [{name: a, tokens: [{token: dup}]}, {name: b, tokens: [{token: dup}]}]",
        "token 'dup' is given to more than one project",
    ),
    (
        "server-type.yaml",
        "projects: [{servers: [{name: a, server_type: cx99}]}]",
        "server 'a': unknown server_type 'cx99'",
    ),
    (
        "missing-server.yaml",
        "projects: [{servers: [{name: a}], images: [{description: x, server: ghost}]}]",
        "image 'x': no server 'ghost'",
    ),
    ("location.yaml", "projects: [{servers: [{name: a, location: mars}]}]", "location 'mars'"),
    (
        "twice.yaml",
        "projects: [{servers: [{name: a}, {name: a}]}]",
        "server name 'a' is used twice",
    ),
    ("template.yaml", "projects: [{servers: [{name: a, count: 2}]}]", "no {i} in its name"),
    ("label.yaml", "projects: [{servers: [{name: a, labels: {'-x': y}}]}]", "-x"),
    (
        "two-locks.yaml",
        "projects: [{servers: [{name: a, running_actions: [{}, {}]}]}]",
        "at most one running action",
    ),
    ("status.yaml", "projects: [{servers: [{name: a, status: on}]}]", "status"),
    ("broken.yaml", "projects: [{servers: [", "not valid YAML/JSON"),
    ("list.json", "[1, 2]", "a scenario is a mapping"),
]


@pytest.mark.parametrize(
    ("name", "text", "problem"), BAD_FILES, ids=[name for name, _, _ in BAD_FILES]
)
def test_bad_files_name_the_problem(tmp_path: Path, name: str, text: str, problem: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(path) in str(err.value)
    assert problem in str(err.value)


def test_an_unknown_name_lists_the_builtins() -> None:
    with pytest.raises(
        ScenarioError, match=r"no scenario 'nope'.*demo, faults, large, wired, empty"
    ):
        load_scenario("nope")


# -- built-ins -----------------------------------------------------------------------------------


def test_demo_fleet(make_sim: SimFactory, make_client: ClientFactory) -> None:
    client = make_client(make_sim("demo", time_scale=1))
    servers = {s.name: s for s in client.servers.get_all()}
    assert len(servers) == 12
    locked = {
        name for name, s in servers.items() if client.servers.get_actions(s, status=["running"])
    }
    assert locked == {"web-2", "db-1", "cache-1"}
    edge, internal = servers["edge-v6"].public_net, servers["internal-1"].public_net
    assert edge.ipv4 is None
    assert edge.ipv6 is not None
    assert (internal.ipv4, internal.ipv6) == (None, None)
    assert servers["internal-1"].private_net
    assert {n for n, s in servers.items() if s.status == "off"} == {"batch-1"}
    snapshots = client.images.get_all(type=["snapshot"])
    assert len(snapshots) == 3
    assert all(i.created_from is not None for i in snapshots)
    assert [i.id for i in client.images.get_all(label_selector="managed-by=hsnap")]
    assert client.images.get_all(type=["backup"])[0].bound_to.id == servers["db-2"].id


def test_faults_fleet(make_sim: SimFactory, schema_check: ExchangeValidator) -> None:
    sim = make_sim("faults", time_scale=1)
    raw = RawApi(sim, schema_check)
    assert [raw.get("/servers").status_code for _ in range(3)] == [503, 503, 200]  # a 5xx burst
    stuck, broken = sim.state.server_by_name("stuck-1"), sim.state.server_by_name("broken-snap")

    first = raw.post(f"/servers/{broken.id}/actions/create_image", {"description": "x"})
    assert error_of(first)[:2] == (502, "bad_gateway")
    made = raw.post(f"/servers/{broken.id}/actions/create_image", {"description": "x"}).json()
    sim.state.clock.advance(86400)
    truth = sim.state.ground_truth()
    action = next(a for a in truth["actions"] if a["id"] == made["action"]["id"])
    assert (action["status"], action["error"]) == (
        "error",
        {"code": "action_failed", "message": "image creation failed: disk read error"},
    )
    image = next(i for i in truth["images"] if i["id"] == made["image"]["id"])
    assert image["status"] == "unavailable"
    stuck_now = next(s for s in truth["servers"] if s["id"] == stuck.id)
    assert stuck_now["lock_holders"]  # still locked a simulated day later


def test_large_fleet(make_sim: SimFactory, schema_check: ExchangeValidator) -> None:
    sim = make_sim("large", time_scale=1)
    truth = sim.state.ground_truth()
    assert len(truth["servers"]) == 300
    assert sum(1 for s in truth["servers"] if s["lock_holders"]) == 30
    page = RawApi(sim, schema_check).get("/servers", {"per_page": 50, "label_selector": "env=prod"})
    assert page.json()["meta"]["pagination"]["total_entries"] == 225


def test_builtins_are_what_the_listing_says() -> None:
    assert list(BUILTINS) == ["demo", "faults", "large", "wired", "empty"]
    assert load_scenario("empty").projects[0].servers == []


# -- determinism, time ---------------------------------------------------------------------------


def _fingerprint(sim: Simulator) -> list[Any]:
    project = sim.project()
    return [
        sorted((s.id, s.name) for s in project.servers.values()),
        sorted((i.id, i.description) for i in project.images.values()),
        sorted((a.id, a.command, a.duration) for a in project.actions.values()),
        [(ip["id"], ip["ip"], ip["assignee_id"]) for ip in sim.ground_truth()["primary_ips"]],
    ]


@pytest.mark.parametrize("name", ["demo", "faults", "large", "wired"])
def test_same_scenario_same_ids_and_draws(name: str) -> None:
    first = _fingerprint(Simulator(load_scenario(name)))
    assert _fingerprint(Simulator(load_scenario(name))) == first
    if name == "large":  # drawn from [60, 300]: varied, yet the same every time
        durations = {d for _, _, d in first[2]}
        assert len(durations) > 10
        assert all(d is not None and 60 <= d <= 300 for d in durations)


def test_create_image_durations_are_drawn_reproducibly() -> None:
    def durations() -> list[float | None]:
        sim = Simulator(load_scenario("demo"))
        project = sim.project()
        with sim.lock:
            made = [project.create_image(sid, description=None, image_type="snapshot", labels={})
                    for sid in (100001, 100003, 100005)]  # fmt: skip
        return [action.duration for _, action in made]

    first = durations()
    assert durations() == first
    assert all(d is not None and 60 <= d <= 180 for d in first)


def test_time_scale_makes_minutes_pass_in_seconds(
    make_sim: SimFactory, make_client: ClientFactory
) -> None:
    scenario = {
        "time_scale": 3000,
        "projects": [{"action_durations": {"create_image": 120}, "servers": [{"name": "a"}]}],
    }
    sim = make_sim(scenario)
    assert sim.state.clock.scale == 3000
    client = make_client(sim, poll_interval=0.02)  # the SDK's own poll, 60 simulated seconds
    started = time.monotonic()
    made = client.servers.create_image(client.servers.get_by_id(100001), description="fast")
    made.action.wait_until_finished(max_retries=200)
    elapsed = time.monotonic() - started
    action = client.actions.get_by_id(made.action.id)
    assert action.status == "success"
    assert action.finished is not None
    assert action.started is not None
    assert action.finished - action.started >= timedelta(seconds=120)
    assert elapsed < 5  # two simulated minutes in well under five real seconds

    assert make_sim(scenario, time_scale=7).state.clock.scale == 7  # the override wins


def test_pre_aged_images(make_sim: SimFactory, make_client: ClientFactory) -> None:
    ages = {"three days": "3d", "two weeks": "2w", "ninety seconds": 90, "six hours": "6h"}
    scenario = {
        "projects": [
            {
                "servers": [{"name": "a"}],
                "images": [{"description": k, "server": "a", "age": v} for k, v in ages.items()],
            }
        ]
    }
    sim = make_sim(scenario)
    client = make_client(sim)
    now = datetime.fromtimestamp(sim.state.clock.now(), tz=UTC)
    created = {i.description: _created(i) for i in client.images.get_all(type=["snapshot"])}
    expected = {
        "three days": timedelta(days=3),
        "two weeks": timedelta(weeks=2),
        "ninety seconds": timedelta(seconds=90),
        "six hours": timedelta(hours=6),
    }
    for description, age in expected.items():
        assert abs((now - created[description]) - age) < timedelta(seconds=5), description


def test_control_reset_loads_a_scenario_file(make_sim: SimFactory) -> None:
    sim = make_sim("empty", scenario_dirs=[DATA])
    assert control(sim, "POST", "/reset", {"scenario": str(MINIMAL)}).status_code == 200
    assert control(sim, "GET", "/health").json()["scenario"] == "minimal"
