"""Quarantine: a copy of a production server that cannot reach production, nor be reached.

A restored copy boots with production's services, cron jobs and credentials. Unless the user
asks for ``--open``, ``restore --as`` and every drill create it quarantined, in the create request
itself (so it never boots unguarded):

- no public IPv4 (IPv6 only: the API needs one public or private interface) and no private
  network;
- only hsnap's labels, so no label-selected firewall or load balancer picks it up;
- hsnap's quarantine firewall applied. Inbound, a Hetzner firewall drops what no rule allows;
  outbound it allows everything until it has one outbound rule. So the firewall carries a single
  outbound rule to addresses where nothing answers (TEST-NET-1 and the IPv6 discard prefix), and
  all other traffic out is dropped. ``--allow CIDR`` adds inbound SSH from those ranges only.

The firewall is hsnap's (``managed-by=hsnap``, ``hsnap/quarantine``), found by its name, made on
first use, re-used, its rules put back if someone changed them. hsnap never deletes it: it costs
nothing, and the API refuses to delete a firewall a server still uses.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from hsnap.cloud.client import Cloud
from hsnap.cloud.ties import (
    FirewallInfo,
    Rule,
    Wiring,
    create_firewall,
    find_firewall,
    server_wiring,
    set_firewall_rules,
)
from hsnap.errors import ConfigError, PermanentError
from hsnap.models import ServerDetails
from hsnap.policy import MANAGED_BY, MANAGED_BY_VALUE
from hsnap.restore.policy import restored_labels

log = logging.getLogger(__name__)
#: on hsnap's quarantine firewalls: ``none`` (nothing in) or the hash of the allowed ranges
QUARANTINE_LABEL = "hsnap/quarantine"
#: on a server restored with ``--as``: the id of the server it is a copy of
RESTORED_FROM_LABEL = "hsnap/restored-from"
FIREWALL_NAME = "hsnap-quarantine"
#: where the only outbound rule points: documentation and discard ranges, nothing answers there
NOWHERE = ("192.0.2.1/32", "100::/64")
SSH_PORT = "22"


def parse_allow(values: Iterable[str]) -> tuple[str, ...]:
    """The ``--allow`` ranges as networks (``203.0.113.7`` becomes ``203.0.113.7/32``).

    Raises ConfigError naming the first value that is not an address or a CIDR range.
    """
    ranges: set[str] = set()
    for value in values:
        try:
            ranges.add(str(ipaddress.ip_network(value.strip(), strict=False)))
        except ValueError:
            raise ConfigError(
                f"--allow {value!r} is not an address or CIDR range (e.g. 203.0.113.0/24)"
            ) from None
    return tuple(sorted(ranges))


def rules(allow: tuple[str, ...]) -> tuple[Rule, ...]:
    """Nothing out (one rule to nowhere), nothing in but SSH from ``allow``."""
    out = Rule(
        direction="out",
        protocol="icmp",
        destination_ips=tuple(sorted(NOWHERE)),
        description="hsnap quarantine: the only way out leads nowhere",
    )
    if not allow:
        return (out,)
    ssh = Rule(
        direction="in",
        protocol="tcp",
        port=SSH_PORT,
        source_ips=tuple(sorted(allow)),
        description="hsnap quarantine: SSH from --allow",
    )
    return (ssh, out)


def _key(allow: tuple[str, ...]) -> str:
    if not allow:
        return "none"
    return hashlib.sha256(",".join(sorted(allow)).encode()).hexdigest()[:10]


def firewall_name(allow: tuple[str, ...]) -> str:
    """One firewall per set of allowed ranges; ``hsnap-quarantine`` allows nothing in."""
    return FIREWALL_NAME if not allow else f"{FIREWALL_NAME}-ssh-{_key(allow)}"


def firewall_labels(allow: tuple[str, ...]) -> dict[str, str]:
    return {MANAGED_BY: MANAGED_BY_VALUE, QUARANTINE_LABEL: _key(allow)}


def is_quarantine_firewall(labels: dict[str, str]) -> bool:
    return labels.get(MANAGED_BY) == MANAGED_BY_VALUE and bool(labels.get(QUARANTINE_LABEL))


def ensure_firewall(cloud: Cloud, allow: tuple[str, ...] = ()) -> int:
    """The id of hsnap's quarantine firewall for ``allow``: found, else made; rules as they must be.

    ConfigError if a firewall of that name exists and is not hsnap's (nothing changed).
    """
    name, wanted = firewall_name(allow), rules(allow)
    found = find_firewall(cloud, name)
    if found is None:
        found = _create(cloud, name, wanted, firewall_labels(allow))
    if not is_quarantine_firewall(found.labels):
        raise ConfigError(
            f"a firewall named {name!r} (id {found.id}) exists and is not hsnap's: rename it, "
            "so hsnap can make its quarantine firewall (nothing changed)"
        )
    if set(found.rules) != set(wanted):
        log.warning("firewall %s (id %s) had other rules: putting back quarantine", name, found.id)
        set_firewall_rules(cloud, found.id, wanted)
    return found.id


def _create(
    cloud: Cloud, name: str, wanted: tuple[Rule, ...], labels: dict[str, str]
) -> FirewallInfo:
    try:
        made = create_firewall(cloud, name, wanted, labels)
    except PermanentError as exc:  # another drill made it meanwhile: names are unique
        again = find_firewall(cloud, name) if exc.code == "uniqueness_error" else None
        if again is None:
            raise
        return again
    log.info("made quarantine firewall %s (id %s)", name, made.id)
    return made


@dataclass(frozen=True)
class Isolation:
    """How a restored copy is wired at create: quarantined, or open like the original."""

    mode: Literal["quarantined", "open"]
    labels: dict[str, str]
    ipv4: bool
    ipv6: bool
    firewall_ids: tuple[int, ...] = ()
    network_ids: tuple[int, ...] = ()
    allowed: tuple[str, ...] = ()


def quarantined(cloud: Cloud, source_id: int, allow: tuple[str, ...]) -> Isolation:
    """IPv6 only, no network, hsnap's labels only, the quarantine firewall (made if need be)."""
    return Isolation(
        mode="quarantined",
        labels={RESTORED_FROM_LABEL: str(source_id)},
        ipv4=False,
        ipv6=True,
        firewall_ids=(ensure_firewall(cloud, allow),),
        allowed=allow,
    )


def opened(cloud: Cloud, original: ServerDetails) -> Isolation:
    """The original's networks, direct firewalls and labels (not its addresses: new ones)."""
    wiring = Wiring((), ())
    if original.status != "deleted":  # a gone server's wiring is known only to its recipe
        wiring = server_wiring(cloud, original.id)
    return Isolation(
        mode="open",
        labels=restored_labels(original.labels),
        ipv4=original.ipv4 is not None,
        ipv6=original.ipv6 is not None or original.ipv4 is None,
        firewall_ids=wiring.firewall_ids,
        network_ids=wiring.network_ids,
    )


def describe(mode: str, firewall_ids: Iterable[int], allowed: Iterable[str]) -> str:
    """What the output says about how the copy is wired."""
    ids = ", ".join(str(i) for i in firewall_ids)
    if mode == "quarantined":
        ssh = ", ".join(allowed)
        inbound = f"nothing in but SSH from {ssh}" if ssh else "nothing in"
        return (
            f"QUARANTINED: no public IPv4, no private network, hsnap's labels only; firewall "
            f"{ids}: nothing out, {inbound} (--open to restore it wired like the original)"
        )
    if mode == "open":
        return "OPEN: the original's networks, firewalls and labels (new addresses)" + (
            f"; firewalls {ids} applied" if ids else ""
        )
    return ""
