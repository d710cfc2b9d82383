"""The recipe: what a snapshot needs to become the server again, and how it travels in labels.

A snapshot copies the disk only. Everything else that makes the server what it is lives on the
server object or on the objects pointing at it (Primary IPs, networks, firewalls, volumes, floating
IPs, load balancers, the placement group). hsnap reads those once per run and writes each server's
recipe into the labels of the snapshot it creates, in the same ``create_image`` request: a restore
needs nothing but the Hetzner project, not Prefect's database.

Encoding: compact JSON, zlib, base64url, cut into label values of at most 63 characters (the API's
limit; each value must begin and end with an alphanumeric, so every chunk is wrapped in ``x``).
``hsnap/recipe`` holds ``<version>.<chunks>``, ``hsnap/r0`` .. ``hsnap/rN`` the chunks. No I/O.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, ValidationError

VERSION = 1
RECIPE_LABEL = "hsnap/recipe"
CHUNK_PREFIX = "hsnap/r"
#: payload characters per label value (63 minus the two wrapping characters)
CHUNK = 61


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class PrimaryIp(_Record):
    """A public address of the server: its Primary IP, whether it dies with it, reverse DNS."""

    id: int | None = None
    ip: str
    auto_delete: bool | None = None
    #: (address, PTR) pairs; IPv4 has at most one, IPv6 one per address of the /64
    dns_ptr: list[tuple[str, str]] = []
    datacenter: str | None = None


class NetworkSeat(_Record):
    """The server's place in one private network."""

    network: int
    name: str = ""
    ip: str
    alias_ips: list[str] = []


class Attachment(_Record):
    """A firewall or load balancer that applies to the server: directly, by label, or both."""

    id: int
    name: str = ""
    direct: bool = False
    selectors: list[str] = []
    #: a load balancer's server target reaches it over the private network
    private_ip: bool = False


class VolumeRecord(_Record):
    id: int
    name: str = ""
    size: int = 0
    #: the API does not say whether a volume was attached with automount; hsnap assumes it was
    #: when Hetzner formatted the volume (``format`` set)
    automount: bool = False


class FloatingIpRecord(_Record):
    id: int
    name: str = ""
    ip: str = ""


class Recipe(_Record):
    """One server's configuration at snapshot time (plain values, JSON-friendly)."""

    v: int = VERSION
    server_id: int
    name: str
    server_type: str
    location: str
    datacenter: str | None = None
    architecture: str = "x86"
    labels: dict[str, str] = {}
    delete_protected: bool = False
    rebuild_protected: bool = False
    backups: bool = False
    ipv4: PrimaryIp | None = None
    ipv6: PrimaryIp | None = None
    networks: list[NetworkSeat] = []
    firewalls: list[Attachment] = []
    placement_group: int | None = None
    placement_group_name: str = ""
    volumes: list[VolumeRecord] = []
    floating_ips: list[FloatingIpRecord] = []
    load_balancers: list[Attachment] = []
    #: what could not be read when it was recorded (e.g. ``firewalls``): restore says so
    unknown: list[str] = []


def to_labels(recipe: Recipe, *, names: bool = True) -> dict[str, str]:
    """The recipe as image labels (``hsnap/recipe`` + ``hsnap/r0``..)."""
    data = recipe.model_dump(mode="json", exclude_defaults=True)
    data["v"] = recipe.v
    if not names:
        _drop_names(data)
    packed = zlib.compress(json.dumps(data, separators=(",", ":")).encode(), 9)
    text = base64.urlsafe_b64encode(packed).decode().rstrip("=")
    chunks = [text[i : i + CHUNK] for i in range(0, len(text), CHUNK)]
    labels = {RECIPE_LABEL: f"{recipe.v}.{len(chunks)}"}
    labels.update({f"{CHUNK_PREFIX}{n}": f"x{c}x" for n, c in enumerate(chunks)})
    return labels


def _drop_names(data: dict[str, object]) -> None:
    for key in ("networks", "firewalls", "volumes", "floating_ips", "load_balancers"):
        for item in data.get(key) or ():  # type: ignore[attr-defined]
            item.pop("name", None)
    data.pop("placement_group_name", None)


def from_labels(labels: Mapping[str, str]) -> Recipe | None:
    """The recipe an image's labels carry; None when there is none or it cannot be read."""
    head = labels.get(RECIPE_LABEL, "")
    version, _, count = head.partition(".")
    if not (version.isdigit() and count.isdigit()) or int(version) > VERSION:
        return None
    try:
        chunks = [labels[f"{CHUNK_PREFIX}{n}"][1:-1] for n in range(int(count))]
        text = "".join(chunks)
        packed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return Recipe.model_validate_json(zlib.decompress(packed))
    except (KeyError, ValueError, binascii.Error, zlib.error, ValidationError):
        return None


def is_recipe_label(key: str) -> bool:
    """True for the labels that carry a recipe (never copied onto a server)."""
    return key == RECIPE_LABEL or (
        key.startswith(CHUNK_PREFIX) and key[len(CHUNK_PREFIX) :].isdigit()
    )


def summary(recipe: Recipe) -> dict[str, str]:
    """One row of the recipe artifact: every part of the record as text."""

    def ptr(ip: PrimaryIp | None) -> str:
        if ip is None:
            return "none"
        dies = {True: ", auto_delete on", False: ", kept if deleted", None: ""}[ip.auto_delete]
        rdns = "; ".join(f"{a} -> {p}" for a, p in ip.dns_ptr)
        return f"{ip.ip} (Primary IP {ip.id}{dies}){' rDNS ' + rdns if rdns else ''}"

    def attached(items: list[Attachment]) -> str:
        return ", ".join(
            f"{a.name or a.id}"
            + (" (direct)" if a.direct else "")
            + "".join(f" (label {s})" for s in a.selectors)
            for a in items
        )

    protection = [
        k
        for k, on in (("delete", recipe.delete_protected), ("rebuild", recipe.rebuild_protected))
        if on
    ]
    return {
        "server": f"{recipe.name} (id {recipe.server_id})",
        "type": f"{recipe.server_type} ({recipe.architecture})",
        "location": recipe.location + (f" / {recipe.datacenter}" if recipe.datacenter else ""),
        "labels": ", ".join(f"{k}={v}" for k, v in sorted(recipe.labels.items())),
        "protection": ", ".join(protection) or "none",
        "backups": "on" if recipe.backups else "off",
        "ipv4": ptr(recipe.ipv4),
        "ipv6": ptr(recipe.ipv6),
        "networks": ", ".join(
            f"{n.name or n.network} at {n.ip}"
            + (f" (+{', '.join(n.alias_ips)})" if n.alias_ips else "")
            for n in recipe.networks
        ),
        "firewalls": attached(recipe.firewalls),
        "placement group": recipe.placement_group_name or str(recipe.placement_group or ""),
        "volumes": ", ".join(
            f"{v.name or v.id} ({v.size} GB{', automount' if v.automount else ''})"
            for v in recipe.volumes
        ),
        "floating IPs": ", ".join(f.ip or str(f.id) for f in recipe.floating_ips),
        "load balancers": attached(recipe.load_balancers),
        "not read": ", ".join(recipe.unknown),
    }
