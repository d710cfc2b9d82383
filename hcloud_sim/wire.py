"""What a request may carry: its length, its JSON, the length of its text fields, its ids, its Host.

The limits the real API documents are applied as documented; where it documents none, the
simulator picks a realistic one and README says which:

- a body of at most ``MAX_BODY_BYTES`` (1 MiB), else ``413`` (in the envelope);
- an image ``description`` of at most ``MAX_DESCRIPTION`` (255) characters, else
  ``422 invalid_input`` "is too long" -- the API documents no limit for it; 255 is the one it
  documents for its other descriptions (firewall rules);
- label values of at most 63 characters (``hcloud_labels``, as documented);
- numeric ids in paths are int64 on the API: a larger one is ``422 invalid_input``.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from typing import Any

from hcloud_sim.errors import ApiError, invalid_field

MAX_BODY_BYTES = 1024 * 1024
MAX_DESCRIPTION = 255
#: the largest id the API's int64 ids allow
MAX_ID = 2**63 - 1
#: text fields of request bodies and their longest allowed length
FIELD_MAX_LENGTH: dict[str, int] = {"description": MAX_DESCRIPTION}


def content_length(value: str | None) -> int:
    """The body length a ``Content-Length`` header announces; 400/413 when unusable."""
    if value is None or not value.strip():
        return 0
    text = value.strip()
    if not text.isdigit() or not text.isascii():
        raise ApiError(
            "json_error",
            "invalid Content-Length header: it must be a non-negative integer",
            status=400,
        )
    if len(text) > 12 or int(text) > MAX_BODY_BYTES:
        raise ApiError(
            "invalid_input",
            f"request body too large: the limit is {MAX_BODY_BYTES} bytes",
            status=413,
        )
    return int(text)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def json_object(raw: bytes, what: str = "request body", *, nan: bool = False) -> dict[str, Any]:
    """A JSON object from ``raw`` (empty: ``{}``); ``400 json_error`` for anything else.

    Nesting too deep for the parser is invalid JSON, and so are ``NaN``/``Infinity`` (which
    Python's parser accepts), as for the API's strict parser -- unless ``nan``: then they are
    parsed, for a validator to refuse with a message naming the field.
    """
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw, parse_constant=None if nan else _no_constant)
    except RecursionError:
        raise ApiError("json_error", f"invalid JSON in {what}: nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError("json_error", f"invalid JSON in {what}: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError("json_error", f"{what} must be a JSON object")
    return body


def check_field_lengths(body: Mapping[str, Any]) -> None:
    """``422 invalid_input`` "is too long" for a text field past its limit."""
    for name, limit in FIELD_MAX_LENGTH.items():
        value = body.get(name)
        if isinstance(value, str) and len(value) > limit:
            raise invalid_field(name, f"is too long (at most {limit} characters)")


def check_ids(params: Mapping[str, str]) -> None:
    """``422 invalid_input`` for a numeric path id beyond the API's int64 range."""
    for name, value in params.items():
        if value.isdigit() and (len(value) > 19 or int(value) > MAX_ID):
            raise invalid_field(name, f"must be an integer between 1 and {MAX_ID}")


def is_loopback_host(host: str | None) -> bool:
    """Whether a ``Host`` header names this machine: ``localhost`` or a loopback address.

    A web page that rebinds its own DNS name to 127.0.0.1 still sends its own name as ``Host``:
    refusing every other name keeps such pages away from the control API.
    """
    if not host:
        return False
    name = host.strip().lower()
    if name.startswith("["):  # [::1]:8780
        name, _, port = name[1:].partition("]")
        if port and not (port.startswith(":") and port[1:].isdigit()):
            return False
    elif name.count(":") == 1:  # 127.0.0.1:8780, localhost:8780
        name, _, port = name.partition(":")
        if port and not port.isdigit():
            return False
    name = name.removesuffix(".")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
