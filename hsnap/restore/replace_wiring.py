"""The steps of ``--replace`` after the create: each compares the server with its recipe.

Every step reads what is (the server's JSON, the resource it points at), does only the
difference, and adds one row: ``kept`` (already as recorded), ``done``, ``changed`` (done, but
not as recorded: a new address) or ``failed`` (with what to do). Order matters where the API
makes it: addresses and networks first, reverse DNS once the addresses are final, protection last.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from hsnap.errors import GoneError
from hsnap.snapshot.recipe import Attachment, NetworkSeat, PrimaryIp, Recipe

if TYPE_CHECKING:
    from hsnap.restore.replace import Steps

Json = dict[str, Any]


def converge(steps: Steps, recipe: Recipe) -> None:
    """Run every step after the create (see the module doc)."""
    server = steps.server()
    _addresses(steps, recipe, server)
    server = _labelled(steps, recipe, server)
    _placement(steps, recipe, server)
    for seat in recipe.networks:
        _network(steps, seat, server)
    for wall in recipe.firewalls:
        _firewall(steps, wall, server)
    for volume in recipe.volumes:
        _volume(steps, volume.id, volume.name, volume.automount, server)
    for fip in recipe.floating_ips:
        _floating(steps, fip.id, fip.ip, server)
    for lb in recipe.load_balancers:
        _balancer(steps, lb, server)
    server = _settled(steps) if recipe.firewalls else steps.server()
    _reverse_dns(steps, recipe, server)
    _backups(steps, recipe, server)
    _protection(steps, recipe, server)
    for family in recipe.unknown:
        steps.add(
            family,
            "-",
            "failed",
            "the snapshot's run could not read them, so they are not restored: check them by hand",
        )


def _addresses(steps: Steps, recipe: Recipe, server: Json) -> None:
    public = server.get("public_net") or {}
    for key, was in (("ipv4", recipe.ipv4), ("ipv6", recipe.ipv6)):
        now = (public.get(key) or {}).get("ip")
        if was is None:
            continue
        if now == was.ip:
            steps.add("address", f"{key} {was.ip}", "kept", f"Primary IP {was.id}")
            continue
        line = f"ADDRESS CHANGED: {key} was {was.ip}, is now {now or 'none'}"
        if line not in steps.warnings:
            steps.loud(line)
        steps.add(
            "address",
            f"{key} {was.ip}",
            "changed",
            f"now {now}: update DNS records, allow-lists and clients that use {was.ip}",
        )


def _placement(steps: Steps, recipe: Recipe, server: Json) -> None:
    if recipe.placement_group is None:
        return
    name = recipe.placement_group_name or str(recipe.placement_group)
    if (server.get("placement_group") or {}).get("id") == recipe.placement_group:
        steps.add("placement group", name, "done")
        return
    steps.add(
        "placement group",
        name,
        "failed",
        "the group no longer exists or is full: "
        "create one, power the server off and add it (hcloud server "
        "add-to-placement-group)",
    )


def _network(steps: Steps, seat_wanted: NetworkSeat, server: Json) -> None:
    network, ip, alias = seat_wanted.network, seat_wanted.ip, seat_wanted.alias_ips
    name = seat_wanted.name
    target = f"{name or network} at {ip}"
    seat = next((s for s in server.get("private_net") or () if s["network"] == network), None)
    path = f"/servers/{steps.server_id}/actions"
    if seat is None:
        if steps.attempt(
            "network",
            target,
            lambda: steps.act(
                f"{path}/attach_to_network",
                {"network": network, "ip": ip, "alias_ips": alias},
                f"joining network {network} at {ip}",
            ),
            f"the network is gone or {ip} is taken: free the address (or recreate the network)"
            " and re-run --replace",
        ):
            steps.add("network", target, "done", _aliases(alias))
        return
    if seat["ip"] != ip:
        steps.add(
            "network",
            target,
            "failed",
            f"joined at {seat['ip']} instead: detach it "
            "(hcloud server detach-from-network) and re-run --replace",
        )
        return
    if sorted(seat.get("alias_ips") or ()) == sorted(alias):
        steps.add("network", target, "kept", _aliases(alias))
        return
    if steps.attempt(
        "network",
        target,
        lambda: steps.act(
            f"{path}/change_alias_ips",
            {"network": network, "alias_ips": alias},
            f"alias IPs in network {network}",
        ),
        "free the alias addresses and re-run --replace",
    ):
        steps.add("network", target, "done", _aliases(alias))


def _aliases(alias: list[str]) -> str:
    return f"alias IPs {', '.join(alias)}" if alias else ""


def _firewall(steps: Steps, wall: Attachment, server: Json) -> None:
    target = wall.name or str(wall.id)
    applied = {f["id"] for f in (server.get("public_net") or {}).get("firewalls") or ()}
    how = "direct" if wall.direct else f"by label {', '.join(wall.selectors)}"
    if wall.id in applied:
        steps.add("firewall", target, "done", how)
        return
    if not wall.direct:
        steps.add(
            "firewall",
            target,
            "failed",
            f"applied {how} before, not now: check the "
            "firewall still exists and its selector matches the server's labels",
        )
        return
    body = {"apply_to": [{"type": "server", "server": {"id": steps.server_id}}]}
    if steps.attempt(
        "firewall",
        target,
        lambda: steps.act(
            f"/firewalls/{wall.id}/actions/apply_to_resources", body, f"applying firewall {target}"
        ),
        "the firewall is gone: create it again and apply it (hcloud firewall apply-to-resource)",
    ):
        steps.add("firewall", target, "done", how)


def _volume(steps: Steps, volume_id: int, name: str, automount: bool, server: Json) -> None:
    target = name or str(volume_id)
    if volume_id in (server.get("volumes") or ()):
        steps.add("volume", target, "done", "attached" + (", automount" if automount else ""))
        return
    try:
        volume = steps.cloud.raw("GET", f"/volumes/{volume_id}", f"volume {target}")["volume"]
    except GoneError:
        steps.add(
            "volume",
            target,
            "failed",
            "the volume was deleted: its data is in no "
            "snapshot; restore it from your own backup onto a new volume",
        )
        return
    if volume.get("server") not in (None, steps.server_id):
        steps.add(
            "volume",
            target,
            "failed",
            f"attached to server {volume['server']}: detach "
            "it there (hcloud volume detach) and re-run --replace",
        )
        return
    body = {"server": steps.server_id, "automount": automount}
    if steps.attempt(
        "volume",
        target,
        lambda: steps.act(
            f"/volumes/{volume_id}/actions/attach", body, f"attaching volume {target}"
        ),
        "attach it by hand (hcloud volume attach) once the cause is fixed",
    ):
        steps.add("volume", target, "done", "attached" + (", automount" if automount else ""))


def _floating(steps: Steps, fip_id: int, ip: str, server: Json) -> None:
    target = ip or str(fip_id)
    if fip_id in ((server.get("public_net") or {}).get("floating_ips") or ()):
        steps.add("floating IP", target, "kept")
        return
    if steps.attempt(
        "floating IP",
        target,
        lambda: steps.act(
            f"/floating_ips/{fip_id}/actions/assign",
            {"server": steps.server_id},
            f"assigning floating IP {target}",
            ("floating_ip_assigned",),
        ),
        "the floating IP is gone or in another location: order one and update DNS",
    ):
        steps.add("floating IP", target, "done", "assigned")


def _balancer(steps: Steps, lb: Attachment, server: Json) -> None:
    target = lb.name or str(lb.id)
    if not lb.direct:
        how = f"by label {', '.join(lb.selectors)}"
        if lb.id in (server.get("load_balancers") or ()):
            steps.add("load balancer", target, "done", how)
        else:
            steps.add(
                "load balancer",
                target,
                "failed",
                f"targeted it {how} before, not now: "
                "check the load balancer still exists and its selector",
            )
        return
    try:
        found = steps.cloud.raw("GET", f"/load_balancers/{lb.id}", f"load balancer {target}")
    except GoneError:
        steps.add(
            "load balancer",
            target,
            "failed",
            "the load balancer was deleted: create one and add the server as a target",
        )
        return
    targets = found["load_balancer"].get("targets") or ()
    if any(
        t.get("type") == "server" and (t.get("server") or {}).get("id") == steps.server_id
        for t in targets
    ):
        steps.add("load balancer", target, "kept", "target: server")
        return
    body = {"type": "server", "server": {"id": steps.server_id}, "use_private_ip": lb.private_ip}
    if steps.attempt(
        "load balancer",
        target,
        lambda: steps.act(
            f"/load_balancers/{lb.id}/actions/add_target",
            body,
            f"adding to load balancer {target}",
            ("target_already_defined",),
        ),
        "add the server as a target by hand (hcloud load-balancer add-target)",
    ):
        steps.add("load balancer", target, "done", "target: server")


def _settled(steps: Steps) -> Json:
    """The server once no firewall on it is ``pending`` any more (or at the deadline)."""
    deadline = steps.deadline()
    while True:
        server = steps.server()
        walls = (server.get("public_net") or {}).get("firewalls") or ()
        if all(f.get("status") != "pending" for f in walls) or deadline.expired():
            return server
        deadline.sleep(2.0)


def _labelled(steps: Steps, recipe: Recipe, server: Json) -> Json:
    """The recorded labels (label-selected firewalls and load balancers find the server by them)."""
    wanted = {k: v for k, v in recipe.labels.items() if k != "hsnap/restart"}
    target = f"{len(wanted)} label(s)"
    if (server.get("labels") or {}) == wanted:
        steps.add("labels", target, "done")
        return server
    path = f"/servers/{steps.server_id}"
    if steps.attempt(
        "labels",
        target,
        lambda: steps.cloud.raw("PUT", path, "labels", json={"labels": wanted}),
        "set them by hand (hcloud server add-label)",
    ):
        steps.add("labels", target, "done")
    return steps.server()


def _reverse_dns(steps: Steps, recipe: Recipe, server: Json) -> None:
    public = server.get("public_net") or {}
    for key, was in (("ipv4", recipe.ipv4), ("ipv6", recipe.ipv6)):
        now = public.get(key)
        if was is None or not was.dns_ptr or not now:
            continue
        current = _ptrs(now, key)
        for address, ptr in was.dns_ptr:
            ip = _moved(address, was, str(now["ip"]))
            if current.get(ip) == ptr:
                steps.add("reverse DNS", ip, "kept", ptr)
                continue
            body = {"ip": ip, "dns_ptr": ptr}
            what = f"reverse DNS of {ip}"
            if steps.attempt(
                "reverse DNS",
                ip,
                lambda b=body, w=what: steps.act(
                    f"/servers/{steps.server_id}/actions/change_dns_ptr", b, w
                ),
                f"set it by hand: hcloud server set-rdns --ip {ip} --hostname {ptr}",
            ):
                steps.add("reverse DNS", ip, "done", ptr)


def _ptrs(address: Json, key: str) -> dict[str, str]:
    raw = address.get("dns_ptr")
    if key == "ipv4":
        return {str(address["ip"]): str(raw)} if raw else {}
    return {str(p["ip"]): str(p["dns_ptr"]) for p in raw or ()}


def _moved(address: str, was: PrimaryIp, now: str) -> str:
    """``address`` in the server's current addresses (the same host part of a new IPv6 /64)."""
    if "/" not in now or "/" not in was.ip or was.ip == now:
        return now if "/" not in now else address
    old_net, new_net = ipaddress.ip_network(was.ip), ipaddress.ip_network(now)
    host = int(ipaddress.ip_address(address)) - int(old_net.network_address)
    return str(ipaddress.ip_address(int(new_net.network_address) + host))


def _backups(steps: Steps, recipe: Recipe, server: Json) -> None:
    on = server.get("backup_window") is not None
    if recipe.backups == on:
        steps.add("backups", "on" if on else "off", "kept")
        return
    verb = "enable_backup" if recipe.backups else "disable_backup"
    if steps.attempt(
        "backups",
        "on" if recipe.backups else "off",
        lambda: steps.act(
            f"/servers/{steps.server_id}/actions/{verb}", None, verb.replace("_", " ")
        ),
        "set it by hand (hcloud server enable-backup)",
    ):
        steps.add("backups", "on" if recipe.backups else "off", "done")


def _protection(steps: Steps, recipe: Recipe, server: Json) -> None:
    now = server.get("protection") or {}
    wanted = {"delete": recipe.delete_protected, "rebuild": recipe.rebuild_protected}
    target = ", ".join(k for k, v in wanted.items() if v) or "none"
    if {k: bool(now.get(k)) for k in wanted} == wanted:
        steps.add("protection", target, "kept")
        return
    if steps.attempt(
        "protection",
        target,
        lambda: steps.act(
            f"/servers/{steps.server_id}/actions/change_protection", wanted, "protection"
        ),
        "set it by hand (hcloud server enable-protection)",
    ):
        steps.add("protection", target, "done")
