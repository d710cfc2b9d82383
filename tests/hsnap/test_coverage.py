"""What snapshots do not cover, against the simulator: the audit's volumes, addresses lost on
delete, recipe and backups; ``keep-addresses``; a server's Hetzner Backups listed and restored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from hcloud_sim import SimulatorServer
from hsnap.cloud.ties import surroundings
from hsnap.errors import ConfigError, HsnapError
from hsnap.observe.audit import AuditReport, audit
from hsnap.observe.audit_report import uncovered_markdown, uncovered_summary
from hsnap.observe.coverage import carries_replace_recipe
from hsnap.restore.addresses import keep_addresses
from hsnap.restore.catalog import BACKUP, list_snapshots
from hsnap.restore.restore import RestoreRequest, plan_restore, restore_new
from hsnap.retention.policy import RetentionPolicy
from hsnap.snapshot.recipe import Recipe, to_labels
from tests.conftest import SimFactory
from tests.hsnap.world import SCALE, connect, world

WEB, DB = 100001, 100002
RECIPE = to_labels(Recipe(server_id=WEB, name="web-1", server_type="cx22", location="fsn1"))


def _world(**project: Any) -> dict[str, Any]:
    """web-1: a 500 GB and a 20 GB volume, its own addresses (auto_delete on), 3 backups, a newest
    snapshot with a recipe. db-1: an address kept (auto_delete off), IPv4 only, no volume."""
    ours = {"managed-by": "hsnap"}
    return world(
        {"name": "web-1"},
        {"name": "db-1", "ipv6": False},
        images=[
            {"description": "web old", "server": "web-1", "age": "2d", "labels": ours},
            {"description": "web new", "server": "web-1", "age": "1d", "labels": ours | RECIPE},
            {"description": "db new", "server": "db-1", "age": "1d", "labels": ours},
        ],
        primary_ips=[{"name": "db-v4", "type": "ipv4", "server": "db-1", "auto_delete": False}],
        volumes=[
            {"name": "uploads", "size": 500, "server": "web-1"},
            {"name": "cache", "size": 20, "server": "web-1"},
            {"name": "spare", "size": 100, "location": "fsn1"},
        ],
        backups=[{"server": "web-1", "existing": 3}],
        **project,
    )


@pytest.fixture
def sim(make_sim: SimFactory) -> SimulatorServer:
    return make_sim(_world(), time_scale=SCALE)


def _audit(sim: SimulatorServer) -> AuditReport:
    cloud = connect(sim)
    return audit(
        cloud.list_servers(),
        cloud.find_images(),
        cloud.image_price(),
        now=datetime.now(UTC),
        around=surroundings(cloud),
    )


def _primary_ips(sim: SimulatorServer) -> dict[str, dict[str, Any]]:
    client = connect(sim)._client
    return {
        p.ip: {"auto_delete": p.auto_delete, "server": p.assignee_id}
        for p in client.primary_ips.get_all()
    }


def test_the_audit_says_what_snapshots_do_not_cover(sim: SimulatorServer) -> None:
    report = _audit(sim)
    db, web = (s.uncovered for s in report.servers)  # by name: db-1, web-1
    assert (web.volumes, web.volume_gb) == (2, 520.0)  # the unattached volume is nobody's
    assert len(web.lost_ips) == 2  # its IPv4 and IPv6, made with it: auto_delete on
    assert db.lost_ips == ()  # kept (auto_delete off)
    assert (web.recipe, db.recipe) == (True, False)
    assert (web.backups, db.backups) == (3, 0)
    assert report.uncovered_volume_gb == 520.0
    data = report.to_dict()
    assert data["totals"]["uncovered_volume_gb"] == 520.0
    web_json = next(s for s in data["servers"] if s["server"] == "web-1")["not_covered"]
    assert web_json["volume_gb"] == 520.0
    assert web_json["backups"] == 3
    assert sorted(web_json["addresses_lost_on_delete"]) == sorted(web.lost_ips)
    text = "\n".join(uncovered_markdown(report))
    assert "2 attached volume(s), 520 GB: in no snapshot" in text
    assert "3 Hetzner Backup(s)" in text
    assert "db-1** (id 100002): newest snapshot has no recipe" in text
    summary = uncovered_summary(report)
    assert summary[0] == "Not covered by any snapshot: 520 GB of attached volumes."
    assert "  volumes, in no snapshot: web-1 (520 GB)" in summary
    assert "  newest snapshot lacks the recipe restore --replace needs: db-1" in summary
    assert "  Hetzner Backups, deleted with their server: web-1 (3)" in summary
    assert any(line.startswith("  addresses released if deleted:") for line in summary)


@pytest.mark.parametrize(
    ("labels", "carries"),
    [
        (RECIPE, True),
        ({}, False),
        ({k: v for k, v in RECIPE.items() if k != "hsnap/r0"}, False),  # a chunk is missing
        ({"hsnap/recipe": "one"}, False),
        ({"hsnap/recipe": "1.2", "hsnap/r0": "xabcx", "hsnap/r1": "xdefx"}, False),  # unreadable
    ],
)
def test_the_recipe_marker(labels: dict[str, str], carries: bool) -> None:
    assert carries_replace_recipe(labels) is carries


def test_keep_addresses_turns_auto_delete_off_for_the_selection_only(sim: SimulatorServer) -> None:
    before = _primary_ips(sim)
    rows = keep_addresses(connect(sim), ["web-1"])
    after = _primary_ips(sim)
    assert {(r.server, r.result) for r in rows} == {("web-1", "kept now")}
    assert len(rows) == 2
    for ip, seen in after.items():
        changed = ip in {r.ip for r in rows}
        assert seen["auto_delete"] is (False if changed else before[ip]["auto_delete"])
        assert seen["server"] == before[ip]["server"]  # nothing else moved
    again = keep_addresses(connect(sim), [])  # every server now: db-1's was kept already
    assert {r.result for r in again} == {"already kept"}
    assert len(again) == 3


def test_keep_addresses_refuses_bad_input_before_any_change(make_sim: SimFactory) -> None:
    spec = _world(tokens=[{"token": "sim-token"}, {"token": "ro", "readonly": True}])
    sim = make_sim(spec, time_scale=SCALE)
    before = _primary_ips(sim)
    with pytest.raises(ConfigError, match="no server named 'nope'"):
        keep_addresses(connect(sim), ["web-1", "nope"])
    with pytest.raises(ConfigError, match="malformed label selector"):
        keep_addresses(connect(sim), [], label_selector="a==b==")
    with pytest.raises(HsnapError, match="read-only") as caught:
        keep_addresses(connect(sim, token="ro"), ["web-1"])
    assert caught.value.code == "token_readonly"
    assert _primary_ips(sim) == before


def test_snapshots_lists_the_servers_backups_and_restore_takes_one(sim: SimulatorServer) -> None:
    cloud = connect(sim)
    server, rows = list_snapshots(
        cloud, "web-1", RetentionPolicy(), timezone="UTC", now=datetime.now(UTC)
    )
    backups = [r for r in rows if r.maker == "backup"]
    assert len(backups) == 3
    assert {r.retention for r in backups} == {BACKUP}
    assert len(rows) == 5  # two snapshots too
    request = RestoreRequest("web-1", new_name="from-backup", image_id=backups[0].image_id)
    result = restore_new(cloud, plan_restore(cloud, request))
    assert result.image_id == backups[0].image_id
    made = next(s for s in sim.state.ground_truth()["servers"] if s["name"] == "from-backup")
    assert made["image"]["id"] == backups[0].image_id
    assert server.id == WEB
