"""The official ``hcloud`` Go CLI works against the simulator unchanged.

Hetzner's own client (Debian package ``hcloud-cli``) is run as a subprocess with
``HCLOUD_ENDPOINT`` pointing at a simulator (fixtures in ``conftest.py``, helpers in
``_gocli.py``). What it prints and what the simulator's ground truth says afterwards must agree.
The CLI waits on actions by polling ``GET /actions?id=..`` every 500 ms (1.30.3 ignores
``--poll-interval``), so the simulator runs fast enough (600x) that every action it waits on is
over before its first poll.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hcloud_sim import SimulatorServer
from tests.conftest import SimFactory
from tests.sim._gocli import Run, failed_requests, runner, server_named

pytestmark = pytest.mark.gocli

LOCKED = "cannot perform operation because server is locked"


def test_server_list_shows_the_demo_fleet(hcloud: Run, fast_sim: SimulatorServer) -> None:
    out = hcloud("server", "list").stdout
    rows = {line.split()[1]: line for line in out.splitlines()[1:] if line.strip()}
    servers = fast_sim.state.ground_truth()["servers"]
    assert set(rows) == {s["name"] for s in servers}
    for server in servers:
        assert rows[server["name"]].split()[0] == str(server["id"])
    assert "203.0.113.2" in rows["web-1"]
    assert "off" in rows["batch-1"].split()
    # the private network column resolves the network's name through GET /networks; the
    # simulator handed out the subnet's first address after the gateway 10.0.0.1
    assert "10.0.0.2 (private)" in rows["internal-1"]
    assert not failed_requests(fast_sim)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("web-1", [r"IP:\s+203\.0\.113\.2", r"IP:\s+2001:db8:1::/64", r"env: prod"]),
        ("edge-v6", [r"No Primary IPv4", r"IP:\s+2001:db8:7::/64"]),
        (
            "internal-1",
            [r"No Primary IPv4", r"No Primary IPv6", r"Name:\s+private", r"10\.0\.0\.2"],
        ),
    ],
)
def test_server_describe(
    hcloud: Run, fast_sim: SimulatorServer, name: str, expected: list[str]
) -> None:
    out = hcloud("server", "describe", name).stdout
    server = server_named(fast_sim, name)
    assert re.search(rf"^ID:\s+{server['id']}$", out, re.MULTILINE)
    assert re.search(rf"^Name:\s+{name}$", out, re.MULTILINE)
    assert re.search(r"^Status:\s+running$", out, re.MULTILINE)
    for pattern in expected:
        assert re.search(pattern, out), f"{pattern!r} not in:\n{out}"
    assert not failed_requests(fast_sim)


def test_create_image_waits_for_the_snapshot(hcloud: Run, fast_sim: SimulatorServer) -> None:
    web1 = server_named(fast_sim, "web-1")
    result = hcloud("server", "create-image", "--type", "snapshot", "--description", "d", "web-1")
    m = re.search(r"Image (\d+) created from server (\d+)", result.stdout, re.IGNORECASE)
    assert m, result.stdout
    image_id, server_id = int(m[1]), int(m[2])
    assert server_id == web1["id"]

    truth = fast_sim.state.ground_truth()
    assert truth["created_images"] == [image_id]
    image = next(i for i in truth["images"] if i["id"] == image_id)
    assert image["type"] == "snapshot"
    assert image["description"] == "d"
    assert image["created_from"] == {"id": web1["id"], "name": "web-1"}
    # the CLI returns once the action is over, so the image is already available
    assert image["status"] == "available"
    assert image["image_size"] is not None
    (action,) = [
        a
        for a in truth["actions"]
        if a["command"] == "create_image" and {"id": image_id, "type": "image"} in a["resources"]
    ]
    assert action["status"] == "success"
    # it waited through the batch endpoint, not the removed GET /actions
    counts = fast_sim.state.request_counts()
    assert any(c["endpoint"] == "/actions" and c["status"] == 200 for c in counts)
    assert not failed_requests(fast_sim)

    listed = hcloud("image", "list", "--type", "snapshot").stdout
    rows = {int(line.split()[0]): line for line in listed.splitlines()[1:] if line.strip()}
    snapshots = {i["id"] for i in truth["images"] if i["type"] == "snapshot"}
    assert set(rows) == snapshots
    assert rows[image_id].split()[1:4] == ["snapshot", "-", "d"]


def test_image_delete(hcloud: Run, fast_sim: SimulatorServer) -> None:
    images = fast_sim.state.ground_truth()["images"]
    target = next(i for i in images if i["description"] == "web-1 before upgrade")
    result = hcloud("image", "delete", str(target["id"]))
    assert re.search(rf"image {target['id']} deleted", result.stdout, re.IGNORECASE)
    assert target["id"] not in {i["id"] for i in fast_sim.state.ground_truth()["images"]}
    assert not failed_requests(fast_sim)

    protected = next(i for i in images if i["protection"]["delete"])
    refused = hcloud("image", "delete", str(protected["id"]), ok=False)
    # the API's own words, as the official CLI's end-to-end tests expect them
    assert "snapshot deletion is protected (protected)" in refused.stderr
    assert protected["id"] in {i["id"] for i in fast_sim.state.ground_truth()["images"]}


def test_shutdown_then_poweron(hcloud: Run, fast_sim: SimulatorServer) -> None:
    web3 = server_named(fast_sim, "web-3")
    # newer CLIs can wait for the server to be off; 1.30.3 only waits for the ACPI action
    waits = "--wait" in hcloud("server", "shutdown", "--help").stdout
    extra = ["--wait", "--wait-timeout", "20s"] if waits else []
    result = hcloud("server", "shutdown", *extra, "web-3")
    assert re.search(rf"Server {web3['id']} shut down", result.stdout, re.IGNORECASE)
    actions = fast_sim.state.ground_truth()["actions"]
    assert [a["status"] for a in actions if a["command"] == "shutdown_server"] == ["success"]
    if not waits:
        fast_sim.state.clock.advance(60)  # the guest halts a few simulated seconds after ACPI
    assert server_named(fast_sim, "web-3")["status"] == "off"
    described = hcloud("server", "describe", "web-3").stdout
    assert re.search(r"^Status:\s+off$", described, re.MULTILINE)

    result = hcloud("server", "poweron", "web-3")
    assert re.search(rf"Server {web3['id']} started", result.stdout, re.IGNORECASE)
    actions = fast_sim.state.ground_truth()["actions"]
    assert [a["status"] for a in actions if a["command"] == "start_server"] == ["success"]
    assert server_named(fast_sim, "web-3")["status"] == "running"
    assert not failed_requests(fast_sim)


def test_create_image_on_a_locked_server_fails(hcloud: Run, fast_sim: SimulatorServer) -> None:
    web1 = server_named(fast_sim, "web-1")
    holder = fast_sim.state.lock_server(web1["id"], duration=None)  # never ends
    result = hcloud(
        "server", "create-image", "--type", "snapshot", "--description", "d", "web-1", ok=False
    )
    assert LOCKED in result.stderr
    assert fast_sim.state.ground_truth()["created_images"] == []
    refused = hcloud("server", "shutdown", "web-1", ok=False)
    assert LOCKED in refused.stderr
    assert server_named(fast_sim, "web-1")["lock_holders"] == [holder]


def test_create_image_on_a_demo_server_that_starts_locked(
    hcloud_bin: str, make_sim: SimFactory, tmp_path: Path
) -> None:
    sim = make_sim("demo", time_scale=1)  # db-1's own snapshot runs for 120 real seconds
    hcloud = runner(hcloud_bin, sim, tmp_path)
    assert server_named(sim, "db-1")["lock_holders"]
    result = hcloud("server", "create-image", "--type", "snapshot", "db-1", ok=False)
    assert LOCKED in result.stderr
    assert sim.state.ground_truth()["created_images"] == []


def test_invalid_token_is_reported(hcloud: Run, fast_sim: SimulatorServer) -> None:
    result = hcloud("server", "list", token="not-a-real-token", ok=False)
    assert "the token you have provided is invalid" in result.stderr
    assert result.stdout == ""
    assert [c["status"] for c in failed_requests(fast_sim)] == [401]


def test_read_only_token_cannot_shut_down(hcloud: Run, fast_sim: SimulatorServer) -> None:
    assert "web-1" in hcloud("server", "list", token="sim-readonly").stdout
    result = hcloud("server", "shutdown", "web-1", token="sim-readonly", ok=False)
    assert "token_readonly" in result.stderr
    assert server_named(fast_sim, "web-1")["status"] == "running"
    assert not [
        a for a in fast_sim.state.ground_truth()["actions"] if a["command"] == "shutdown_server"
    ]
