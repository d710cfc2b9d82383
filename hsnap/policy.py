"""Pure decisions: which servers, what a snapshot is called and labelled. No I/O; ``now`` given."""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hcloud_labels import LabelError, check_labels, parse_selector
from hsnap.errors import ConfigError
from hsnap.models import ServerRef

MANAGED_BY = "managed-by"
MANAGED_BY_VALUE = "hsnap"
SERVER_ID_LABEL = "hsnap/server-id"
RUN_LABEL = "hsnap/flow-run"
#: on a server: an hsnap run shut it down and must power it on again (value: that run's id)
RESTART_LABEL = "hsnap/restart"
#: on a server: snapshot it in consistent mode (shut down first) even when the run does not ask
CONSISTENT_LABEL = "hsnap/consistent"
OWN_KEYS = frozenset({MANAGED_BY, SERVER_ID_LABEL, RUN_LABEL})

TEMPLATE_FIELDS = frozenset({"server", "server_id", "timestamp", "date", "time", "run"})
DEFAULT_TEMPLATE = "{server}-{timestamp}"
#: servers handled at once by default. A server's task mostly waits (on the run's shared action
#: poller), so a thread per server is cheap, while a low cap queues servers behind others'
#: 15-minute snapshots (2.0 x ideal at 137 servers with the former default of 20). The rate
#: governor, not this cap, protects the API budget.
DEFAULT_MAX_CONCURRENCY = 1000
#: the longest image description hsnap sends. Hetzner's OpenAPI document gives no maxLength for
#: it; its other free-text descriptions (firewall rules) allow 255, and so does hsnap.
DESCRIPTION_MAX = 255
#: the longest values a placeholder can take: server names are at most 63 characters, ids are
#: int64, a run id is a UUID
_LONGEST_SERVER = ServerRef(id=2**63 - 1, name="x" * 63, status="running", labels={})
_LONGEST_RUN = "00000000-0000-0000-0000-000000000000"


def check_selector(selector: str | None) -> None:
    """Raise ConfigError for a label selector the API would reject."""
    if selector is None:
        return
    try:
        parse_selector(selector)
    except LabelError as exc:
        raise ConfigError(f"malformed label selector {selector!r}: {exc}") from None


def check_timezone(timezone: str) -> None:
    """Raise ConfigError for a timezone that is not an IANA name (retention's calendar)."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"unknown timezone {timezone!r}; use an IANA name like 'Europe/Berlin'"
        ) from None


def check_template(template: str) -> None:
    """Raise ConfigError unless ``template`` uses only plain ``{name}`` placeholders.

    A conversion (``!r``), a format spec (``:>99``), an index or attribute (``{server[0]}``,
    ``{server.x}``) or a nested field is refused: they let a template send a description of any
    length, or fail only once a snapshot is due. So is one whose longest possible result
    exceeds ``DESCRIPTION_MAX``.
    """
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ConfigError(f"description template {_shown(template)}: {exc}") from None
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in TEMPLATE_FIELDS:
            raise ConfigError(
                f"description template {_shown(template)} uses {{{name}}}; known placeholders: "
                f"{', '.join('{' + f + '}' for f in sorted(TEMPLATE_FIELDS))}"
            )
        if spec or conversion is not None:
            raise ConfigError(
                f"description template {_shown(template)}: write plain {{{name}}}, "
                "without a conversion (!r) or format spec (:...)"
            )
    longest = len(describe(template, _LONGEST_SERVER, datetime.now(UTC), _LONGEST_RUN))
    if longest > DESCRIPTION_MAX:
        raise ConfigError(
            f"description template {_shown(template)} can give {longest} characters; "
            f"Hetzner allows {DESCRIPTION_MAX}: shorten it"
        )


def _shown(template: str) -> str:
    """The template quoted for a one-line message (a long one is cut)."""
    return repr(template if len(template) <= 60 else template[:57] + "...")


def check_extra_labels(labels: Mapping[str, str]) -> None:
    """Extra labels must be valid and must not override hsnap's ownership labels."""
    try:
        check_labels(labels)
    except LabelError as exc:
        raise ConfigError(f"extra labels: {exc}") from None
    taken = OWN_KEYS & set(labels)
    if taken:
        raise ConfigError(f"extra labels may not set hsnap's own {', '.join(sorted(taken))}")


def describe(template: str, server: ServerRef, now: datetime, run_id: str) -> str:
    """The snapshot description for ``server`` at ``now`` (UTC timestamps, sortable)."""
    return template.format(
        server=server.name,
        server_id=server.id,
        timestamp=now.strftime("%Y%m%dT%H%M%SZ"),
        date=now.strftime("%Y-%m-%d"),
        time=now.strftime("%H%M%S"),
        run=run_id,
    )


def ownership_labels(server_id: int, run_id: str) -> dict[str, str]:
    """The labels that mark an image as made by hsnap, for this server, in this run."""
    return {MANAGED_BY: MANAGED_BY_VALUE, SERVER_ID_LABEL: str(server_id), RUN_LABEL: run_id}


def run_selector(server_id: int, run_id: str) -> str:
    """Label selector that finds the image this run made (or started) for this server."""
    return ",".join(f"{k}={v}" for k, v in ownership_labels(server_id, run_id).items())


def select(
    servers: Iterable[ServerRef], names: Sequence[str] = (), exclude: Sequence[str] = ()
) -> tuple[list[ServerRef], list[str]]:
    """Servers to snapshot, in name order, and the requested names that do not exist.

    ``servers`` is what the label selector (or none) returned; ``names`` narrows it to those names;
    ``exclude`` removes names. A name both requested and excluded is excluded.
    """
    by_name = {s.name: s for s in servers}
    excluded = set(exclude)
    if names:
        missing = [n for n in dict.fromkeys(names) if n not in by_name and n not in excluded]
        chosen = [by_name[n] for n in dict.fromkeys(names) if n in by_name and n not in excluded]
    else:
        missing = []
        chosen = [s for s in by_name.values() if s.name not in excluded]
    return sorted(chosen, key=lambda s: s.name), missing
