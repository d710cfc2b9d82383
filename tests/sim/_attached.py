"""A world for the Primary IP, floating IP and volume contract tests: servers and what they hold.

Ids are fixed by seeding order: servers first, then the ``primary_ips`` section's IPs, then the
Primary IPs made with each server (in server order), floating IPs, volumes.
"""

from __future__ import annotations

from typing import Any

ATTACHED: dict[str, Any] = {
    "name": "attached",
    "projects": [
        {
            "name": "attached",
            "action_durations": {"stop_server": 3, "delete_server": 5},
            "servers": [
                {"name": "web-1", "labels": {"env": "prod"}},
                {"name": "off-1", "status": "off"},
                {"name": "bare-1", "status": "off", "ipv4": False, "ipv6": False},
                {"name": "nbg-1", "status": "off", "location": "nbg1"},
            ],
            "primary_ips": [
                {
                    "name": "spare-v4",
                    "type": "ipv4",
                    "location": "fsn1",
                    "labels": {"role": "spare"},
                },
                {"name": "keep-v6", "type": "ipv6", "server": "off-1"},
            ],
            "floating_ips": [
                {"name": "vip", "type": "ipv4", "server": "web-1", "description": "web VIP"},
                {"name": "spare-v6", "type": "ipv6", "home_location": "hel1"},
            ],
            "volumes": [
                {"name": "data-1", "size": 50, "server": "web-1", "labels": {"role": "db"}},
                {"name": "loose", "size": 10, "location": "fsn1"},
                {"name": "far", "size": 10, "location": "nbg1"},
            ],
        }
    ],
}
WEB_1, OFF_1, BARE_1, NBG_1 = range(100001, 100005)
SPARE_V4, KEEP_V6, WEB_V4, WEB_V6, OFF_V4, NBG_V4, NBG_V6 = range(700001, 700008)
VIP, SPARE_V6 = 1300001, 1300002
DATA_1, LOOSE, FAR = range(1400001, 1400004)
