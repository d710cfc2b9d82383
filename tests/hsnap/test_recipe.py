"""The recipe: read from the API's JSON (pure), written into labels the API accepts, read back."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hcloud_labels import check_labels
from hsnap.snapshot.recipe import (
    Attachment,
    NetworkSeat,
    PrimaryIp,
    Recipe,
    VolumeRecord,
    from_labels,
    is_recipe_label,
    to_labels,
)
from hsnap.snapshot.recipe_read import build, uses

SID = 42
#: a server as the OpenAPI document shapes it, tied to everything
SERVER: dict[str, Any] = {
    "id": SID,
    "name": "web-1",
    "server_type": {"name": "cax11", "architecture": "arm"},
    "location": {"name": "nbg1"},
    "labels": {"role": "web"},
    "protection": {"delete": True, "rebuild": False},
    "backup_window": "22-02",
    "public_net": {
        "ipv4": {"id": 7, "ip": "198.51.100.2", "blocked": False, "dns_ptr": "web.example.com"},
        "ipv6": {
            "id": 8,
            "ip": "2001:db8::/64",
            "blocked": False,
            "dns_ptr": [{"ip": "2001:db8::1", "dns_ptr": "web.example.com"}],
        },
        "floating_ips": [30],
        "firewalls": [{"id": 10, "status": "applied"}, {"id": 11, "status": "applied"}],
    },
    "private_net": [{"network": 5, "ip": "10.0.0.5", "alias_ips": ["10.0.0.6"]}],
    "placement_group": {"id": 3, "name": "spread"},
    "volumes": [20],
    "load_balancers": [40, 41],
}
LOOKUPS: dict[str, dict[int, Any]] = {
    "primary_ips": {7: {"id": 7, "auto_delete": False}, 8: {"id": 8, "auto_delete": True}},
    "networks": {5: {"id": 5, "name": "backend"}},
    "firewalls": {
        10: {"id": 10, "name": "ssh", "applied_to": [{"type": "server", "server": {"id": SID}}]},
        11: {
            "id": 11,
            "name": "web",
            "applied_to": [
                {
                    "type": "label_selector",
                    "label_selector": {"selector": "role=web"},
                    "applied_to_resources": [{"type": "server", "server": {"id": SID}}],
                }
            ],
        },
    },
    "volumes": {20: {"id": 20, "name": "data", "size": 100, "format": "ext4"}},
    "floating_ips": {30: {"id": 30, "name": "vip", "ip": "192.0.2.9"}},
    "load_balancers": {
        40: {
            "id": 40,
            "name": "lb-direct",
            "targets": [{"type": "server", "server": {"id": SID}, "use_private_ip": True}],
        },
        41: {
            "id": 41,
            "name": "lb-label",
            "targets": [
                {
                    "type": "label_selector",
                    "label_selector": {"selector": "role=web"},
                    "targets": [{"type": "server", "server": {"id": SID}}],
                }
            ],
        },
    },
}


def test_build_reads_every_part_of_the_server() -> None:
    recipe = build(SERVER, LOOKUPS, [])

    assert (recipe.server_type, recipe.architecture, recipe.location) == ("cax11", "arm", "nbg1")
    assert (recipe.delete_protected, recipe.rebuild_protected, recipe.backups) == (
        True,
        False,
        True,
    )
    assert recipe.ipv4 == PrimaryIp(
        id=7, ip="198.51.100.2", auto_delete=False, dns_ptr=[("198.51.100.2", "web.example.com")]
    )
    assert recipe.ipv6 is not None
    assert recipe.ipv6.auto_delete is True
    assert recipe.networks == [
        NetworkSeat(network=5, name="backend", ip="10.0.0.5", alias_ips=["10.0.0.6"])
    ]
    assert recipe.firewalls == [
        Attachment(id=10, name="ssh", direct=True),
        Attachment(id=11, name="web", selectors=["role=web"]),
    ]
    assert recipe.volumes == [VolumeRecord(id=20, name="data", size=100, automount=True)]
    assert [(f.id, f.ip) for f in recipe.floating_ips] == [(30, "192.0.2.9")]
    assert recipe.load_balancers == [
        Attachment(id=40, name="lb-direct", direct=True, private_ip=True),
        Attachment(id=41, name="lb-label", selectors=["role=web"]),
    ]
    assert (recipe.placement_group, recipe.placement_group_name) == (3, "spread")


def test_a_family_that_could_not_be_read_is_named_in_the_recipe() -> None:
    lookups = {k: v for k, v in LOOKUPS.items() if k != "firewalls"}
    recipe = build(SERVER, lookups, ["firewalls"])
    assert recipe.unknown == ["firewalls"]
    assert all(f.direct for f in recipe.firewalls)  # applied somehow: re-applied directly


def test_a_bare_server_needs_no_family_listed() -> None:
    bare = {"id": 1, "name": "b", "public_net": {"ipv4": None, "ipv6": None}}
    assert uses(bare) == set()
    assert uses(SERVER) == set(LOOKUPS)


def test_hetzners_default_reverse_dns_is_not_recorded() -> None:
    server = {**SERVER, "public_net": {**SERVER["public_net"]}}
    server["public_net"]["ipv4"] = {
        "id": 7,
        "ip": "198.51.100.2",
        "dns_ptr": "static.198.51.100.2.clients.your-server.de",
    }
    recipe = build(server, LOOKUPS, [])
    assert recipe.ipv4 is not None
    assert recipe.ipv4.dns_ptr == []


def test_the_full_recipe_fits_in_labels_the_api_accepts_and_reads_back() -> None:
    recipe = build(SERVER, LOOKUPS, [])
    labels = to_labels(recipe)

    check_labels(labels)
    assert all(is_recipe_label(k) for k in labels)
    assert from_labels(labels) == recipe
    assert len(labels) <= 12


def test_broken_or_foreign_labels_give_no_recipe() -> None:
    labels = to_labels(build(SERVER, LOOKUPS, []))
    assert from_labels({}) is None
    assert from_labels({**labels, "hsnap/r0": "xAAAAx"}) is None
    assert from_labels({k: v for k, v in labels.items() if k != "hsnap/r1"}) is None
    assert from_labels({**labels, "hsnap/recipe": "99.2"}) is None  # a newer hsnap's


names = st.text(st.characters(codec="utf-8"), max_size=40)


@settings(max_examples=60, deadline=None)
@given(
    name=st.from_regex(r"[a-z][a-z0-9-]{0,30}[a-z0-9]", fullmatch=True),
    labels=st.dictionaries(st.from_regex(r"[a-z]{1,10}", fullmatch=True), names, max_size=5),
    volume_names=st.lists(names, max_size=4),
    aliases=st.lists(st.ip_addresses(v=4).map(str), max_size=5),
)
def test_any_recipe_round_trips_through_valid_labels(
    name: str, labels: dict[str, str], volume_names: list[str], aliases: list[str]
) -> None:
    recipe = Recipe(
        server_id=1,
        name=name,
        server_type="cx22",
        location="fsn1",
        labels=labels,
        networks=[NetworkSeat(network=1, ip="10.0.0.2", alias_ips=aliases)],
        volumes=[VolumeRecord(id=i, name=n) for i, n in enumerate(volume_names)],
    )
    encoded = to_labels(recipe)
    check_labels(encoded)
    assert from_labels(encoded) == recipe
    shorter = from_labels(to_labels(recipe, names=False))
    assert shorter is not None
    assert [v.id for v in shorter.volumes] == [v.id for v in recipe.volumes]
