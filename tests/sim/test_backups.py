"""Hetzner Backups: the window, daily backups on the simulator's schedule, seven slots, and what
deletes them. Time moves only where a test moves the clock (1x world, clock-stepping SDK polls).
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from typing import Any

import hcloud
import pytest
from hcloud import APIException

from hcloud_sim import SimulatorServer
from hcloud_sim.resources.backups import WINDOWS
from hcloud_sim.scenarios import ScenarioError, load_scenario
from tests.conftest import ClientFactory, SimFactory
from tests.openapi_check import ExchangeValidator
from tests.sim._api import RawApi, clock_stepping, error_of
from tests.sim._gocli import Run, failed_requests, server_named

DAY = 86400
BACKED: dict[str, Any] = {
    "name": "backed",
    "projects": [
        {
            "action_durations": {
                "enable_backup": 2,
                "disable_backup": 2,
                "create_backup": 60,
                "create_image": 60,
            },
            "servers": [
                {"name": "app"},
                {"name": "plain"},
                {"name": "seeded", "backup_window": "02-06"},
            ],
            "backups": [{"server": "app", "window": "22-02", "existing": 3}],
        }
    ],
}
APP, PLAIN, SEEDED = 100001, 100002, 100003


@pytest.fixture
def backed(make_sim: SimFactory) -> SimulatorServer:
    return make_sim(BACKED, time_scale=1)


@pytest.fixture
def cloud(backed: SimulatorServer, make_client: ClientFactory) -> hcloud.Client:
    return make_client(backed, poll_interval=clock_stepping(backed, 5.0))


@pytest.fixture
def raw(backed: SimulatorServer, schema_check: ExchangeValidator) -> RawApi:
    return RawApi(backed, schema_check)


def backups(cloud: hcloud.Client, server_id: int) -> list[Any]:
    found = cloud.images.get_all(type=["backup"], bound_to=[str(server_id)], sort=["created:asc"])
    return list(found)


def in_window(created: datetime, window: str) -> bool:
    start, end = (int(h) for h in window.split("-"))
    hour = created.astimezone(UTC).hour
    return start <= hour < end if start < end else hour >= start or hour < end


def advance(sim: SimulatorServer, seconds: float) -> None:
    sim.state.clock.advance(seconds)


def advance_to(sim: SimulatorServer, hour: int, minute: int = 0) -> None:
    """Move the clock to the next ``hour:minute`` UTC."""
    now = sim.state.clock.now()
    moment = datetime.fromtimestamp(now, tz=UTC).replace(hour=hour, minute=minute, second=0)
    target = moment.timestamp()
    while target <= now:
        target += DAY
    advance(sim, target - now)


def test_a_scenario_starts_with_backups(cloud: hcloud.Client) -> None:
    app = cloud.servers.get_by_id(APP)
    assert app.backup_window == "22-02"
    made = backups(cloud, APP)
    assert len(made) == 3
    assert all(i.status == "available" and i.bound_to.id == APP for i in made)
    assert all(in_window(i.created, "22-02") for i in made)
    gaps = {(b.created - a.created).total_seconds() for a, b in itertools.pairwise(made)}
    assert gaps == {DAY}  # one a day
    assert cloud.servers.get_by_id(SEEDED).backup_window == "02-06"
    assert cloud.servers.get_by_id(PLAIN).backup_window is None


def test_enable_backup_then_one_backup_a_day_in_the_window(
    cloud: hcloud.Client, backed: SimulatorServer
) -> None:
    plain = cloud.servers.get_by_id(PLAIN)
    action = plain.enable_backup()
    assert action.command == "enable_backup"
    action.wait_until_finished()
    window = cloud.servers.get_by_id(PLAIN).backup_window
    assert window in WINDOWS
    assert backups(cloud, PLAIN) == []
    advance(backed, DAY)
    first = backups(cloud, PLAIN)
    assert len(first) == 1
    advance(backed, 120)  # its create_image action has ended
    made = backups(cloud, PLAIN)[0]
    assert (made.status, made.type, made.bound_to.id) == ("available", "backup", PLAIN)
    assert in_window(made.created, window)
    assert made.created_from.id == PLAIN
    advance(backed, 3 * DAY)
    assert len(backups(cloud, PLAIN)) == 4


def test_at_most_seven_are_kept_the_oldest_go(
    cloud: hcloud.Client, backed: SimulatorServer
) -> None:
    seeded = [i.id for i in backups(cloud, APP)]
    advance(backed, 10 * DAY)
    kept = backups(cloud, APP)
    assert len(kept) == 7
    assert not set(seeded) & {i.id for i in kept}  # the three oldest went first
    gaps = {(b.created - a.created).total_seconds() for a, b in itertools.pairwise(kept)}
    assert gaps == {DAY}


def test_create_image_of_type_backup_takes_a_slot(
    cloud: hcloud.Client, raw: RawApi, backed: SimulatorServer
) -> None:
    oldest = backups(cloud, APP)[0]
    app = cloud.servers.get_by_id(APP)
    for n in range(5):
        made = app.create_image(description=f"manual {n}", type="backup")
        assert made.image.bound_to.id == APP
        made.action.wait_until_finished()
    kept = backups(cloud, APP)
    assert len(kept) == 7
    assert oldest.id not in {i.id for i in kept}
    assert kept[-1].description == "manual 4"
    # a server without backups has no slots
    before = backed.state.ground_truth()
    refused = raw.post(f"/servers/{PLAIN}/actions/create_image", {"type": "backup"})
    assert error_of(refused) == (
        422,
        "invalid_input",
        "invalid input in field 'type': backups are not enabled for this server",
    )
    after = backed.state.ground_truth()
    assert (after["images"], after["actions"]) == (before["images"], before["actions"])


def test_disable_backup_deletes_every_backup_and_stops_them(
    cloud: hcloud.Client, backed: SimulatorServer
) -> None:
    app = cloud.servers.get_by_id(APP)
    app.disable_backup().wait_until_finished()
    assert cloud.servers.get_by_id(APP).backup_window is None
    assert backups(cloud, APP) == []
    advance(backed, 3 * DAY)
    assert backups(cloud, APP) == []
    # enabled again: backups resume, from none
    app.enable_backup().wait_until_finished()
    advance(backed, DAY)
    assert len(backups(cloud, APP)) == 1


def test_backups_die_with_their_server_a_converted_one_survives(
    cloud: hcloud.Client, backed: SimulatorServer
) -> None:
    made = backups(cloud, APP)
    kept = cloud.images.update(made[-1], type="snapshot", description="keep me")
    assert (kept.type, kept.bound_to) == ("snapshot", None)
    cloud.servers.delete(cloud.servers.get_by_id(APP))
    truth = backed.state.ground_truth()
    ids = {i["id"] for i in truth["images"]}
    assert made[-1].id in ids
    assert not {i.id for i in made[:-1]} & ids
    assert str(APP) not in truth["backups"]
    advance(backed, 2 * DAY)  # no backup of a deleted server
    assert not [i for i in backed.state.ground_truth()["images"] if i["bound_to"] == APP]


def test_a_locked_server_is_backed_up_later_in_its_window(
    cloud: hcloud.Client, backed: SimulatorServer
) -> None:
    advance_to(backed, 1, 59)
    lock = backed.state.lock_server(SEEDED, duration=None)
    advance_to(backed, 5, 5)  # past its backup time (02:00 + less than three hours)
    assert backups(cloud, SEEDED) == []
    backed.state.finish_action(lock)
    advance(backed, 15 * 60)
    made = backups(cloud, SEEDED)
    assert len(made) == 1
    assert in_window(made[0].created, "02-06")


def test_bad_input_changes_nothing(raw: RawApi, backed: SimulatorServer) -> None:
    before = backed.state.ground_truth()
    cases = [
        (f"/servers/{PLAIN}/actions/enable_backup", {"backup_window": "01-05"}, 422),
        (f"/servers/{PLAIN}/actions/enable_backup", {"backup_window": 22}, 422),
        (f"/servers/{PLAIN}/actions/enable_backup", {"window": "22-02"}, 422),
        (f"/servers/{PLAIN}/actions/disable_backup", {"now": True}, 422),
        ("/servers/300001/actions/enable_backup", None, 404),  # an image's id
        ("/servers/x/actions/disable_backup", None, 422),
    ]
    for path, body, status in cases:
        assert error_of(raw.post(path, body))[0] == status, (path, body)
    backed.state.lock_server(PLAIN, duration=None)
    assert error_of(raw.post(f"/servers/{PLAIN}/actions/enable_backup"))[:2] == (423, "locked")
    after = backed.state.ground_truth()
    assert after["backups"] == before["backups"]
    assert [s["backup_window"] for s in after["servers"]] == [
        s["backup_window"] for s in before["servers"]
    ]


@pytest.mark.gocli
def test_cli_enables_and_disables_backups(hcloud: Run, fast_sim: SimulatorServer) -> None:
    out = hcloud("server", "enable-backup", "web-1").stdout
    assert re.search(r"[Bb]ackup enabled for server \d+", out), out
    window = server_named(fast_sim, "web-1")["backup_window"]
    assert window in WINDOWS
    described = hcloud("server", "describe", "web-1").stdout
    assert re.search(rf"Backup Window:\s+{window}", described)
    hcloud("server", "disable-backup", "web-1")
    assert server_named(fast_sim, "web-1")["backup_window"] is None
    # the CLI no longer sends a window (it warns and ignores --window): the API picks one
    hcloud("server", "enable-backup", "--window", "10-14", "web-2")
    assert server_named(fast_sim, "web-2")["backup_window"] in WINDOWS
    assert not failed_requests(fast_sim)


def test_the_sdk_sees_the_refusal_of_a_backup_without_backups(cloud: hcloud.Client) -> None:
    with pytest.raises(APIException) as caught:
        cloud.servers.get_by_id(PLAIN).create_image(type="backup")
    assert caught.value.code == "invalid_input"


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({"backups": [{"server": "nope"}]}, "backups: no server 'nope'"),
        ({"backups": [{"server": "a"}, {"server": "a"}]}, "server 'a' is listed twice"),
        ({"backups": [{"server": "a", "existing": 8}]}, "existing"),
        ({"backups": [{"server": "a", "window": "01-05"}]}, "window"),
        ({"servers": [{"name": "a", "backup_window": "1-5"}]}, "backup_window"),
    ],
)
def test_a_bad_backups_section_fails_at_load(section: dict[str, Any], problem: str) -> None:
    document = {"name": "bad", "projects": [{"servers": [{"name": "a"}], **section}]}
    with pytest.raises(ScenarioError) as caught:
        load_scenario(document)
    assert problem in str(caught.value)


@pytest.mark.gocli
def test_cli_keeps_a_backup_as_a_snapshot_past_its_server(
    hcloud: Run, fast_sim: SimulatorServer
) -> None:
    hcloud("server", "enable-backup", "web-3")
    web_3 = server_named(fast_sim, "web-3")["id"]
    fast_sim.state.clock.advance(DAY + 600)  # one backup made and finished
    listed = hcloud(
        "image", "list", "-t", "backup", "-o", "columns=id,description", "-o", "noheader"
    )
    made = [line.split()[0] for line in listed.stdout.splitlines() if "web-3 backup" in line]
    assert len(made) == 1
    hcloud("image", "update", made[0], "--type", "snapshot", "--description", "web-3 kept")
    hcloud("server", "delete", "web-3")
    images = {i["id"]: i for i in fast_sim.state.ground_truth()["images"]}
    kept = images[int(made[0])]
    assert (kept["type"], kept["bound_to"], kept["description"]) == ("snapshot", None, "web-3 kept")
    assert not [i for i in images.values() if i["bound_to"] == web_3]
    assert not failed_requests(fast_sim)
