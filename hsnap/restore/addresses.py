"""``hsnap keep-addresses``: the selected servers' Primary IPs outlive their servers.

A Primary IP with ``auto_delete`` on (the default for the addresses a server was made with) is
deleted with its server: a restore then gets new addresses, and DNS, allow-lists and mail
reputation break. Turning ``auto_delete`` off keeps the address (billed while unassigned) so a
restore can take it back. Opt-in, one PUT per address that needs it, nothing else touched: every
input and the token's write access are checked before the first change.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from hsnap.cloud.client import Cloud
from hsnap.cloud.ties import keep_primary_ip, primary_ips
from hsnap.errors import ConfigError, PermanentError
from hsnap.policy import check_selector, select

KeepResult = Literal["kept now", "already kept"]


@dataclass(frozen=True)
class KeptAddress:
    """One Primary IP of a selected server, and what ``keep-addresses`` did to it."""

    server: str
    server_id: int
    primary_ip_id: int
    ip: str
    type: str
    result: KeepResult

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def keep_addresses(
    cloud: Cloud,
    names: list[str],
    label_selector: str | None = None,
    exclude: list[str] | None = None,
) -> list[KeptAddress]:
    """Turn ``auto_delete`` off on the selected servers' Primary IPs; one row per address.

    ConfigError (nothing changed) for a malformed selector or a server name that does not exist;
    PermanentError ``token_readonly`` (nothing changed) for a read-only token.
    """
    check_selector(label_selector)
    chosen, missing = select(cloud.list_servers(label_selector), names, exclude or [])
    if missing:
        raise ConfigError(f"no server named {', '.join(map(repr, missing))} (nothing changed)")
    by_id = {s.id: s for s in chosen}
    ips = sorted(
        (p for p in primary_ips(cloud) if p.server_id in by_id),
        key=lambda p: (by_id[p.server_id or 0].name, p.type, p.id),
    )
    if any(p.auto_delete for p in ips) and cloud.can_write() is False:
        raise PermanentError(
            "the API token is read-only: create a Read & Write API token for this project "
            "(Security > API tokens) and use it instead (nothing changed)",
            code="token_readonly",
        )
    rows: list[KeptAddress] = []
    for p in ips:
        if p.auto_delete:
            keep_primary_ip(cloud, p.id)
        server = by_id[p.server_id or 0]
        result: KeepResult = "kept now" if p.auto_delete else "already kept"
        rows.append(KeptAddress(server.name, server.id, p.id, p.ip, p.type, result))
    return rows
