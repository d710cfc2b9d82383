"""Datacenters, ISOs and the deprecated corner of the catalog: the SDK, the wire and the CLI.

One datacenter per location of the catalog; ``POST /servers`` ``datacenter`` places a server in
its location. Public ISOs per architecture, one deprecated, one retired (gettable, not listed,
not attachable); ``attach_iso`` / ``detach_iso`` are actions that lock the server.
"""

from __future__ import annotations

import re

import hcloud
import pytest
from hcloud import APIException

from hcloud_sim import SimulatorServer
from tests.sim._api import RawApi, error_of
from tests.sim._gocli import Run, failed_requests, server_named
from tests.sim._restore import APP_1, ARM_1, NIGHTLY

DEBIAN_X86, DEBIAN_ARM, RETIRED = 2_000_001, 2_000_002, 2_000_008
# hcloud-python warns on every use of the datacenters client and the type-wide deprecation fields;
# they are what these tests are about
pytestmark = pytest.mark.filterwarnings("ignore:.*deprecat.*:DeprecationWarning")

# -- datacenters -----------------------------------------------------------------------------


def test_one_datacenter_per_location(cloud: hcloud.Client, world: SimulatorServer) -> None:
    datacenters = cloud.datacenters.get_all()
    assert [d.location.name for d in datacenters] == ["nbg1", "hel1", "fsn1", "ash", "hil", "sin"]
    assert set(world.state.scenario.catalog.locations) == {d.location.name for d in datacenters}
    fsn = cloud.datacenters.get_by_name("fsn1-dc14")
    assert (fsn.id, fsn.description, fsn.location.city) == (
        4,
        "Falkenstein 1 virtual DC 14",
        "Falkenstein",
    )
    assert cloud.datacenters.get_by_id(4).name == "fsn1-dc14"
    types = fsn.server_types
    supported = {t.id for t in types.supported}
    available = {t.id for t in types.available}
    assert 1 in supported
    assert 1 not in available
    assert {104, 45} <= available  # cx22, cax11
    ash = cloud.datacenters.get_by_name("ash-dc1")
    assert 104 not in {t.id for t in ash.server_types.supported}  # cx22 is EU-only


def test_datacenter_list_sorts_filters_and_refuses(wire: RawApi) -> None:
    body = wire.get("/datacenters", {"sort": "name:desc"}).json()
    assert [d["name"] for d in body["datacenters"]][:2] == ["sin-dc1", "nbg1-dc3"]
    assert body["recommendation"] == 2
    named = wire.get("/datacenters", {"name": "hel1-dc2"}).json()["datacenters"]
    assert [d["id"] for d in named] == [3]
    assert error_of(wire.get("/datacenters/99"))[:2] == (404, "not_found")
    assert error_of(wire.get("/datacenters", {"sort": "city"}))[:2] == (422, "invalid_input")


def test_create_in_a_datacenter_places_the_server_in_its_location(
    wire: RawApi, cloud: hcloud.Client
) -> None:
    body = {"name": "in-nbg", "server_type": "cx22", "image": NIGHTLY, "datacenter": "nbg1-dc3"}
    created = wire.post("/servers", body)
    assert created.status_code == 201
    assert created.json()["server"]["location"]["name"] == "nbg1"
    cloud.servers.get_by_name("in-nbg").delete()  # the world allows five servers
    by_id = wire.post("/servers", {**body, "name": "in-hel", "datacenter": 3})
    assert by_id.json()["server"]["location"]["name"] == "hel1"
    # the server type must be offered there
    refused = wire.post("/servers", {**body, "name": "x", "datacenter": "ash-dc1"})
    assert error_of(refused)[:2] == (422, "invalid_input")
    assert "not available in location ash" in error_of(refused)[2]
    assert "in-hel" in {s.name for s in cloud.servers.get_all()}
    assert "x" not in {s.name for s in cloud.servers.get_all()}


# -- the catalog's deprecated types ----------------------------------------------------------


def test_a_deprecated_type_carries_its_deprecation(cloud: hcloud.Client) -> None:
    cx11 = cloud.server_types.get_by_name("cx11")
    assert cx11.deprecated is True
    assert cx11.deprecation is not None
    assert cx11.deprecation.unavailable_after.year == 2024
    assert all(loc.deprecation is not None for loc in cx11.locations)
    assert cloud.server_types.get_by_id(1).name == "cx11"  # still gettable by id
    assert cloud.server_types.get_by_name("cx22").deprecation is None


# -- ISOs ------------------------------------------------------------------------------------


def test_public_isos_by_architecture(cloud: hcloud.Client, wire: RawApi) -> None:
    names = {i.name for i in cloud.isos.get_all()}
    assert "debian-12.8.0-amd64-netinst.iso" in names
    assert "debian-11.9.0-amd64-netinst.iso" not in names  # retired: no longer listed
    arm = cloud.isos.get_all(architecture=["arm"])
    assert {i.architecture for i in arm} == {"arm"}
    wildcard = cloud.isos.get_all(architecture=["arm"], include_architecture_wildcard=True)
    assert {i.id for i in wildcard} == {i.id for i in arm}  # no ISO here lacks one
    deprecated = [i for i in cloud.isos.get_all() if i.deprecation is not None]
    assert [i.name for i in deprecated] == ["ubuntu-22.04.4-live-server-amd64.iso"]
    retired = cloud.isos.get_by_id(RETIRED)  # still gettable by id
    assert retired.deprecation is not None
    assert cloud.isos.get_by_name("ipxe.iso").architecture == "x86"
    assert error_of(wire.get("/isos/1"))[:2] == (404, "not_found")
    assert error_of(wire.get("/isos", {"architecture": "sparc"}))[:2] == (422, "invalid_input")


def test_attach_and_detach_an_iso(cloud: hcloud.Client, world: SimulatorServer) -> None:
    server = cloud.servers.get_by_id(APP_1)
    action = server.attach_iso(cloud.isos.get_by_id(DEBIAN_X86))
    assert action.command == "attach_iso"
    assert world.state.server_by_name("app-1").lock_holders == {action.id}  # it locks
    action.wait_until_finished()
    server = cloud.servers.get_by_id(APP_1)
    assert server.iso is not None
    assert server.iso.name == "debian-12.8.0-amd64-netinst.iso"
    # another one replaces it
    server.attach_iso(cloud.isos.get_by_name("ipxe.iso")).wait_until_finished()
    assert cloud.servers.get_by_id(APP_1).iso.name == "ipxe.iso"
    detach = server.detach_iso()
    detach.wait_until_finished()
    assert cloud.servers.get_by_id(APP_1).iso is None
    # nothing attached: the action has already succeeded
    again = server.detach_iso()
    assert again.status == "success"


def test_attach_iso_refusals_change_nothing(wire: RawApi, world: SimulatorServer) -> None:
    before = world.state.ground_truth()
    cases = [
        (f"/servers/{APP_1}/actions/attach_iso", {"iso": str(DEBIAN_ARM)}, 422, "architecture"),
        (f"/servers/{ARM_1}/actions/attach_iso", {"iso": str(DEBIAN_X86)}, 422, "architecture"),
        (f"/servers/{APP_1}/actions/attach_iso", {"iso": str(RETIRED)}, 422, "unavailable"),
        (f"/servers/{APP_1}/actions/attach_iso", {"iso": "nope.iso"}, 422, "not found"),
        (f"/servers/{APP_1}/actions/attach_iso", {}, 422, "is required"),
        (f"/servers/{APP_1}/actions/attach_iso", {"iso": ["x"]}, 422, "must be"),
        (f"/servers/{NIGHTLY}/actions/attach_iso", {"iso": "ipxe.iso"}, 404, "not found"),
    ]
    for path, body, status, words in cases:
        got_status, _, message = error_of(wire.post(path, body))
        assert (got_status, words in message) == (status, True), (path, body, message)
    after = world.state.ground_truth()
    assert (after["isos"], after["actions"]) == (before["isos"], before["actions"])


def test_an_iso_goes_with_its_server(cloud: hcloud.Client, world: SimulatorServer) -> None:
    server = cloud.servers.get_by_id(APP_1)
    server.attach_iso(cloud.isos.get_by_id(DEBIAN_X86)).wait_until_finished()
    assert world.state.ground_truth()["isos"] == {str(APP_1): DEBIAN_X86}
    world.state.delete_server(APP_1)
    assert world.state.ground_truth()["isos"] == {}


def test_a_locked_server_refuses_an_iso(cloud: hcloud.Client, world: SimulatorServer) -> None:
    world.state.lock_server(APP_1, duration=None)
    with pytest.raises(APIException) as caught:
        cloud.servers.get_by_id(APP_1).attach_iso(cloud.isos.get_by_name("ipxe.iso"))
    assert caught.value.code == "locked"


# -- the official CLI ------------------------------------------------------------------------


@pytest.mark.gocli
def test_cli_lists_isos_and_datacenters(hcloud: Run, fast_sim: SimulatorServer) -> None:
    isos = hcloud("iso", "list", "-o", "columns=id,name", "-o", "noheader").stdout
    rows = {name: int(iso_id) for iso_id, name in (line.split() for line in isos.splitlines())}
    assert rows["debian-12.8.0-arm64-netinst.iso"] == DEBIAN_ARM
    assert "debian-11.9.0-amd64-netinst.iso" not in rows  # retired
    dcs = hcloud("datacenter", "list", "-o", "columns=name,location", "-o", "noheader").stdout
    assert [line.split() for line in dcs.splitlines()][:3] == [
        ["nbg1-dc3", "nbg1"],
        ["hel1-dc2", "hel1"],
        ["fsn1-dc14", "fsn1"],
    ]
    described = hcloud("datacenter", "describe", "fsn1-dc14").stdout
    assert re.search(r"Location:\s*\n\s+Name:\s+fsn1", described)
    assert not failed_requests(fast_sim)


@pytest.mark.gocli
def test_cli_creates_in_a_datacenter_and_attaches_an_iso(
    hcloud: Run, fast_sim: SimulatorServer
) -> None:
    hcloud(
        "server", "create", "--name", "dc", "--type", "cx22", "--image", "ubuntu-24.04",
        "--datacenter", "hel1-dc2",
    )  # fmt: skip
    assert server_named(fast_sim, "dc")["location"]["name"] == "hel1"
    hcloud("server", "attach-iso", "dc", "debian-12.8.0-amd64-netinst.iso")
    assert server_named(fast_sim, "dc")["iso"]["name"] == "debian-12.8.0-amd64-netinst.iso"
    hcloud("server", "detach-iso", "dc")
    assert server_named(fast_sim, "dc")["iso"] is None
    assert not failed_requests(fast_sim)
