"""The built-in scenario ``wired``: one server tied to every resource family, and two plain ones.

``app-1`` sits in two networks at given addresses with alias IPs, is guarded by a firewall applied
to it directly and by one applied through the label selector ``role=app``, holds its own Primary
IPv4 (``auto_delete``) and IPv6 (kept) with reverse DNS, a volume and a floating IP, is in a
placement group, is targeted by one load balancer directly and by another through ``role=app``,
and has Hetzner Backups enabled with three backups already made. Deleting it shows every relation
undone at once (see ``tests/sim/test_wired_scenario.py``).
"""

from __future__ import annotations

from typing import Any

#: the addresses app-1 holds in its two networks: (network, ip, alias ips)
APP_ADDRESSES = (
    ("front", "10.10.0.5", ["10.10.0.6"]),
    ("back", "10.20.1.10", ["10.20.1.11", "10.20.1.12"]),
)
SSH_RULE = {"direction": "in", "protocol": "tcp", "port": "22", "source_ips": ["0.0.0.0/0"]}
WEB_RULE = {
    "direction": "in",
    "protocol": "tcp",
    "port": "80-443",
    "source_ips": ["0.0.0.0/0", "::/0"],
    "description": "web",
}


def wired() -> dict[str, Any]:
    """``app-1`` wired to networks, firewalls, IPs, a volume, LBs, a group, backups; 2 plain."""
    prod = {"env": "prod"}
    return {
        "name": "wired",
        "description": "app-1 tied to every resource family; plain-1, plain-2 tied to nothing",
        "time_scale": 10.0,
        "projects": [
            {
                "name": "wired",
                "servers": [
                    {"name": "app-1", "labels": {**prod, "role": "app"}, "location": "fsn1"},
                    {"name": "plain-1", "labels": {**prod, "role": "plain"}},
                    {"name": "plain-2", "labels": {"env": "staging"}, "location": "nbg1"},
                ],
                "networks": [
                    {
                        "name": name,
                        "ip_range": f"{ip.rsplit('.', 2)[0]}.0.0/16",
                        "labels": prod,
                        "subnets": [{"ip_range": f"{ip.rsplit('.', 1)[0]}.0/24"}],
                        "servers": [{"name": "app-1", "ip": ip, "alias_ips": aliases}],
                    }
                    for name, ip, aliases in APP_ADDRESSES
                ],
                "placement_groups": [{"name": "app-spread", "servers": ["app-1"]}],
                "primary_ips": [
                    {
                        "name": "app-v4",
                        "type": "ipv4",
                        "server": "app-1",
                        "auto_delete": True,
                        "dns_ptr": "app.example.com",
                    },
                    {
                        "name": "app-v6",
                        "type": "ipv6",
                        "server": "app-1",
                        "auto_delete": False,
                        "dns_ptr": "app6.example.com",
                    },
                ],
                "floating_ips": [
                    {"name": "app-vip", "type": "ipv4", "server": "app-1", "description": "VIP"}
                ],
                "volumes": [{"name": "app-data", "size": 50, "server": "app-1", "format": "ext4"}],
                "firewalls": [
                    {"name": "app-direct", "rules": [SSH_RULE], "servers": ["app-1"]},
                    {"name": "by-role", "rules": [WEB_RULE], "label_selectors": ["role=app"]},
                ],
                "load_balancers": [
                    {
                        "name": "lb-direct",
                        "location": "fsn1",
                        "services": [{"protocol": "http"}],
                        "servers": ["app-1"],
                    },
                    {
                        "name": "lb-by-role",
                        "location": "fsn1",
                        "services": [
                            {"protocol": "tcp", "listen_port": 22, "destination_port": 22}
                        ],
                        "label_selectors": ["role=app"],
                    },
                ],
                "backups": [{"server": "app-1", "window": "22-02", "existing": 3}],
            }
        ],
    }
