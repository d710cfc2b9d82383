"""Certificates, uploaded and managed, through the SDK, raw HTTP and the official Go CLI; every
response checked against the OpenAPI document. The restore world runs at 1x and tests move its
clock, so a managed certificate is seen ``pending`` and then ``completed`` (or ``failed``).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import hcloud
import pytest
from hcloud import APIException

from hcloud_sim import SimulatorServer
from hcloud_sim.resources.certificates.pem import self_signed
from tests.conftest import ClientFactory, SimFactory
from tests.sim._api import RawApi, error_of
from tests.sim._gocli import Run, failed_requests
from tests.sim._restore import APP_1, RESTORE

ISSUE_S = 5  # the project's default duration of create_certificate / issue_certificate
DAY = 86400.0


def _certs(world: SimulatorServer) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = world.state.ground_truth()["certificates"]
    return found


def test_uploaded_shows_what_the_pem_says_and_never_the_key(
    cloud: hcloud.Client, wire: RawApi, world: SimulatorServer
) -> None:
    start = world.state.clock.now() - 10 * DAY
    pem, key = self_signed(["shop.example.com", "www.shop.example.com"], start, days=30)
    cert = cloud.certificates.create(
        name="shop", certificate=pem, private_key=key, labels={"env": "prod"}
    )
    assert (cert.type, cert.labels) == ("uploaded", {"env": "prod"})
    assert cert.domain_names == ["shop.example.com", "www.shop.example.com"]
    assert re.fullmatch(r"([0-9a-f]{2}:){31}[0-9a-f]{2}", cert.fingerprint or "")
    assert cert.not_valid_before == dt.datetime.fromtimestamp(int(start), dt.UTC)
    assert cert.not_valid_after == dt.datetime.fromtimestamp(int(start) + 30 * DAY, dt.UTC)
    assert cert.certificate == pem
    raw = wire.get(f"/certificates/{cert.id}").text
    assert "PRIVATE KEY" not in raw
    assert wire.get(f"/certificates/{cert.id}").json()["certificate"]["status"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"certificate": "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"},
         "certificate"),
        ({"private_key": "not a key"}, "private_key"),
        ({"private_key": self_signed(["other.example"], 0)[1]}, "private_key"),  # not its key
        ({"certificate": None}, "certificate"),
        ({"type": "self-signed"}, "type"),
        ({"type": "managed", "domain_names": []}, "domain_names"),
        ({"type": "managed", "domain_names": ["not a domain"]}, "domain_names.0"),
    ],
)  # fmt: skip
def test_bad_bodies_are_refused_without_echo(
    wire: RawApi, world: SimulatorServer, body: dict[str, Any], field: str
) -> None:
    pem, key = self_signed(["shop.example.com"], world.state.clock.now())
    full = {"name": "shop", "certificate": pem, "private_key": key, **body}
    if full.get("type") == "managed":
        del full["certificate"], full["private_key"]
    refused = wire.post("/certificates", {k: v for k, v in full.items() if v is not None})
    status, code, message = error_of(refused)
    assert (status, code) == (422, "invalid_input")
    assert f"'{field}'" in message
    assert "PRIVATE KEY" not in refused.text
    assert "nope" not in refused.text
    assert _certs(world) == []


def test_managed_is_issued_by_a_timed_action(cloud: hcloud.Client) -> None:
    created = cloud.certificates.create_managed(name="m", domain_names=["*.example.com"])
    cert = created.certificate
    assert cert.type == "managed"
    assert cert.status.issuance == "pending"
    assert (cert.certificate, cert.fingerprint) == (None, None)
    assert created.action.command == "create_certificate"
    created.action.wait_until_finished()
    issued = cloud.certificates.get_by_id(cert.id)
    assert issued.status.issuance == "completed"
    assert issued.domain_names == ["*.example.com"]
    assert issued.certificate.startswith("-----BEGIN CERTIFICATE-----")
    assert issued.not_valid_after - issued.not_valid_before == dt.timedelta(days=90)
    actions = cloud.certificates.get_actions_list(issued).actions
    assert [(a.command, a.status) for a in actions] == [("create_certificate", "success")]


def test_managed_for_an_unknown_zone_fails_and_retry_runs_again(cloud: hcloud.Client) -> None:
    created = cloud.certificates.create_managed(name="bad", domain_names=["shop.invalid"])
    with pytest.raises(hcloud.actions.ActionFailedException):
        created.action.wait_until_finished()
    failed = cloud.certificates.get_by_id(created.certificate.id)
    assert failed.status.issuance == "failed"
    assert failed.status.error.code == "dns_zone_not_found"
    retried = failed.retry_issuance()
    assert retried.command == "issue_certificate"
    assert cloud.certificates.get_by_id(failed.id).status.issuance == "pending"
    # retrying what did not fail is refused
    ok = cloud.certificates.create_managed(name="ok", domain_names=["ok.example.com"])
    with pytest.raises(APIException) as refused:
        cloud.certificates.retry_issuance(ok.certificate)
    assert refused.value.code == "unsupported_error"


def test_list_filters_update_and_delete(
    cloud: hcloud.Client, world: SimulatorServer, wire: RawApi
) -> None:
    pem, key = self_signed(["a.example.com"], world.state.clock.now())
    cloud.certificates.create(name="up", certificate=pem, private_key=key, labels={"k": "v"})
    cloud.certificates.create_managed(name="man", domain_names=["b.example.com"])
    managed = wire.get("/certificates", {"type": "managed"}).json()["certificates"]
    assert [c["name"] for c in managed] == ["man"]
    assert [c.name for c in cloud.certificates.get_all(label_selector="k=v")] == ["up"]
    up = cloud.certificates.get_by_name("up")
    assert up is not None
    renamed = cloud.certificates.update(up, name="up2", labels={})
    assert (renamed.name, renamed.labels) == ("up2", {})
    with pytest.raises(APIException) as taken:
        cloud.certificates.update(up, name="man")
    assert taken.value.code == "uniqueness_error"
    assert cloud.certificates.delete(up) is True
    assert [c["name"] for c in _certs(world)] == ["man"]


def test_a_certificate_in_use_cannot_be_deleted(wire: RawApi, world: SimulatorServer) -> None:
    pem, key = self_signed(["a.example.com"], world.state.clock.now())
    cid = wire.post("/certificates", {"name": "c", "certificate": pem, "private_key": key}).json()[
        "certificate"
    ]["id"]
    wire.post(
        "/load_balancers",
        {"name": "lb", "load_balancer_type": "lb11", "location": "fsn1",
         "services": [{"protocol": "https", "http": {"certificates": [cid]}}]},
    )  # fmt: skip
    refused = wire.session.delete(f"{wire.url}/certificates/{cid}")
    assert error_of(refused) == (
        422,
        "resource_in_use",
        f"certificate with ID '{cid}' is still in use",
    )
    assert [c["id"] for c in _certs(world)] == [cid]


def test_unknown_ids_and_ids_of_another_kind(wire: RawApi) -> None:
    for cid in (1_899_999, APP_1):
        assert error_of(wire.get(f"/certificates/{cid}")) == (
            404,
            "not_found",
            f"certificate with ID '{cid}' not found",
        )
        assert error_of(wire.post(f"/certificates/{cid}/actions/retry"))[:2] == (404, "not_found")
    assert error_of(wire.get("/certificates", {"type": "wildcard"}))[:2] == (422, "invalid_input")
    assert error_of(wire.get("/certificates", {"label_selector": "a in ("}))[:2] == (
        422,
        "invalid_input",
    )


def test_scenario_section(make_sim: SimFactory, make_client: ClientFactory) -> None:
    project = {
        **RESTORE["projects"][0],
        "certificates": [
            {"name": "up", "domain_names": ["up.example.com"]},
            {"name": "failing", "type": "managed", "domain_names": ["f.example.com"],
             "issuance": "failed"},
            {"name": "issuing", "type": "managed", "issuance": "pending"},
        ],
    }  # fmt: skip
    sim = make_sim({**RESTORE, "projects": [project]}, time_scale=1)
    client = make_client(sim)
    up, failing, issuing = (
        client.certificates.get_by_name(n) for n in ("up", "failing", "issuing")
    )
    assert up is not None
    assert failing is not None
    assert issuing is not None
    assert (up.type, up.domain_names) == ("uploaded", ["up.example.com"])
    assert failing.status.issuance == "failed"
    assert issuing.status.issuance == "pending"
    sim.state.clock.advance(ISSUE_S)
    assert client.certificates.get_by_id(issuing.id).status.issuance == "completed"
    # a failure seeded by the scenario is one a retry can cure
    client.certificates.retry_issuance(failing)
    sim.state.clock.advance(ISSUE_S)
    assert client.certificates.get_by_id(failing.id).status.issuance == "completed"


# -- the official Go CLI ----------------------------------------------------------------------


@pytest.mark.gocli
def test_go_cli_create_uploaded(hcloud: Run, fast_sim: SimulatorServer, tmp_path: Path) -> None:
    pem, key = self_signed(["cli.example.com"], fast_sim.state.clock.now())
    (tmp_path / "cert.pem").write_text(pem)
    (tmp_path / "key.pem").write_text(key)
    out = hcloud(
        "certificate", "create", "--name", "cli", "--cert-file", str(tmp_path / "cert.pem"),
        "--key-file", str(tmp_path / "key.pem"),
    ).stdout  # fmt: skip
    (cert,) = fast_sim.state.ground_truth()["certificates"]
    assert out == f"Certificate {cert['id']} created\n"
    assert cert["domain_names"] == ["cli.example.com"]
    listed = hcloud("certificate", "list").stdout
    assert re.search(rf"^{cert['id']}\s+cli\s+uploaded\s+cli\.example\.com", listed, re.MULTILINE)
    assert not failed_requests(fast_sim)
