"""Networks' records and their address arithmetic (IPv4 only, as Hetzner's private networks)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Literal

from hcloud_sim.clock import iso
from hcloud_sim.errors import ApiError, invalid_field

IPv4Address = ipaddress.IPv4Address
IPv4Network = ipaddress.IPv4Network
SubnetType = Literal["cloud", "server", "vswitch"]
SUBNET_TYPES: tuple[SubnetType, ...] = ("cloud", "server", "vswitch")
NETWORK_ZONES = ("eu-central", "us-east", "us-west", "ap-southeast")
#: RFC 1918: a network's range must lie in one of them
PRIVATE_RANGES = tuple(IPv4Network(r) for r in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
#: the gateway of every server's public interface: never a route's destination or gateway
PUBLIC_GATEWAY = IPv4Address("172.31.1.1")


@dataclass
class Subnet:
    type: SubnetType
    ip_range: IPv4Network
    network_zone: str
    vswitch_id: int | None = None


@dataclass(frozen=True)
class NetRoute:
    destination: IPv4Network
    gateway: IPv4Address


@dataclass
class Attachment:
    """A server's interface in a network."""

    ip: IPv4Address
    alias_ips: list[IPv4Address]
    mac_address: str
    #: the attach_to_network action still runs: the addresses are reserved, not shown yet
    pending: bool = False


@dataclass
class Network:
    id: int
    name: str
    ip_range: IPv4Network
    created: float
    subnets: list[Subnet] = field(default_factory=list)
    routes: list[NetRoute] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    protection_delete: bool = False
    expose_routes_to_vswitch: bool = False
    servers: dict[int, Attachment] = field(default_factory=dict)
    #: load balancers attached (the load_balancers family): id -> their address
    load_balancers: dict[int, IPv4Address] = field(default_factory=dict)

    @property
    def gateway(self) -> IPv4Address:
        """The network's own router: its range's first host, never handed to a server."""
        return self.ip_range.network_address + 1

    def subnet_gateway(self, subnet: Subnet) -> IPv4Address:
        if subnet.type == "vswitch":
            return subnet.ip_range.network_address + 1
        return self.gateway

    def taken(self, *, ignore: int | None = None) -> set[IPv4Address]:
        """Every address in use: gateways and each server's ip and alias ips."""
        used = {self.gateway, *(self.subnet_gateway(s) for s in self.subnets)}
        used.update(self.load_balancers.values())
        for server_id, att in self.servers.items():
            if server_id != ignore:
                used.add(att.ip)
                used.update(att.alias_ips)
        return used

    def server_subnets(self, zone: str) -> list[Subnet]:
        """The subnets a server of network zone ``zone`` can get an address in."""
        return [s for s in self.subnets if s.type != "vswitch" and s.network_zone == zone]

    def free_address(self, subnet: Subnet, taken: set[IPv4Address]) -> IPv4Address | None:
        return next((ip for ip in subnet.ip_range.hosts() if ip not in taken), None)

    def visible_servers(self) -> list[int]:
        return sorted(sid for sid, att in self.servers.items() if not att.pending)


@dataclass
class NetworkState:
    networks: dict[int, Network] = field(default_factory=dict)
    #: attachments made so far: the last three bytes of each interface's MAC address
    interfaces: int = 0

    def network(self, network_id: int) -> Network:
        found = self.networks.get(network_id)
        if found is None:
            raise ApiError("not_found", f"network with ID '{network_id}' not found")
        return found

    def next_mac(self) -> str:
        self.interfaces += 1
        n = self.interfaces
        return f"86:00:00:{n >> 16 & 255:02x}:{n >> 8 & 255:02x}:{n & 255:02x}"


# -- parsing ---------------------------------------------------------------------------------


def parse_range(value: Any, name: str) -> IPv4Network:
    """A CIDR range; host bits are dropped, as the API accepts ``10.0.2.0/16`` for 10.0.0.0/16."""
    if not isinstance(value, str):
        raise invalid_field(name, "must be an IPv4 range in CIDR notation")
    try:
        return IPv4Network(value, strict=False)
    except ValueError:
        raise invalid_field(name, "must be an IPv4 range in CIDR notation") from None


def parse_ip(value: Any, name: str) -> IPv4Address:
    if not isinstance(value, str):
        raise invalid_field(name, "must be an IPv4 address")
    try:
        return IPv4Address(value)
    except ValueError:
        raise invalid_field(name, "must be an IPv4 address") from None


def parse_ips(value: Any, name: str) -> list[IPv4Address]:
    if not isinstance(value, list):
        raise invalid_field(name, "must be a list of IPv4 addresses")
    return [parse_ip(v, name) for v in value]


def check_network_range(ip_range: IPv4Network, name: str = "ip_range") -> None:
    if not any(ip_range.subnet_of(r) for r in PRIVATE_RANGES):
        raise invalid_field(name, "must be one of the private IPv4 ranges of RFC 1918")
    if ip_range.prefixlen > 24:
        raise invalid_field(name, "the minimum network size is /24")


# -- views -----------------------------------------------------------------------------------


def render_network(network: Network) -> dict[str, Any]:
    return {
        "id": network.id,
        "name": network.name,
        "ip_range": str(network.ip_range),
        "subnets": [
            {
                "type": s.type,
                "ip_range": str(s.ip_range),
                "network_zone": s.network_zone,
                "gateway": str(network.subnet_gateway(s)),
                "vswitch_id": s.vswitch_id,
            }
            for s in network.subnets
        ],
        "routes": [
            {"destination": str(r.destination), "gateway": str(r.gateway)} for r in network.routes
        ],
        "servers": network.visible_servers(),
        "load_balancers": sorted(network.load_balancers),
        "protection": {"delete": network.protection_delete},
        "labels": dict(network.labels),
        "created": iso(network.created),
        "expose_routes_to_vswitch": network.expose_routes_to_vswitch,
    }


def render_attachment(network_id: int, att: Attachment) -> dict[str, Any]:
    return {
        "network": network_id,
        "ip": str(att.ip),
        "alias_ips": [str(a) for a in att.alias_ips],
        "mac_address": att.mac_address,
    }
