"""Where hsnap talks to and with which token; read from the environment or a Prefect Secret block.

The token is never a parameter, never logged and never part of ``repr``: it lives in a ``SecretStr``
and only ``cloud.py`` reads it, to build the HTTP client.
"""

from __future__ import annotations

import math
import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from hsnap.endpoint import check_endpoint
from hsnap.errors import ConfigError

DEFAULT_ENDPOINT = "https://api.hetzner.cloud/v1"
DEFAULT_TOKEN_SECRET = "hcloud-token"  # noqa: S105 -- the name of a Secret block, not a secret
#: beyond this hsnap's scaled clock (monotonic seconds x scale) loses its precision
MAX_TIME_SCALE = 1e6


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
    #: requests of the project's budget left to its other clients (None: a quarter of it)
    reserve: int | None = Field(default=None, ge=0)
    time_scale: float = Field(default=1.0, gt=0, le=MAX_TIME_SCALE, allow_inf_nan=False)
    http_timeout: float = Field(default=30.0, gt=0, description="seconds per HTTP request")

    @field_validator("token")
    @classmethod
    def _header_safe_token(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value()
        if not token.isascii() or not token.isprintable() or " " in token:
            # it goes into an HTTP header, where requests would fail with a confusing error
            raise ConfigError(
                "the API token has spaces, control or non-ASCII characters: copy again"
            )
        return value

    @field_validator("endpoint")
    @classmethod
    def _safe_endpoint(cls, value: str) -> str:
        check_endpoint(value)
        return value.rstrip("/")


def load_settings(
    token_secret: str | None = DEFAULT_TOKEN_SECRET,
    project: str | None = None,
    *,
    may_start_prefect: bool = True,
) -> Settings:
    """Settings from ``HCLOUD_TOKEN``/``HCLOUD_ENDPOINT``/``HSNAP_TIME_SCALE``, checked.

    Without ``HCLOUD_TOKEN`` the token is read from the Prefect Secret block ``token_secret``.
    With ``may_start_prefect`` off (the CLI's checks before a run) that happens only when a
    Prefect API is configured: otherwise reading the block would start a temporary Prefect
    server, whose fresh database holds no block anyway.
    With ``project``, token, endpoint and name come from that ``HetznerProject`` block instead
    (its endpoint passes the same safety check).
    """
    if project:
        if not may_start_prefect and not _prefect_api_configured():
            raise ConfigError(
                f"project {project!r} is a Prefect block: set PREFECT_API_URL to the Prefect "
                "server that holds it"
            )
        from hsnap.projects.block import project_settings  # noqa: PLC0415 -- imports Prefect

        settings = project_settings(project, time_scale())
        return settings.model_copy(update={"http_timeout": http_timeout()})
    endpoint = os.environ.get("HCLOUD_ENDPOINT") or DEFAULT_ENDPOINT
    check_endpoint(endpoint)
    scale = time_scale()
    token = os.environ.get("HCLOUD_TOKEN") or _token_from_block(token_secret, may_start_prefect)
    return Settings(
        token=SecretStr(token.strip()),
        endpoint=endpoint,
        time_scale=scale,
        http_timeout=http_timeout(),
    )


def time_scale() -> float:
    """``HSNAP_TIME_SCALE``: a finite number > 0 (and at most a million); 1 for the real API."""
    text = os.environ.get("HSNAP_TIME_SCALE") or "1"
    try:
        scale = float(text)
    except ValueError:
        scale = math.nan
    if not (math.isfinite(scale) and 0 < scale <= MAX_TIME_SCALE):
        raise ConfigError(
            f"HSNAP_TIME_SCALE={text!r}: use a number > 0 and at most {MAX_TIME_SCALE:g} "
            "(1 for the real API; the simulator's --time-scale for hcloud-sim)"
        )
    return scale


def http_timeout() -> float:
    """``HSNAP_HTTP_TIMEOUT``: real seconds per HTTP request (30); short for chaos tests."""
    text = os.environ.get("HSNAP_HTTP_TIMEOUT") or "30"
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and 0 < seconds <= 3600):
        raise ConfigError(f"HSNAP_HTTP_TIMEOUT={text!r}: use a number of seconds > 0, at most 3600")
    return seconds


def _token_from_block(name: str | None, may_start_prefect: bool) -> str:
    missing = (
        "no Hetzner API token: set HCLOUD_TOKEN, or store it in a Prefect Secret block "
        f"named {name or DEFAULT_TOKEN_SECRET!r} (hsnap setup does this)"
    )
    if not name:
        raise ConfigError(missing)
    if not may_start_prefect and not _prefect_api_configured():
        raise ConfigError(
            f"{missing} and set PREFECT_API_URL to the Prefect server that holds the block"
        )
    from prefect.blocks.system import Secret  # noqa: PLC0415 -- only when no env token is set

    try:
        secret: Any = Secret.load(name)  # sync call: returns the block, typed as maybe-awaitable
    except ValueError:
        raise ConfigError(missing) from None
    except Exception as exc:  # noqa: BLE001 -- Prefect unreachable: say so in a line, not a trace
        raise ConfigError(
            f"could not read the Prefect Secret block {name!r} ({type(exc).__name__}): "
            "is PREFECT_API_URL right and its server up? Or set HCLOUD_TOKEN"
        ) from None
    value = secret.get()
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"the Prefect Secret block {name!r} holds no token string")
    return value.strip()


def _prefect_api_configured() -> bool:
    from prefect.settings import get_current_settings  # noqa: PLC0415 -- Prefect loads slowly

    return bool(get_current_settings().api.url)
