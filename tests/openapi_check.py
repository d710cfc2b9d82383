"""Validate real HTTP exchanges against Hetzner's official OpenAPI document.

The document is ``../shared/hcloud-openapi.json`` beside the repository (or
``$HCLOUD_OPENAPI_SPEC``).
Two deviations of Hetzner's file from OpenAPI 3.1 are normalised before loading: response keys
``4xx``/``5xx`` become ``4XX``/``5XX``, and the server URL becomes ``/v1`` so that requests to a
loopback simulator resolve to the same paths.

The API has moved on since the document was written: ``POST_DOCUMENT_CHANGES`` lists each change
the simulator follows (with its source), and each one rewrites the document before it is loaded,
so those exchanges are still validated, against the API as it is now, never skipped.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

REPO = Path(__file__).resolve().parent.parent


def spec_path() -> Path:
    env = os.environ.get("HCLOUD_OPENAPI_SPEC")
    return Path(env) if env else REPO.parent / "shared" / "hcloud-openapi.json"


Document = dict[str, Any]


def _json_body(operation: Document) -> Document:
    schema: Document = operation["requestBody"]["content"]["application/json"]["schema"]
    return schema


def _lb_delete_answers_action(document: Document) -> None:
    """DELETE /load_balancers/{id}: 200 with ``{"action"}`` (as DELETE /servers/{id}), not 204."""
    answer = document["paths"]["/servers/{id}"]["delete"]["responses"]["200"]
    responses = document["paths"]["/load_balancers/{id}"]["delete"]["responses"]
    responses.pop("204", None)
    responses["200"] = copy.deepcopy(answer)


def _lb_create_takes_primary_ips(document: Document) -> None:
    """POST /load_balancers ``public_net: {ipv4, ipv6}``: ids of existing Primary IPs."""
    primary_id = {"type": ["integer", "null"], "format": "int64", "minimum": 1}
    _json_body(document["paths"]["/load_balancers"]["post"])["properties"]["public_net"] = {
        "type": "object",
        "properties": {"ipv4": primary_id, "ipv6": primary_id},
        "additionalProperties": False,
    }


def _primary_ip_held_by_lb(document: Document) -> None:
    """A Primary IP's ``assignee_type`` may be ``load_balancer`` (one a load balancer holds)."""

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            found = node.get("properties", {}).get("assignee_type")
            if isinstance(found, dict) and found.get("enum") == ["server"]:
                found["enum"] = ["server", "load_balancer"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path, item in document["paths"].items():
        if path.startswith("/primary_ips"):
            for method in ("get", "put"):
                if method in item:
                    walk(item[method]["responses"])
            if "post" in item:
                walk(item["post"]["responses"])


#: (what changed, where it is announced, how the document is brought up to date). Keep short:
#: every entry is a place where the simulator deliberately answers other than the document.
POST_DOCUMENT_CHANGES: tuple[tuple[str, str, Callable[[Document], None]], ...] = (
    (
        "Deleting a Load Balancer returns an Action",
        "Hetzner changelog 2026-10-05; hcloud-python 2.27.0, hcloud-go 2.52.0",
        _lb_delete_answers_action,
    ),
    (
        "Load Balancers can use existing Primary IPs (POST /load_balancers public_net)",
        "Hetzner changelog 2026-10-05; hcloud-python 2.27.0 LoadBalancerCreatePublicNetwork",
        _lb_create_takes_primary_ips,
    ),
    (
        "A Primary IP held by a Load Balancer shows assignee_type load_balancer",
        "Hetzner changelog 2026-10-05 (Primary IPs assigned for the Load Balancer's lifetime)",
        _primary_ip_held_by_lb,
    ),
)


def load_openapi(path: Path) -> OpenAPI:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    for _, _, bring_up_to_date in POST_DOCUMENT_CHANGES:
        bring_up_to_date(document)
    document["servers"] = [{"url": "/v1"}]
    for item in document["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"] = {k.upper(): v for k, v in operation["responses"].items()}
    return OpenAPI.from_dict(document)


@dataclass
class ExchangeValidator:
    """A ``requests`` response hook that validates every JSON response it sees."""

    api: OpenAPI
    checked: int = 0
    failures: list[str] = field(default_factory=list)

    def validate(self, response: requests.Response) -> None:
        if response.status_code == 204 and not response.content:
            # the document declares DELETE /images/{id} as 204 without content
            self.checked += 1
            return
        try:
            self.api.validate_response(
                RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response)
            )
        except Exception as exc:  # noqa: BLE001 -- every validator failure is reported as data
            cause = exc.__cause__ or exc
            self.failures.append(
                f"{response.request.method} {response.request.path_url} -> "
                f"{response.status_code}: {exc!r} / {cause!r}"[:4000]
            )
        self.checked += 1

    def hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        del args, kwargs
        self.validate(response)
        return response
