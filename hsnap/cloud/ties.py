"""What a server is tied to beyond its disk: firewalls, networks, Primary IPs, volumes, backups.

Typed verbs over the SDK that return plain values (quarantine and ``--open`` restores, drills,
the audit, ``keep-addresses``). They go through ``Cloud._call`` like every other request: one
rate budget, reads retried, errors translated, the token never in a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hcloud.firewalls import Firewall, FirewallRule
from hcloud.primary_ips import PrimaryIP

from hsnap.cloud.client import Cloud, _image_ref
from hsnap.models import ImageRef


@dataclass(frozen=True)
class Rule:
    """One firewall rule, as the API shows it (``port`` only for tcp and udp)."""

    direction: str
    protocol: str
    port: str | None = None
    source_ips: tuple[str, ...] = ()
    destination_ips: tuple[str, ...] = ()
    description: str | None = None


@dataclass(frozen=True)
class FirewallInfo:
    """A firewall: its rules, its labels, the servers it applies to directly."""

    id: int
    name: str
    labels: dict[str, str]
    rules: tuple[Rule, ...]
    servers: tuple[int, ...]


@dataclass(frozen=True)
class Wiring:
    """A server's private networks and the firewalls applied to it directly (not by label)."""

    network_ids: tuple[int, ...]
    firewall_ids: tuple[int, ...]


@dataclass(frozen=True)
class PrimaryIpInfo:
    id: int
    ip: str
    type: str
    server_id: int | None
    auto_delete: bool


@dataclass(frozen=True)
class VolumeInfo:
    id: int
    name: str
    size_gb: int
    server_id: int | None


@dataclass(frozen=True)
class Surroundings:
    """What the audit reads beside servers and snapshots (plain values, one list call each)."""

    volumes: tuple[VolumeInfo, ...] = ()
    primary_ips: tuple[PrimaryIpInfo, ...] = ()
    backups: tuple[ImageRef, ...] = ()


def _rule(rule: Any) -> Rule:
    return Rule(
        direction=rule.direction,
        protocol=rule.protocol,
        port=rule.port,
        source_ips=tuple(sorted(rule.source_ips or ())),
        destination_ips=tuple(sorted(rule.destination_ips or ())),
        description=rule.description,
    )


def _sdk_rule(rule: Rule) -> FirewallRule:
    return FirewallRule(
        direction=rule.direction,
        protocol=rule.protocol,
        port=rule.port,
        source_ips=list(rule.source_ips),
        destination_ips=list(rule.destination_ips),
        description=rule.description,
    )


def _firewall(bound: Any) -> FirewallInfo:
    servers = tuple(
        r.server.id for r in bound.applied_to or () if r.type == "server" and r.server is not None
    )
    return FirewallInfo(
        id=bound.id,
        name=bound.name,
        labels=dict(bound.labels or {}),
        rules=tuple(_rule(r) for r in bound.rules or ()),
        servers=servers,
    )


def find_firewall(cloud: Cloud, name: str) -> FirewallInfo | None:
    """The firewall of this name (names are unique in a project), or None."""
    bound = cloud._call(f"firewall {name}", lambda: cloud._client.firewalls.get_by_name(name))
    return _firewall(bound) if bound is not None else None


def create_firewall(
    cloud: Cloud, name: str, rules: tuple[Rule, ...], labels: dict[str, str]
) -> FirewallInfo:
    """POST /firewalls, applied to nothing. Not retried: a lost answer is found by its name."""
    response = cloud._call(
        f"creating firewall {name}",
        lambda: cloud._client.firewalls.create(
            name=name,
            rules=[_sdk_rule(r) for r in rules],
            labels=labels,  # type: ignore[arg-type]  # the SDK's hint says str; the API takes a map
        ),
        read=False,
    )
    return _firewall(response.firewall)


def set_firewall_rules(cloud: Cloud, firewall_id: int, rules: tuple[Rule, ...]) -> None:
    """Replace a firewall's rules (its ``set_rules`` action)."""
    cloud._call(
        f"rules of firewall {firewall_id}",
        lambda: cloud._client.firewalls.set_rules(
            Firewall(id=firewall_id), [_sdk_rule(r) for r in rules]
        ),
        read=False,
    )


def server_wiring(cloud: Cloud, server_id: int) -> Wiring:
    """The server's private networks, and the firewalls applied to it by id (two GETs)."""
    server: Any = cloud._call(
        f"server {server_id}", lambda: cloud._client.servers.get_by_id(server_id)
    )
    networks = tuple(p.network.id for p in server.private_net or ())
    firewalls: list[Any] = cloud._call("listing firewalls", cloud._client.firewalls.get_all)
    direct = tuple(f.id for f in firewalls if server_id in _firewall(f).servers)
    return Wiring(network_ids=networks, firewall_ids=direct)


def primary_ips(cloud: Cloud) -> list[PrimaryIpInfo]:
    """Every Primary IP of the project (all pages)."""
    found: list[Any] = cloud._call("listing Primary IPs", cloud._client.primary_ips.get_all)
    return [
        PrimaryIpInfo(
            id=p.id,
            ip=p.ip,
            type=p.type,
            server_id=p.assignee_id if p.assignee_type in (None, "server") else None,
            auto_delete=bool(p.auto_delete),
        )
        for p in found
    ]


def keep_primary_ip(cloud: Cloud, primary_ip_id: int) -> None:
    """Turn ``auto_delete`` off: the address outlives its server (PUT /primary_ips/{id})."""
    cloud._call(
        f"Primary IP {primary_ip_id}",
        lambda: cloud._client.primary_ips.update(PrimaryIP(id=primary_ip_id), auto_delete=False),
        read=False,
    )


def volumes(cloud: Cloud) -> list[VolumeInfo]:
    """Every volume of the project and the server it is attached to (if any)."""
    found: list[Any] = cloud._call("listing volumes", cloud._client.volumes.get_all)
    return [
        VolumeInfo(
            id=v.id,
            name=v.name,
            size_gb=int(v.size or 0),
            server_id=v.server.id if v.server is not None else None,
        )
        for v in found
    ]


def backups(cloud: Cloud) -> list[ImageRef]:
    """Every Hetzner Backup of the project (images of type ``backup``, bound to a server)."""
    found = cloud._call("listing backups", lambda: cloud._client.images.get_all(type=["backup"]))
    return [_image_ref(i) for i in found]


def surroundings(cloud: Cloud) -> Surroundings:
    """Volumes, Primary IPs and backups: three list calls for the whole project."""
    return Surroundings(
        volumes=tuple(volumes(cloud)),
        primary_ips=tuple(primary_ips(cloud)),
        backups=tuple(backups(cloud)),
    )
