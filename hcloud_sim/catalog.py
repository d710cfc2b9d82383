"""What the simulated Hetzner sells: locations, server types, prices (``/server_types``,
``/locations``, ``/pricing``).

A scenario may replace the catalog (``catalog:`` in a scenario file); the default is a small,
realistic one: x86 and arm types with the disk sizes and EUR prices Hetzner lists, offered in the
locations Hetzner offers them in. Money is text, as the API writes it (``"3.7900"``): a net price
as given, the gross one derived from ``vat_rate``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

# name -> (id, description, country, city, latitude, longitude, network zone)
LOCATIONS: dict[str, tuple[int, str, str, str, float, float, str]] = {
    "fsn1": (1, "Falkenstein DC Park 1", "DE", "Falkenstein", 50.47612, 12.370071, "eu-central"),
    "nbg1": (2, "Nuremberg DC Park 1", "DE", "Nuremberg", 49.452102, 11.076665, "eu-central"),
    "hel1": (3, "Helsinki DC Park 1", "FI", "Helsinki", 60.169855, 24.938379, "eu-central"),
    "ash": (4, "Ashburn, VA", "US", "Ashburn, VA", 39.0438, -77.4874, "us-east"),
    "hil": (5, "Hillsboro, OR", "US", "Hillsboro, OR", 45.54, -122.95, "us-west"),
    "sin": (6, "Singapore", "SG", "Singapore", 1.283333, 103.833333, "ap-southeast"),
}
EU = ("fsn1", "nbg1", "hel1")
#: bytes of traffic included per month with every server type (20 TB in the EU)
INCLUDED_TRAFFIC = 21990232555520


def _money(value: object) -> object:
    """A price as the API writes it: a decimal string with four places (YAML may give a float)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return value  # the str check below names the problem
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"price {value!r}: write a decimal number such as '3.79'") from None
    if amount < 0 or not amount.is_finite():
        raise ValueError(f"price {value!r} must be a finite amount >= 0")
    return f"{amount:.4f}"


Money = Annotated[str, BeforeValidator(_money)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PriceSpec(_Spec):
    """Net price of a server type in one location."""

    hourly: Money
    monthly: Money


class DeprecationSpec(_Spec):
    """When Hetzner announced a type's end, and after when it can no longer be ordered."""

    announced: datetime
    unavailable_after: datetime

    def after(self) -> float:
        """``unavailable_after`` as UNIX time (a time without a zone is UTC)."""
        when = self.unavailable_after
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()

    def render(self) -> dict[str, str]:
        def text(when: datetime) -> str:
            return (when if when.tzinfo else when.replace(tzinfo=UTC)).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            )

        return {
            "announced": text(self.announced),
            "unavailable_after": text(self.unavailable_after),
        }


class ServerTypeSpec(_Spec):
    """A server type; it is offered in the locations its ``prices`` name."""

    name: str
    id: int | None = Field(default=None, ge=1, description="default: numbered in list order")
    description: str | None = None
    cores: int = Field(default=2, ge=1)
    memory: float = Field(default=4.0, gt=0, description="GB")
    disk: int = Field(default=40, ge=1, description="GB of local disk")
    architecture: Literal["x86", "arm"] = "x86"
    cpu_type: Literal["shared", "dedicated"] = "shared"
    prices: dict[str, PriceSpec] = Field(min_length=1)
    deprecation: DeprecationSpec | None = Field(
        default=None, description="a deprecated type: still listed and gettable, not orderable"
    )


def _type(
    tid: int,
    name: str,
    size: tuple[int, float, int],
    eu: tuple[str, str],
    us: tuple[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A default type: (cores, memory GB, disk GB); (monthly, hourly) net EUR in the EU and,
    where Hetzner offers it outside the EU at a higher price, ``us`` for ash, hil and sin."""
    prices = {loc: {"monthly": eu[0], "hourly": eu[1]} for loc in EU}
    if us is not None:
        prices |= {loc: {"monthly": us[0], "hourly": us[1]} for loc in ("ash", "hil", "sin")}
    cores, memory, disk = size
    fields = {"id": tid, "name": name, "cores": cores, "memory": memory, "disk": disk}
    return {**fields, **extra, "prices": prices}


def default_server_types() -> list[dict[str, Any]]:
    """Hetzner's smaller types as listed in 2025/26: x86 shared and dedicated, and arm."""
    return [
        _type(
            1,
            "cx11",
            (1, 2.0, 20),
            ("3.2900", "0.0053"),
            # Hetzner retired its first CX generation in 2024
            deprecation={
                "announced": "2024-06-06T00:00:00Z",
                "unavailable_after": "2024-09-06T00:00:00Z",
            },
        ),
        _type(22, "cpx11", (2, 2.0, 40), ("4.3500", "0.0070"), us=("4.9900", "0.0080")),
        _type(104, "cx22", (2, 4.0, 40), ("3.7900", "0.0060")),
        _type(105, "cx32", (4, 8.0, 80), ("6.8000", "0.0110")),
        _type(106, "cx42", (8, 16.0, 160), ("16.4000", "0.0260")),
        _type(45, "cax11", (2, 4.0, 40), ("3.7900", "0.0060"), architecture="arm"),
        _type(46, "cax21", (4, 8.0, 80), ("6.4900", "0.0100"), architecture="arm"),
        _type(
            96,
            "ccx13",
            (2, 8.0, 80),
            ("12.4900", "0.0200"),
            us=("14.8700", "0.0240"),
            cpu_type="dedicated",
        ),
    ]


class CatalogSpec(_Spec):
    """Locations, server types and the prices ``/pricing`` shows."""

    currency: str = "EUR"
    vat_rate: Money = "19.00"
    image_price_per_gb_month: Money = Field(default="0.0110", description="snapshots, net")
    volume_price_per_gb_month: Money = "0.0440"
    primary_ipv4_monthly: Money = "0.5000"
    server_backup_percentage: Money = "20.00"
    locations: list[str] = Field(default_factory=lambda: list(LOCATIONS))
    server_types: list[ServerTypeSpec] = Field(
        default_factory=lambda: [ServerTypeSpec(**t) for t in default_server_types()]
    )

    @model_validator(mode="after")
    def _consistent(self) -> CatalogSpec:
        for loc in self.locations:
            if loc not in LOCATIONS:
                raise ValueError(f"unknown location {loc!r} (known: {', '.join(LOCATIONS)})")
        used = {t.id for t in self.server_types if t.id is not None}
        next_id = max(used, default=0)
        names: set[str] = set()
        for t in self.server_types:
            if t.name in names:
                raise ValueError(f"server type {t.name!r} is listed twice")
            names.add(t.name)
            if t.id is None:
                next_id += 1
                t.id = next_id
            for loc in t.prices:
                if loc not in self.locations:
                    raise ValueError(f"server type {t.name!r}: price for unknown location {loc!r}")
        if len({t.id for t in self.server_types}) != len(self.server_types):
            raise ValueError("two server types have the same id")
        return self

    # -- look-ups --------------------------------------------------------------------------

    def server_type(self, ref: str | int) -> ServerTypeSpec | None:
        """A server type by name or id (an id may come as digits, as the API allows)."""
        for t in self.server_types:
            if ref in (t.name, t.id) or (isinstance(ref, str) and ref == str(t.id)):
                return t
        return None

    def available(self, server_type: ServerTypeSpec, now: float) -> bool:
        """Whether the type can still be ordered at ``now`` (not past its ``unavailable_after``)."""
        deprecation = server_type.deprecation
        return deprecation is None or now <= deprecation.after()

    def location(self, ref: str | int) -> str | None:
        """A location's name from its name or id, if this catalog has it."""
        for name in self.locations:
            lid = LOCATIONS[name][0]
            if ref in (name, lid) or (isinstance(ref, str) and ref == str(lid)):
                return name
        return None

    # -- API shapes ------------------------------------------------------------------------

    def price(self, net: str) -> dict[str, str]:
        gross = Decimal(net) * (1 + Decimal(self.vat_rate) / 100)
        return {"net": net, "gross": f"{gross:.4f}"}

    def render_location(self, name: str) -> dict[str, Any]:
        lid, desc, country, city, lat, lon, zone = LOCATIONS[name]
        return {
            "id": lid,
            "name": name,
            "description": desc,
            "country": country,
            "city": city,
            "latitude": lat,
            "longitude": lon,
            "network_zone": zone,
        }

    def _type_prices(self, t: ServerTypeSpec) -> list[dict[str, Any]]:
        return [
            {
                "location": loc,
                "price_hourly": self.price(p.hourly),
                "price_monthly": self.price(p.monthly),
                "included_traffic": INCLUDED_TRAFFIC,
                "price_per_tb_traffic": self.price("1.0000"),
            }
            for loc, p in t.prices.items()
        ]

    def render_server_type(self, t: ServerTypeSpec) -> dict[str, Any]:
        deprecation = t.deprecation.render() if t.deprecation is not None else None
        return {
            "id": t.id,
            "name": t.name,
            "description": t.description or t.name.upper(),
            "cores": t.cores,
            "memory": t.memory,
            "disk": t.disk,
            "deprecated": deprecation is not None,
            "storage_type": "local",
            "cpu_type": t.cpu_type,
            "category": "Shared vCPU" if t.cpu_type == "shared" else "Dedicated vCPU",
            "architecture": t.architecture,
            "deprecation": deprecation,
            "prices": self._type_prices(t),
            "locations": [
                {
                    "id": LOCATIONS[loc][0],
                    "name": loc,
                    "deprecation": deprecation,
                    "recommended": deprecation is None,
                    "available": True,  # deprecated ones end by their deprecation
                }
                for loc in t.prices
            ],
        }

    def render_pricing(self) -> dict[str, Any]:
        """``GET /pricing``: what everything costs, net and gross, per location."""
        ipv4_hourly = f"{Decimal(self.primary_ipv4_monthly) / 730:.4f}"  # 730 h in a month
        return {
            "currency": self.currency,
            "vat_rate": self.vat_rate,
            "image": {"price_per_gb_month": self.price(self.image_price_per_gb_month)},
            "volume": {"price_per_gb_month": self.price(self.volume_price_per_gb_month)},
            "server_backup": {"percentage": self.server_backup_percentage},
            "floating_ip": {"price_monthly": self.price(self.primary_ipv4_monthly)},
            "floating_ips": [
                {
                    "type": "ipv4",
                    "prices": [
                        {"location": loc, "price_monthly": self.price(self.primary_ipv4_monthly)}
                        for loc in self.locations
                    ],
                }
            ],
            "primary_ips": [
                {
                    "type": "ipv4",
                    "prices": [
                        {
                            "location": loc,
                            "price_hourly": self.price(ipv4_hourly),
                            "price_monthly": self.price(self.primary_ipv4_monthly),
                        }
                        for loc in self.locations
                    ],
                }
            ],
            "server_types": [
                {"id": t.id, "name": t.name, "prices": self._type_prices(t)}
                for t in self.server_types
            ],
            "load_balancer_types": _load_balancer_prices(self),
        }


def _load_balancer_prices(catalog: CatalogSpec) -> list[dict[str, Any]]:
    from hcloud_sim.resources.load_balancers import types  # noqa: PLC0415 -- a family's catalog

    return types.pricing(catalog)
