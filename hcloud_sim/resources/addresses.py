"""Public addresses of the IP families (Primary IPs, floating IPs): allocation and reverse DNS.

- unique, stable IPv4 addresses and IPv6 /64 networks from documentation ranges;
- reverse DNS (``dns_ptr``) records and the ``change_dns_ptr`` body.

Not a family itself (no ``FAMILY``); the helpers every family shares are in ``kit.py``.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Literal

from hcloud_sim.errors import invalid_field
from hcloud_sim.query import Request, body_str

IpType = Literal["ipv4", "ipv6"]
IP_TYPES: tuple[IpType, ...] = ("ipv4", "ipv6")

# -- addresses --------------------------------------------------------------------------------

#: address spaces: made with a server (by server id), Primary IPs made alone, floating IPs
WITH_SERVER, PRIMARY, FLOATING = 0, 1, 2
_FIRST_V4 = {
    WITH_SERVER: ("203.0.113.0", 3 * 254),  # as servers showed before Primary IPs were records
    PRIMARY: ("198.51.100.0", 254),
    FLOATING: ("192.0.2.0", 254),
}
_OVERFLOW_V4 = int(ipaddress.IPv4Address("100.64.0.0"))  # 100.64.0.0/10, 2**20 per space
_V6_BASE = int(ipaddress.IPv6Address("2001:db8::"))


def ipv4_address(space: int, n: int) -> str:
    """The ``n``-th IPv4 address of ``space``; distinct for distinct (space, n), n >= 0."""
    start, size = _FIRST_V4[space]
    if n < size:
        offset = 256 * (n // 254) + n % 254 + 1
        return str(ipaddress.IPv4Address(int(ipaddress.IPv4Address(start)) + offset))
    return str(ipaddress.IPv4Address(_OVERFLOW_V4 + (space << 20) + n - size))


def ipv6_network(space: int, n: int) -> str:
    """The ``n``-th /64 of ``space`` inside 2001:db8::/32 (``2001:db8:<n>::/64`` in space 0)."""
    third, fourth = n & 0xFFFF, (space << 12) | (n >> 16)
    return str(ipaddress.IPv6Network((_V6_BASE | third << 80 | fourth << 64, 64)))


def new_address(kind: IpType, space: int, n: int) -> str:
    return ipv4_address(space, n) if kind == "ipv4" else ipv6_network(space, n)


# -- reverse DNS ------------------------------------------------------------------------------


def default_ptr(ip: str) -> str:
    return f"static.{ip}.clients.your-server.de"


def render_ptrs(kind: IpType, ip: str, records: dict[str, str]) -> list[dict[str, str]]:
    """``dns_ptr`` as IP resources show it: IPv4 always has one (a default), IPv6 those set."""
    if kind == "ipv4":
        return [{"ip": ip, "dns_ptr": records.get(ip, default_ptr(ip))}]
    return [{"ip": k, "dns_ptr": v} for k, v in sorted(records.items())]


def _valid_ptr(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid_field("dns_ptr", "must be a string or null")
    labels = value.removesuffix(".").split(".")
    if len(value) > 253 or len(labels) < 2 or not all(_dns_label(label) for label in labels):
        raise invalid_field("dns_ptr", f"{value!r} is not a valid domain name")
    return value


def _dns_label(label: str) -> bool:
    return (
        0 < len(label) <= 63
        and label[0] != "-"
        and label[-1] != "-"
        and all(c.isascii() and (c.isalnum() or c == "-") for c in label)
    )


def dns_ptr_body(req: Request) -> tuple[str, str | None]:
    """``{"ip", "dns_ptr"}`` of a ``change_dns_ptr``: the address and the name (None: reset)."""
    ip = body_str(req, "ip")
    if ip is None:
        raise invalid_field("ip", "is required")
    return ip, _valid_ptr(req.body.get("dns_ptr"))


def covers(kind: IpType, address: str, ip: str) -> str | None:
    """``ip`` in its canonical form if ``address`` (an IPv4 or an IPv6 /64) holds it, else None."""
    try:
        if kind == "ipv4":
            return ip if ipaddress.IPv4Address(ip) == ipaddress.IPv4Address(address) else None
        parsed = ipaddress.IPv6Address(ip)
    except ValueError:
        return None
    return str(parsed) if parsed in ipaddress.IPv6Network(address) else None


def set_ptr(records: dict[str, str], kind: IpType, address: str, ip: str, ptr: str | None) -> None:
    """Set (or with None reset/remove) the PTR record of ``ip``, which must be in ``address``."""
    canonical = covers(kind, address, ip)
    if canonical is None:
        raise invalid_field("ip", f"{ip!r} is not an address of {address}")
    if ptr is None:
        records.pop(canonical, None)
    else:
        records[canonical] = ptr
