"""Reading every selected server's recipe with a few requests per run, not per server.

The servers are listed once (``GET /servers``, their JSON already names the ids of what points at
them); then each family a selected server uses is listed once (Primary IPs, networks, firewalls,
load balancers, floating IPs, volumes), never per server. A family that cannot be read does not
stop the snapshots: the recipes say what is missing (``unknown``) and the run logs it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from hsnap.cloud.client import Cloud
from hsnap.errors import HsnapError
from hsnap.snapshot.recipe import (
    Attachment,
    FloatingIpRecord,
    NetworkSeat,
    PrimaryIp,
    Recipe,
    VolumeRecord,
)

log = logging.getLogger(__name__)
Json = dict[str, Any]
#: family -> (list path, JSON key, does this server use it?)
_FAMILIES: dict[str, tuple[str, str]] = {
    "primary_ips": ("/primary_ips", "primary_ips"),
    "networks": ("/networks", "networks"),
    "firewalls": ("/firewalls", "firewalls"),
    "load_balancers": ("/load_balancers", "load_balancers"),
    "floating_ips": ("/floating_ips", "floating_ips"),
    "volumes": ("/volumes", "volumes"),
}


def uses(server: Json) -> set[str]:
    """The families this server's JSON points into."""
    public = server.get("public_net") or {}
    found = set()
    if public.get("ipv4") or public.get("ipv6"):
        found.add("primary_ips")
    checks = {
        "networks": server.get("private_net"),
        "firewalls": public.get("firewalls"),
        "load_balancers": server.get("load_balancers"),
        "floating_ips": public.get("floating_ips"),
        "volumes": server.get("volumes"),
    }
    found.update(k for k, v in checks.items() if v)
    return found


def read_recipes(
    cloud: Cloud, server_ids: Iterable[int], listed: Iterable[Json] | None = None
) -> dict[int, Recipe]:
    """The recipe of each of these servers (a server gone since it was selected has none).

    ``listed``: the servers' JSON when the run has just listed them (else they are listed here).
    """
    wanted = set(server_ids)
    source = cloud.list_all("/servers", "servers") if listed is None else listed
    servers = [s for s in source if s["id"] in wanted]
    needed = set().union(*(uses(s) for s in servers)) if servers else set()
    lookups: dict[str, dict[int, Json]] = {}
    unknown: list[str] = []
    for family in sorted(needed):
        path, key = _FAMILIES[family]
        try:
            lookups[family] = {item["id"]: item for item in cloud.list_all(path, key)}
        except HsnapError as exc:
            log.warning("recipes: could not read %s (%s); recorded as unknown", family, exc)
            unknown.append(family)
    return {s["id"]: build(s, lookups, unknown) for s in servers}


def build(server: Json, lookups: Mapping[str, Mapping[int, Json]], unknown: list[str]) -> Recipe:
    """One server's recipe from its JSON and the families' listings (pure)."""
    sid = server["id"]
    public = server.get("public_net") or {}
    kind = server.get("server_type") or {}
    protection = server.get("protection") or {}
    group = server.get("placement_group") or {}
    ips = lookups.get("primary_ips", {})
    ipv4, ipv6 = public.get("ipv4"), public.get("ipv6")
    return Recipe(
        server_id=sid,
        name=server["name"],
        server_type=kind.get("name", ""),
        location=(server.get("location") or {}).get("name", ""),
        datacenter=_datacenter(ips, ipv4, ipv6),
        architecture=kind.get("architecture") or "x86",
        labels=dict(server.get("labels") or {}),
        delete_protected=bool(protection.get("delete")),
        rebuild_protected=bool(protection.get("rebuild")),
        backups=server.get("backup_window") is not None,
        ipv4=_primary(ipv4, ips, v6=False),
        ipv6=_primary(ipv6, ips, v6=True),
        networks=[_seat(n, lookups.get("networks", {})) for n in server.get("private_net") or ()],
        firewalls=_firewalls(sid, public, lookups.get("firewalls", {})),
        placement_group=group.get("id"),
        placement_group_name=group.get("name") or "",
        volumes=[_volume(v, lookups.get("volumes", {})) for v in server.get("volumes") or ()],
        floating_ips=[
            _floating(f, lookups.get("floating_ips", {})) for f in public.get("floating_ips") or ()
        ],
        load_balancers=_balancers(sid, server, lookups.get("load_balancers", {})),
        unknown=sorted(set(unknown) & uses(server)),
    )


def _datacenter(ips: Mapping[int, Json], *addresses: Json | None) -> str | None:
    for address in addresses:
        found = ips.get((address or {}).get("id") or 0) or {}
        name = (found.get("datacenter") or {}).get("name")
        if name:
            return str(name)
    return None


def _primary(address: Json | None, ips: Mapping[int, Json], *, v6: bool) -> PrimaryIp | None:
    if not address:
        return None
    known = ips.get(address.get("id") or 0) or {}
    raw = address.get("dns_ptr")
    if v6:
        ptrs = [(str(p["ip"]), str(p["dns_ptr"])) for p in raw or () if p.get("dns_ptr")]
    else:
        ptrs = [(str(address["ip"]), str(raw))] if raw else []
    # Hetzner's own default names each address; a new address gets its own default
    ptrs = [(ip, ptr) for ip, ptr in ptrs if ptr != f"static.{ip}.clients.your-server.de"]
    auto = known.get("auto_delete")
    return PrimaryIp(
        id=address.get("id"),
        ip=str(address["ip"]),
        auto_delete=None if auto is None else bool(auto),
        dns_ptr=ptrs,
        datacenter=(known.get("datacenter") or {}).get("name"),
    )


def _seat(seat: Json, networks: Mapping[int, Json]) -> NetworkSeat:
    return NetworkSeat(
        network=seat["network"],
        name=(networks.get(seat["network"]) or {}).get("name", ""),
        ip=seat["ip"],
        alias_ips=list(seat.get("alias_ips") or ()),
    )


def _firewalls(sid: int, public: Json, firewalls: Mapping[int, Json]) -> list[Attachment]:
    found = []
    for entry in public.get("firewalls") or ():
        wall = firewalls.get(entry["id"]) or {}
        direct, selectors = _applied(sid, wall.get("applied_to") or (), "applied_to_resources")
        if not wall:  # not listed: the server says it applies, not how; re-apply it directly
            direct = True
        found.append(
            Attachment(
                id=entry["id"], name=wall.get("name", ""), direct=direct, selectors=selectors
            )
        )
    return found


def _balancers(sid: int, server: Json, balancers: Mapping[int, Json]) -> list[Attachment]:
    found = []
    for lb_id in server.get("load_balancers") or ():
        lb = balancers.get(lb_id) or {}
        targets = lb.get("targets") or ()
        direct, selectors = _applied(sid, targets, "targets")
        private = any(
            t.get("type") == "server"
            and (t.get("server") or {}).get("id") == sid
            and t.get("use_private_ip")
            for t in targets
        )
        if not lb:
            direct = True
        found.append(
            Attachment(
                id=lb_id,
                name=lb.get("name", ""),
                direct=direct,
                selectors=selectors,
                private_ip=private,
            )
        )
    return found


def _applied(sid: int, entries: Iterable[Json], nested: str) -> tuple[bool, list[str]]:
    """Whether ``sid`` is a direct target of these entries, and the selectors that reach it."""
    direct = False
    selectors = []
    for entry in entries:
        if entry.get("type") == "server" and (entry.get("server") or {}).get("id") == sid:
            direct = True
        elif entry.get("type") == "label_selector":
            reached = entry.get(nested) or ()
            if any((r.get("server") or {}).get("id") == sid for r in reached):
                selectors.append(str((entry.get("label_selector") or {}).get("selector", "")))
    return direct, selectors


def _volume(volume_id: int, volumes: Mapping[int, Json]) -> VolumeRecord:
    volume = volumes.get(volume_id) or {}
    return VolumeRecord(
        id=volume_id,
        name=volume.get("name", ""),
        size=int(volume.get("size") or 0),
        automount=volume.get("format") is not None,
    )


def _floating(fip_id: int, floating: Mapping[int, Json]) -> FloatingIpRecord:
    fip = floating.get(fip_id) or {}
    return FloatingIpRecord(id=fip_id, name=fip.get("name", ""), ip=fip.get("ip", ""))
