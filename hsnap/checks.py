"""Input checks shared by the CLI (before any Prefect server starts) and the flows (at their start).

One function per flow's inputs, so a bad selector, template, label or number is refused the same
way, with the same one-line message, whether it comes from ``hsnap run`` (exit 2 within a second,
nothing started) or from a deployment's parameters (the run ends Failed with the message).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError

from hsnap.errors import ConfigError
from hsnap.policy import (
    DEFAULT_TEMPLATE,
    check_extra_labels,
    check_selector,
    check_template,
    check_timezone,
)

MAX_MINUTES = 24 * 60
MAX_CONCURRENCY = 5000  # the default is 1000 (hsnap.policy.DEFAULT_MAX_CONCURRENCY)
#: a wait in minutes: more than nothing, at most a day (the flow's parameter schema says so too)
Minutes = Annotated[float, Field(gt=0, le=MAX_MINUTES, allow_inf_nan=False)]
#: servers handled at the same time
Concurrency = Annotated[int, Field(ge=1, le=MAX_CONCURRENCY)]
#: requests of the project's budget hsnap leaves to other clients (0: none; None: a quarter)
Reserve = Annotated[int, Field(ge=0, le=1_000_000)]

_RANGES: dict[str, TypeAdapter[Any]] = {
    "lock_wait_minutes": TypeAdapter(Minutes),
    "snapshot_wait_minutes": TypeAdapter(Minutes),
    "shutdown_wait_minutes": TypeAdapter(Minutes),
    "poweron_wait_minutes": TypeAdapter(Minutes),
    "max_concurrency": TypeAdapter(Concurrency),
    "reserve": TypeAdapter(Reserve | None),
}


def check_snapshot_parameters(parameters: Mapping[str, Any]) -> None:
    """Raise ConfigError for the first bad one of the snapshot flow's ``parameters``.

    Parameters that are absent are not checked (the flow's defaults are good).
    """
    check_selector(parameters.get("label_selector"))
    check_template(parameters.get("description_template") or DEFAULT_TEMPLATE)
    check_extra_labels(parameters.get("labels") or {})
    check_timezone(parameters.get("timezone") or "UTC")
    for name, adapter in _RANGES.items():
        if name in parameters:
            check_range(name, parameters[name], adapter)


def check_range(name: str, value: object, adapter: TypeAdapter[Any]) -> None:
    """Raise ConfigError naming the parameter and its CLI option when ``value`` is out of range."""
    try:
        adapter.validate_python(value)
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"].lower()
        option = "--" + name.replace("_", "-")
        raise ConfigError(f"{name} ({option}) = {value!r}: {reason}") from None
