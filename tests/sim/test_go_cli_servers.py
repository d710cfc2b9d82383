"""The official ``hcloud`` Go CLI restores with the simulator unchanged: server types, create
from a snapshot, rebuild, protection, delete. Fixtures in ``conftest.py`` (600x demo world).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from hcloud_sim import SimulatorServer
from tests.sim._gocli import Run, failed_requests, server_named

pytestmark = pytest.mark.gocli


def _snapshot(sim: SimulatorServer, description: str) -> dict[str, Any]:
    images = sim.state.ground_truth()["images"]
    return next(i for i in images if i["description"] == description)


def _server_names(sim: SimulatorServer) -> set[str]:
    return {s["name"] for s in sim.state.ground_truth()["servers"]}


def test_server_type_list_shows_the_catalog(hcloud: Run, fast_sim: SimulatorServer) -> None:
    out = hcloud("server-type", "list", "-o", "columns=name,cores,disk").stdout
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:] if line.strip()}
    assert set(rows) == {t.name for t in fast_sim.state.scenario.catalog.server_types}
    assert rows["cx22"] == ["2", "40", "GB"]
    assert rows["cx32"] == ["4", "80", "GB"]
    described = hcloud("server-type", "describe", "cax11").stdout
    assert re.search(r"Monthly:\s+€ 4\.5101", described)  # 3.79 net + 19 % VAT
    assert not failed_requests(fast_sim)


def test_create_from_a_snapshot_waits_until_it_runs(hcloud: Run, fast_sim: SimulatorServer) -> None:
    snapshot = _snapshot(fast_sim, "web-1 before upgrade")
    result = hcloud(
        "server", "create", "--name", "web-1-restored", "--type", "cx22",
        "--image", str(snapshot["id"]), "--location", "nbg1", "--label", "restored=yes",
        "--without-ipv4",
    )  # fmt: skip
    m = re.search(r"Server (\d+) created", result.stdout)
    assert m, result.stdout
    server = server_named(fast_sim, "web-1-restored")
    assert server["id"] == int(m[1])
    # the CLI returned after create_server and start_server: the server runs
    assert server["status"] == "running"
    assert server["image"]["id"] == snapshot["id"]
    assert (server["location"]["name"], server["labels"]) == ("nbg1", {"restored": "yes"})
    assert server["public_net"]["ipv4"] is None
    assert "IPv4" not in result.stdout
    assert "IPv6: 2001:db8:" in result.stdout
    assert not failed_requests(fast_sim)


def test_rebuild_and_delete(hcloud: Run, fast_sim: SimulatorServer) -> None:
    snapshot = _snapshot(fast_sim, "web-1 before upgrade")
    web3 = server_named(fast_sim, "web-3")
    result = hcloud("server", "rebuild", "--image", str(snapshot["id"]), "web-3")
    # 1.30.3 names the image by its name, which snapshots do not have
    assert f"Server {web3['id']} rebuilt with image" in result.stdout
    rebuilt = server_named(fast_sim, "web-3")
    assert (rebuilt["status"], rebuilt["image"]["id"]) == ("running", snapshot["id"])

    result = hcloud("server", "delete", "web-3")
    assert "Server web-3 deleted" in result.stdout
    assert "web-3" not in _server_names(fast_sim)
    assert web3["id"] in fast_sim.state.ground_truth()["deleted_servers"]
    assert not failed_requests(fast_sim)


def test_protection_refuses_delete_and_rebuild(hcloud: Run, fast_sim: SimulatorServer) -> None:
    hcloud("server", "enable-protection", "web-1", "delete", "rebuild")
    refused = hcloud("server", "delete", "web-1", ok=False)
    assert "server deletion is protected (protected)" in refused.stderr
    refused = hcloud("server", "rebuild", "--image", "debian-12", "web-1", ok=False)
    assert "server rebuild is protected (protected)" in refused.stderr
    assert "web-1" in _server_names(fast_sim)
    hcloud("server", "disable-protection", "web-1", "delete", "rebuild")
    hcloud("server", "delete", "web-1")
    assert "web-1" not in _server_names(fast_sim)


def test_a_refused_create_is_reported_and_nothing_is_made(
    hcloud: Run, fast_sim: SimulatorServer
) -> None:
    snapshot = _snapshot(fast_sim, "web-1 before upgrade")
    before = _server_names(fast_sim)
    refused = hcloud(
        "server", "create", "--name", "x", "--type", "cax11", "--image", str(snapshot["id"]),
        ok=False,
    )  # fmt: skip
    assert "image has wrong architecture (invalid_input)" in refused.stderr
    taken = hcloud(
        "server", "create", "--name", "web-2", "--type", "cx22", "--image", str(snapshot["id"]),
        ok=False,
    )  # fmt: skip
    assert "server name is already used (uniqueness_error)" in taken.stderr
    assert _server_names(fast_sim) == before
