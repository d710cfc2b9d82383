"""SSH keys: ``/ssh_keys`` through the SDK, raw bad input, ``POST /servers`` ``ssh_keys``, the CLI.

Keys are made with ``cryptography`` as OpenSSH writes them; the fingerprint the API must show is
the MD5 of the key blob in colon hex, checked against ``ssh-keygen`` where it is installed.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import hcloud
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from hcloud import APIException
from hcloud.images import Image
from hcloud.server_types import ServerType
from hcloud.ssh_keys import SSHKey

from hcloud_sim import SimulatorServer
from hcloud_sim.scenarios import ScenarioError, load_scenario
from tests.conftest import ClientFactory, SimFactory
from tests.sim._api import RawApi, error_of
from tests.sim._gocli import Run, failed_requests, server_named
from tests.sim._restore import APP_1, NIGHTLY


def new_key(kind: str = "ed25519") -> str:
    private = ed25519.Ed25519PrivateKey.generate() if kind == "ed25519" else None
    if private is None:
        private_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = private_rsa.public_key()
    else:
        public = private.public_key()  # type: ignore[assignment]
    raw = public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return raw.decode() + " someone@example"


def md5_fingerprint(public_key: str) -> str:
    digest = hashlib.md5(base64.b64decode(public_key.split()[1]), usedforsecurity=False)
    return ":".join(re.findall("..", digest.hexdigest()))


def test_create_shows_the_md5_fingerprint_and_finds_by_name_and_fingerprint(
    cloud: hcloud.Client, wire: RawApi, tmp_path: Path
) -> None:
    public_key = new_key()
    key = cloud.ssh_keys.create("laptop", public_key, labels={"owner": "ops"})
    assert key.fingerprint == md5_fingerprint(public_key)
    if shutil.which("ssh-keygen"):  # the fingerprint OpenSSH itself computes
        (tmp_path / "k.pub").write_text(public_key + "\n")
        out = subprocess.run(
            ["ssh-keygen", "-l", "-E", "md5", "-f", str(tmp_path / "k.pub")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert f"MD5:{key.fingerprint}" in out
    assert (key.name, key.public_key, key.labels) == ("laptop", public_key, {"owner": "ops"})
    rsa_key = cloud.ssh_keys.create("ci", new_key("rsa"))
    assert cloud.ssh_keys.get_by_name("laptop").id == key.id
    assert cloud.ssh_keys.get_by_fingerprint(rsa_key.fingerprint).id == rsa_key.id
    assert [k.name for k in cloud.ssh_keys.get_all(label_selector="owner=ops")] == ["laptop"]
    by_name = wire.get("/ssh_keys", {"sort": "name:desc"}).json()["ssh_keys"]
    assert [k["name"] for k in by_name] == ["laptop", "ci"]


def test_update_and_delete(cloud: hcloud.Client) -> None:
    key = cloud.ssh_keys.create("laptop", new_key())
    updated = key.update(name="laptop-2", labels={"team": "a"})
    assert (updated.name, updated.labels) == ("laptop-2", {"team": "a"})
    assert cloud.ssh_keys.get_by_id(key.id).name == "laptop-2"
    assert cloud.ssh_keys.delete(key) is True
    with pytest.raises(APIException) as caught:
        cloud.ssh_keys.get_by_id(key.id)
    assert caught.value.code == "not_found"


def test_names_and_fingerprints_are_unique(cloud: hcloud.Client, wire: RawApi) -> None:
    public_key = new_key()
    cloud.ssh_keys.create("laptop", public_key)
    same_name = wire.post("/ssh_keys", {"name": "laptop", "public_key": new_key()})
    assert error_of(same_name) == (409, "uniqueness_error", "SSH key name is already used")
    same_key = wire.post("/ssh_keys", {"name": "other", "public_key": public_key})
    assert error_of(same_key) == (
        409,
        "uniqueness_error",
        "SSH key with the same fingerprint already exists",
    )
    assert same_key.json()["error"]["details"] == {"fields": [{"name": "public_key"}]}
    other = cloud.ssh_keys.create("other", new_key())
    renamed = wire.put(f"/ssh_keys/{other.id}", {"name": "laptop"})
    assert error_of(renamed)[:2] == (409, "uniqueness_error")
    assert sorted(k.name for k in cloud.ssh_keys.get_all()) == ["laptop", "other"]


_GOOD = new_key()
_BLOB = _GOOD.split()[1]


@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        ({"name": "k", "public_key": "not a key"}, "public_key", "OpenSSH"),
        ({"name": "k", "public_key": "ssh-ed25519"}, "public_key", "OpenSSH"),
        ({"name": "k", "public_key": "ssh-ed25519 !!!notbase64"}, "public_key", "base64"),
        ({"name": "k", "public_key": f"ssh-rsa {_BLOB}"}, "public_key", "does not match"),
        ({"name": "k", "public_key": "ssh-ed25519 AAAA"}, "public_key", "truncated"),
        ({"name": "k", "public_key": 42}, "public_key", "must be a string"),
        ({"name": "k"}, "public_key", "is required"),
        ({"public_key": _GOOD}, "name", "is required"),
        ({"name": " ", "public_key": _GOOD}, "name", "must not be empty"),
        ({"name": "k", "public_key": _GOOD, "labels": {"a": "x y"}}, "labels", ""),
        ({"name": "k", "public_key": _GOOD, "labels": ["a"]}, "labels", "object"),
    ],
)
def test_bad_keys_are_refused_and_change_nothing(
    wire: RawApi, world: SimulatorServer, body: dict[str, object], field: str, problem: str
) -> None:
    status, code, message = error_of(wire.post("/ssh_keys", body))
    assert (status, code) == (422, "invalid_input")
    assert f"'{field}'" in message
    assert problem in message
    assert world.state.ground_truth()["ssh_keys"]["keys"] == []


def test_wrong_ids_and_selectors(cloud: hcloud.Client, wire: RawApi) -> None:
    key = cloud.ssh_keys.create("laptop", new_key())
    assert error_of(wire.get(f"/ssh_keys/{APP_1}"))[:2] == (404, "not_found")  # a server's id
    assert error_of(wire.get("/ssh_keys/laptop"))[:2] == (422, "invalid_input")
    assert error_of(wire.get("/ssh_keys", {"label_selector": "a in (b"}))[:2] == (
        422,
        "invalid_input",
    )
    assert error_of(wire.put(f"/ssh_keys/{key.id}", {"fingerprint": "x"}))[:2] == (
        422,
        "invalid_input",
    )
    assert error_of(wire.put(f"/ssh_keys/{key.id}", {"labels": {"": "x"}}))[:2] == (
        422,
        "invalid_input",
    )
    assert cloud.ssh_keys.get_by_id(key.id).labels == {}


def test_a_server_is_created_with_keys_by_id_and_name(
    cloud: hcloud.Client, world: SimulatorServer
) -> None:
    first = cloud.ssh_keys.create("laptop", new_key())
    second = cloud.ssh_keys.create("ci", new_key())
    created = cloud.servers.create(
        "with-keys",
        server_type=ServerType(name="cx22"),
        image=Image(id=NIGHTLY),
        ssh_keys=[SSHKey(id=first.id), SSHKey(name="ci")],
    )
    injected = world.state.ground_truth()["ssh_keys"]["injected"]
    assert injected == {str(created.server.id): [first.id, second.id]}
    cloud.servers.delete(created.server)
    assert world.state.ground_truth()["ssh_keys"]["injected"] == {}


def test_a_scenario_starts_with_keys(make_sim: SimFactory, make_client: ClientFactory) -> None:
    public_key = new_key()
    sim = make_sim(
        {"projects": [{"ssh_keys": [{"name": "ops", "public_key": public_key, "labels": {}}]}]}
    )
    keys = make_client(sim).ssh_keys.get_all()
    assert [(k.name, k.fingerprint) for k in keys] == [("ops", md5_fingerprint(public_key))]


@pytest.mark.gocli
def test_cli_creates_a_key_and_a_server_with_it(
    hcloud: Run, fast_sim: SimulatorServer, tmp_path: Path
) -> None:
    public_key = new_key()
    (tmp_path / "id.pub").write_text(public_key + "\n")
    out = hcloud(
        "ssh-key", "create", "--name", "ops", "--public-key-from-file", str(tmp_path / "id.pub")
    )
    m = re.fullmatch(r"SSH key (\d+) created\n", out.stdout)
    assert m, out.stdout
    listed = hcloud("ssh-key", "list", "-o", "columns=name,fingerprint", "-o", "noheader").stdout
    assert listed.split() == ["ops", md5_fingerprint(public_key)]
    hcloud(
        "server", "create", "--name", "keyed", "--type", "cx22", "--image", "ubuntu-24.04",
        "--ssh-key", "ops",
    )  # fmt: skip
    server = server_named(fast_sim, "keyed")
    assert fast_sim.state.ground_truth()["ssh_keys"]["injected"] == {str(server["id"]): [int(m[1])]}
    refused = hcloud(
        "server", "create", "--name", "x", "--type", "cx22", "--image", "ubuntu-24.04",
        "--ssh-key", "nobody", ok=False,
    )  # fmt: skip
    assert "nobody" in refused.stderr
    assert not [r for r in failed_requests(fast_sim) if r["endpoint"] != "/ssh_keys"]


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ([{"name": "k", "public_key": "ssh-ed25519 AAAA"}], "ssh key 'k': invalid SSH key"),
        ([{"name": "k", "public_key": _GOOD}, {"name": "k", "public_key": new_key()}], "twice"),
        ([{"name": "k", "public_key": _GOOD}, {"name": "j", "public_key": _GOOD}], "twice"),
        ([{"name": "k", "public_key": _GOOD, "labels": {"a": "b c"}}], "label"),
        ([{"name": "", "public_key": _GOOD}], "name"),
    ],
)
def test_a_bad_ssh_keys_section_fails_at_load(keys: list[dict[str, Any]], problem: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario({"name": "bad", "projects": [{"ssh_keys": keys}]})
    assert problem in str(caught.value)


@pytest.mark.gocli
def test_cli_labels_renames_describes_and_deletes_a_key(
    hcloud: Run, fast_sim: SimulatorServer
) -> None:
    public_key = new_key()
    hcloud("ssh-key", "create", "--name", "ops", "--public-key", public_key)
    hcloud("ssh-key", "add-label", "ops", "team=infra")
    hcloud("ssh-key", "update", "ops", "--name", "ops-2")
    described = hcloud("ssh-key", "describe", "ops-2").stdout
    assert re.search(rf"Fingerprint:\s+{md5_fingerprint(public_key)}", described)
    assert re.search(r"team:\s+infra", described)
    hcloud("ssh-key", "delete", "ops-2")
    assert fast_sim.state.ground_truth()["ssh_keys"]["keys"] == []
    assert not failed_requests(fast_sim)
