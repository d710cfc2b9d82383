"""SDK objects to hsnap's plain values, and plain requests to SDK arguments (restore, drills).

Duck-typed over the SDK's objects so that only ``client.py`` imports ``hcloud``; the create
arguments are built from SDK domain classes it hands in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from hcloud.firewalls import Firewall
from hcloud.images import Image
from hcloud.locations import Location
from hcloud.networks import Network
from hcloud.server_types import ServerType
from hcloud.servers import ServerCreatePublicNetwork

from hsnap.models import ImagePrice, PriceList, ServerDetails, ServerTypeInfo


@dataclass(frozen=True)
class NewServer:
    """A server to create from an image (plain values; ``client.create_server`` sends it)."""

    name: str
    server_type: str
    image_id: int
    location: str
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    ipv4: bool = False
    ipv6: bool = True
    #: applied in the create request itself, before the first boot (never added afterwards)
    firewall_ids: tuple[int, ...] = ()
    #: private networks joined at create (the API picks the addresses)
    network_ids: tuple[int, ...] = ()


def create_arguments(spec: NewServer) -> dict[str, Any]:
    """Keyword arguments for ``client.servers.create``."""
    wiring: dict[str, Any] = {}
    if spec.firewall_ids:
        wiring["firewalls"] = [Firewall(id=i) for i in spec.firewall_ids]
    if spec.network_ids:
        wiring["networks"] = [Network(id=i) for i in spec.network_ids]
    return wiring | {
        "name": spec.name,
        "server_type": ServerType(name=spec.server_type),
        "image": Image(id=spec.image_id),
        "location": Location(name=spec.location),
        "labels": dict(spec.labels),
        "start_after_create": True,
        "public_net": ServerCreatePublicNetwork(enable_ipv4=spec.ipv4, enable_ipv6=spec.ipv6),
    }


def details(server: Any) -> ServerDetails:
    """A bound server as ServerDetails (every field read from data the answer already holds)."""
    public = server.public_net
    ipv4 = public.ipv4.ip if public is not None and public.ipv4 is not None else None
    ipv6 = public.ipv6.ip if public is not None and public.ipv6 is not None else None
    kind = server.server_type
    return ServerDetails(
        id=server.id,
        name=server.name,
        status=server.status,
        server_type=kind.name,
        architecture=kind.architecture or "x86",
        disk_gb=float(server.primary_disk_size or kind.disk or 0),
        location=server.location.name if server.location is not None else "",
        labels=dict(server.labels or {}),
        ipv4=ipv4,
        ipv6=ipv6,
        rebuild_protected=bool((server.protection or {}).get("rebuild")),
    )


def server_type(kind: Any) -> ServerTypeInfo:
    """Where a server type can be created now: listed, not deprecated there, available.

    Deprecation is read per location (the type-wide fields are deprecated since 2025-09).
    """
    offered = tuple(
        loc.location.name
        for loc in kind.locations or ()
        if loc.deprecation is None and loc.available is not False
    )
    return ServerTypeInfo(
        name=kind.name,
        architecture=kind.architecture or "x86",
        disk_gb=float(kind.disk),
        locations=offered,
    )


def price_list(pricing: dict[str, Any]) -> PriceList:
    """``pricing.server_types[].prices[]`` as {(type, location): hourly net price}."""
    hourly = {
        (kind["name"], price["location"]): str(price["price_hourly"]["net"])
        for kind in pricing.get("server_types") or ()
        for price in kind.get("prices") or ()
    }
    return PriceList(currency=str(pricing.get("currency") or "EUR"), hourly=hourly)


def image_price(pricing: dict[str, Any]) -> ImagePrice:
    """``pricing.image.price_per_gb_month``: what a GB of snapshot costs a month."""
    per_gb = pricing["image"]["price_per_gb_month"]
    return ImagePrice(
        currency=str(pricing["currency"]),
        net=Decimal(per_gb["net"]),
        gross=Decimal(per_gb["gross"]),
    )
