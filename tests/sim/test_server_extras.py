"""change_type, rescue, reset, reset_password, request_console, /servers/{id}/metrics and the
action listings of servers and images: the real SDK, raw HTTP and the official Go CLI."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import hcloud
import pytest
from hcloud import APIException
from hcloud.server_types import ServerType
from hcloud.servers import BoundServer

from hcloud_sim import SimulatorServer
from hsnap.models import ServerRef
from hsnap.snapshot.take import SnapshotPlan, take_snapshot
from tests.conftest import ClientFactory, SimFactory
from tests.hsnap import world as hsnap_world
from tests.openapi_check import ExchangeValidator
from tests.sim._api import RawApi, clock_stepping, error_of
from tests.sim._gocli import FAST, find_hcloud, runner, server_named


@pytest.fixture
def world(make_sim: SimFactory) -> SimulatorServer:
    return make_sim("demo", time_scale=1)


@pytest.fixture
def cloud(world: SimulatorServer, make_client: ClientFactory) -> hcloud.Client:
    return make_client(world, poll_interval=clock_stepping(world, 5.0))


@pytest.fixture
def wire(world: SimulatorServer, schema_check: ExchangeValidator) -> RawApi:
    return RawApi(world, schema_check)


def _server(cloud: hcloud.Client, name: str) -> BoundServer:
    found = cloud.servers.get_by_name(name)
    assert found is not None
    return found


def _refused(call: object) -> tuple[str, str]:
    with pytest.raises(APIException) as caught:
        call()  # type: ignore[operator]
    return str(caught.value.code), str(caught.value.message)


def test_change_type_locks_the_off_server_then_it_runs_with_the_new_type(
    cloud: hcloud.Client,
) -> None:
    batch = _server(cloud, "batch-1")  # off
    action = cloud.servers.change_type(batch, ServerType(name="cx32"), upgrade_disk=True)
    assert action.command == "change_server_type"
    assert _server(cloud, "batch-1").status == "migrating"
    # what hsnap meets: a snapshot (or any action) of the server waits for the resize
    code, message = _refused(lambda: cloud.servers.create_image(batch, description="x"))
    assert (code, message) == ("locked", "cannot perform operation because server is locked")
    action.wait_until_finished()
    after = _server(cloud, "batch-1")
    assert (after.server_type.name, after.primary_disk_size, after.status) == (
        "cx32",
        80,
        "running",
    )


def test_change_type_keeps_the_disk_without_upgrade_disk(cloud: hcloud.Client) -> None:
    batch = _server(cloud, "batch-1")
    cloud.servers.change_type(
        batch, ServerType(name="cx42"), upgrade_disk=False
    ).wait_until_finished()
    after = _server(cloud, "batch-1")
    assert (after.server_type.name, after.primary_disk_size) == ("cx42", 40)


def test_change_type_refusals_change_nothing(cloud: hcloud.Client, wire: RawApi) -> None:
    running = _server(cloud, "web-1")
    assert (
        _refused(
            lambda: cloud.servers.change_type(running, ServerType(name="cx32"), upgrade_disk=True)
        )[0]
        == "server_not_stopped"
    )
    db = _server(cloud, "db-2")  # ccx13, 80 GB disk
    cloud.servers.power_off(db).wait_until_finished()
    for misfit in ("cx22", "cax11", "cx11"):  # smaller disk, arm, retired
        assert (
            _refused(
                lambda t=misfit: cloud.servers.change_type(
                    db, ServerType(name=t), upgrade_disk=True
                )
            )[0]
            == "invalid_server_type"
        ), misfit
    path = f"/servers/{db.id}/actions/change_type"
    assert error_of(wire.post(path, {"server_type": "nope", "upgrade_disk": True}))[:2] == (
        422,
        "invalid_input",
    )
    assert error_of(wire.post(path, {"server_type": "cx42"}))[:2] == (422, "invalid_input")
    after = _server(cloud, "db-2")
    assert (after.server_type.name, after.status) == ("ccx13", "off")


def test_rescue_mode_is_enabled_disabled_and_ends_after_an_hour(
    cloud: hcloud.Client, world: SimulatorServer, wire: RawApi
) -> None:
    web = _server(cloud, "web-1")
    enabled = cloud.servers.enable_rescue(web, type="linux64")
    assert enabled.root_password
    enabled.action.wait_until_finished()
    assert _server(cloud, "web-1").rescue_enabled is True
    cloud.servers.disable_rescue(web).wait_until_finished()
    assert _server(cloud, "web-1").rescue_enabled is False
    refused = wire.post(f"/servers/{web.id}/actions/enable_rescue", {"ssh_keys": [999]})
    assert error_of(refused)[:2] == (422, "invalid_input")
    assert "SSH key 999 not found" in error_of(refused)[2]
    cloud.servers.enable_rescue(web).action.wait_until_finished()
    world.state.clock.advance(3601)
    assert _server(cloud, "web-1").rescue_enabled is False


def test_reset_boots_the_server_and_ends_rescue(cloud: hcloud.Client) -> None:
    web = _server(cloud, "web-3")
    cloud.servers.enable_rescue(web).action.wait_until_finished()
    action = cloud.servers.reset(web)
    assert action.command == "reset_server"
    assert _server(cloud, "web-3").status == "starting"
    action.wait_until_finished()
    after = _server(cloud, "web-3")
    assert (after.status, after.rescue_enabled) == ("running", False)


def test_reset_password_needs_a_running_server(cloud: hcloud.Client) -> None:
    reply = cloud.servers.reset_password(_server(cloud, "web-1"))
    assert reply.root_password
    assert reply.action.command == "reset_password"
    code, message = _refused(lambda: cloud.servers.reset_password(_server(cloud, "batch-1")))
    assert code == "invalid_input"
    assert "running" in message


def test_request_console_answers_a_websocket_url_and_password(cloud: hcloud.Client) -> None:
    web = _server(cloud, "web-1")
    console = cloud.servers.request_console(web)
    assert re.fullmatch(
        rf"wss://console\.hetzner\.cloud/\?server_id={web.id}&token=\w+", console.wss_url
    )
    assert len(console.password) >= 16
    assert console.action.command == "request_console"


def test_server_metrics_have_the_documented_series(cloud: hcloud.Client, wire: RawApi) -> None:
    web = _server(cloud, "web-1")
    end = dt.datetime.now(dt.UTC)
    reply = cloud.servers.get_metrics(
        web, type=["cpu", "disk", "network"], start=end - dt.timedelta(hours=1), end=end
    )
    series = reply.metrics.time_series
    assert set(series) == {
        "cpu",
        *(f"disk.0.{m}.{d}" for m in ("iops", "bandwidth") for d in ("read", "write")),
        *(f"network.0.{m}.{d}" for m in ("pps", "bandwidth") for d in ("in", "out")),
    }
    assert {v[1] for v in series["cpu"]["values"]} == {"0"}
    assert error_of(wire.get(f"/servers/{web.id}/metrics", {"type": "gpu"}))[:2] == (
        422,
        "invalid_input",
    )


def test_action_listings_of_servers_and_images(cloud: hcloud.Client, wire: RawApi) -> None:
    web = _server(cloud, "web-1")
    made = cloud.servers.create_image(web, description="listed")
    made.action.wait_until_finished()
    protect = cloud.images.change_protection(made.image, delete=True)
    every = cloud.servers.actions.get_all()
    assert made.action.id in {a.id for a in every}
    assert cloud.servers.actions.get_by_id(made.action.id).command == "create_image"
    image_actions = {a.id for a in cloud.images.get_actions(made.image)}
    assert image_actions == {made.action.id, protect.id}
    assert {a.id for a in cloud.images.actions.get_all()} >= image_actions
    assert cloud.images.actions.get_by_id(protect.id).command == "change_protection"
    # the deprecated per-resource get still answers, for its own resource only
    own = wire.get(f"/servers/{web.id}/actions/{made.action.id}")
    assert own.json()["action"]["id"] == made.action.id
    other = _server(cloud, "web-2")
    assert error_of(wire.get(f"/servers/{other.id}/actions/{made.action.id}"))[:2] == (
        404,
        "not_found",
    )
    assert wire.get(f"/images/{made.image.id}/actions/{protect.id}").status_code == 200
    assert error_of(wire.get(f"/images/{made.image.id}/actions/{made.action.id - 1}"))[0] == 404
    assert error_of(wire.get("/images/actions/999999999"))[:2] == (404, "not_found")


@pytest.mark.gocli
def test_go_cli_server_maintenance_commands(make_sim: SimFactory, tmp_path: Path) -> None:
    sim = make_sim("demo", time_scale=FAST)
    cli = runner(find_hcloud(), sim, tmp_path)
    out = cli("server", "change-type", "batch-1", "cx32").stdout
    assert "changed to type cx32" in out
    batch = server_named(sim, "batch-1")
    assert (batch["server_type"]["name"], batch["primary_disk_size"], batch["status"]) == (
        "cx32",
        80,
        "running",
    )
    refused = cli("server", "change-type", "--keep-disk", "web-1", "cx32", ok=False)
    assert "server_not_stopped" in refused.stderr
    assert re.search(
        r"Rescue enabled for server \d+ with root password: \S+",
        cli("server", "enable-rescue", "web-1").stdout,
    )
    assert "Rescue disabled" in cli("server", "disable-rescue", "web-1").stdout
    assert "reset" in cli("server", "reset", "web-3").stdout
    assert server_named(sim, "web-3")["status"] == "running"
    assert re.search(r"reset to: \S+", cli("server", "reset-password", "web-3").stdout)
    console = cli("server", "request-console", "web-3").stdout
    assert "WebSocket URL: wss://console.hetzner.cloud/?server_id=" in console
    assert "VNC Password:" in console


def test_the_action_list_path_is_not_taken_for_a_server_id(wire: RawApi) -> None:
    refused = wire.session.delete(wire.url + "/servers/actions", timeout=10)
    assert error_of(refused)[:2] == (405, "method_not_allowed")
    assert refused.headers["Allow"] == "GET"
    assert wire.get("/images/actions").json()["meta"]["pagination"]["page"] == 1


def test_hsnap_waits_out_a_resize_and_then_snapshots(
    make_sim: SimFactory, schema_check: ExchangeValidator
) -> None:
    sim = make_sim(
        hsnap_world.world(
            {"name": "app-1", "status": "off"},
            action_durations={"create_image": 60, "change_server_type": 300},
        ),
        time_scale=hsnap_world.SCALE,
    )
    resize = RawApi(sim, schema_check).post(
        f"/servers/{hsnap_world.APP_1}/actions/change_type",
        {"server_type": "cx32", "upgrade_disk": True},
    )
    holder = resize.json()["action"]["id"]
    outcome = take_snapshot(
        hsnap_world.connect(sim),
        SnapshotPlan(
            server=ServerRef(id=hsnap_world.APP_1, name="app-1", status="off"),
            description="after resize",
            labels={"managed-by": "hsnap"},
            run_id="run-resize",
            lock_timeout_s=1800.0,
            snapshot_timeout_s=7200.0,
        ),
    )
    assert outcome.status == "succeeded"
    assert outcome.lock_holders == (f"change_server_type #{holder}",)
    server = server_named(sim, "app-1")
    assert (server["server_type"]["name"], server["status"]) == ("cx32", "running")
