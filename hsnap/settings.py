"""Where hsnap talks to and with which token; read from the environment or a Prefect Secret block.

The token is never a parameter, never logged and never part of ``repr``: it lives in a ``SecretStr``
and only ``cloud.py`` reads it, to build the HTTP client.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from hsnap.errors import ConfigError

DEFAULT_ENDPOINT = "https://api.hetzner.cloud/v1"
DEFAULT_TOKEN_SECRET = "hcloud-token"  # noqa: S105 -- the name of a Secret block, not a secret


class Settings(BaseModel):
    """Connection settings for one Hetzner project."""

    model_config = ConfigDict(frozen=True)

    token: SecretStr
    endpoint: str = DEFAULT_ENDPOINT
    #: the Hetzner project's name as hsnap reports it (events, reports); "default" for the
    #: single-token paths (HCLOUD_TOKEN, the hcloud-token Secret block)
    project: str = "default"
    #: the project's default label selector (from its HetznerProject block), used when a run
    #: gives none
    label_selector: str | None = None
    time_scale: float = Field(default=1.0, gt=0)
    http_timeout: float = Field(default=30.0, gt=0, description="seconds per HTTP request")

    @field_validator("endpoint")
    @classmethod
    def _safe_endpoint(cls, value: str) -> str:
        check_endpoint(value)
        return value.rstrip("/")


def check_endpoint(endpoint: str) -> None:
    """Refuse to send a token over plain http to anything but a loopback address."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"HCLOUD_ENDPOINT {endpoint!r} is not an http(s) URL")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"refusing to send the API token over plain http to {parts.hostname}: "
            "use https, or a loopback address for a local simulator"
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_settings(
    token_secret: str | None = DEFAULT_TOKEN_SECRET, project: str | None = None
) -> Settings:
    """Settings from ``HCLOUD_TOKEN``/``HCLOUD_ENDPOINT``/``HSNAP_TIME_SCALE``.

    Without ``HCLOUD_TOKEN`` the token is read from the Prefect Secret block ``token_secret``.
    With ``project``, token, endpoint and name come from that ``HetznerProject`` block instead
    (its endpoint passes the same safety check).
    """
    if project:
        from hsnap.projects.block import project_settings  # noqa: PLC0415 -- imports Prefect

        return project_settings(project, _time_scale())
    endpoint = os.environ.get("HCLOUD_ENDPOINT") or DEFAULT_ENDPOINT
    check_endpoint(endpoint)
    token = os.environ.get("HCLOUD_TOKEN") or _token_from_block(token_secret)
    return Settings(token=SecretStr(token), endpoint=endpoint, time_scale=_time_scale())


def _time_scale() -> float:
    try:
        scale = float(os.environ.get("HSNAP_TIME_SCALE") or 1.0)
    except ValueError:
        raise ConfigError("HSNAP_TIME_SCALE must be a number (1 for the real API)") from None
    if scale <= 0:
        raise ConfigError("HSNAP_TIME_SCALE must be > 0 (1 for the real API)")
    return scale


def _token_from_block(name: str | None) -> str:
    missing = (
        "no Hetzner API token: set HCLOUD_TOKEN, or store it in a Prefect Secret block "
        f"named {name or DEFAULT_TOKEN_SECRET!r} (hsnap setup does this)"
    )
    if not name:
        raise ConfigError(missing)
    from prefect.blocks.system import Secret  # noqa: PLC0415 -- only when no env token is set

    try:
        secret: Any = Secret.load(name)  # sync call: returns the block, typed as maybe-awaitable
    except ValueError:
        raise ConfigError(missing) from None
    value = secret.get()
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"the Prefect Secret block {name!r} holds no token string")
    return value.strip()
