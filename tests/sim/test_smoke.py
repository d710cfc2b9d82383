"""The simulator answers the real SDK, and the schema check catches a response that is wrong."""

from __future__ import annotations

import hcloud
import requests

from hcloud_sim import SimulatorServer
from tests.openapi_check import ExchangeValidator


def test_demo_fleet_lists_through_the_sdk(client: hcloud.Client) -> None:
    names = {s.name for s in client.servers.get_all()}
    assert len(names) == 12
    assert {"web-1", "edge-v6", "internal-1", "batch-1"} <= names


def test_schema_check_rejects_a_server_missing_required_fields(
    sim: SimulatorServer, openapi: object
) -> None:
    validator = ExchangeValidator(openapi)  # type: ignore[arg-type]
    response = requests.get(
        f"{sim.url}/servers/100001", headers={"Authorization": "Bearer sim-token"}, timeout=5
    )
    broken = response.json()
    del broken["server"]["public_net"]
    response._content = requests.compat.json.dumps(broken).encode()  # type: ignore[attr-defined]
    validator.validate(response)
    assert validator.failures, "the validator accepted a server without public_net"
