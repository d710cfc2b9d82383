"""Validate real HTTP exchanges against Hetzner's official OpenAPI document.

The document is ``../shared/hcloud-openapi.json`` beside the repository (or
``$HCLOUD_OPENAPI_SPEC``).
Two deviations of Hetzner's file from OpenAPI 3.1 are normalised before loading: response keys
``4xx``/``5xx`` become ``4XX``/``5XX``, and the server URL becomes ``/v1`` so that requests to a
loopback simulator resolve to the same paths.
"""

from __future__ import annotations

import json
import os
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


def load_openapi(path: Path) -> OpenAPI:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
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
