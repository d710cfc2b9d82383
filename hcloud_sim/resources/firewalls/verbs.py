"""Applying firewalls to servers and label selectors, and taking them off again.

Each applied resource gets an ``apply_firewall`` action (``remove_firewall`` to take it off) that
runs for the project's duration of that command. They lock nothing: a server keeps working while
a firewall is applied to it. The firewall shows as ``pending`` on a server until its action ends;
a removal takes effect when its action succeeds, as the API documents.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hcloud_sim.errors import ApiError, invalid_field
from hcloud_sim.model import Action
from hcloud_sim.resources.firewalls.model import (
    MAX_PER_SERVER,
    Firewall,
    guarding,
    has_public_interface,
    selected,
    state,
)
from hcloud_sim.resources.kit import (
    as_list,
    as_object,
    parse_label_selector,
    resource_id,
    unknown_keys,
)

if TYPE_CHECKING:
    from hcloud_sim.model import Server
    from hcloud_sim.project import Project

#: one entry of ``apply_to`` / ``remove_from``: ("server", id) or ("label_selector", text)
Target = tuple[str, Any]


def parse_targets(value: Any, where: str) -> list[Target]:
    targets: list[Target] = []
    for i, item in enumerate(as_list(value, where)):
        at = f"{where}.{i}"
        entry = as_object(item, at)
        unknown_keys(entry, ("type", "server", "label_selector"), at)
        kind = entry.get("type")
        if kind == "server":
            ref = as_object(entry.get("server"), f"{at}.server")
            unknown_keys(ref, ("id",), f"{at}.server")
            targets.append(("server", resource_id(ref.get("id"), f"{at}.server.id")))
        elif kind == "label_selector":
            ref = as_object(entry.get("label_selector"), f"{at}.label_selector")
            unknown_keys(ref, ("selector",), f"{at}.label_selector")
            text = ref.get("selector")
            parse_label_selector(text, f"{at}.label_selector.selector")
            targets.append(("label_selector", text))
        else:
            raise invalid_field(f"{at}.type", "must be one of server, label_selector")
    return targets


def _not_found(server_id: int) -> ApiError:
    return ApiError(
        "firewall_resource_not_found",
        f"server with ID '{server_id}' not found",
        status=404,
    )


def server_for(project: Project, server_id: int) -> Server:
    server = project.servers.get(server_id)
    if server is None:
        raise _not_found(server_id)
    if not has_public_interface(project, server):
        raise ApiError(
            "private_net_only_server",
            f"server with ID '{server_id}' has no public interface",
            status=422,
        )
    return server


def check_room(project: Project, server: Server, adding: int = 1) -> None:
    if len(guarding(project, server)) + adding > MAX_PER_SERVER:
        raise ApiError(
            "firewall_limit_exceeded",
            f"server with ID '{server.id}' can have at most {MAX_PER_SERVER} firewalls",
            status=422,
        )


def _action(
    project: Project,
    command: str,
    firewall: Firewall,
    servers: list[int],
    on_success: Callable[[float], None] | None = None,
) -> Action:
    return project.begin_on(
        command,
        [(firewall.id, "firewall"), *((sid, "server") for sid in servers)],
        locks=[],
        duration=project.draw(project.spec.duration_for(command)),
        on_success=on_success,
    )


def _mark_pending(project: Project, firewall: Firewall, servers: list[int], action: Action) -> None:
    for sid in servers:
        state(project).applying[(firewall.id, sid)] = action.id


def check(project: Project, firewall: Firewall, targets: list[Target]) -> None:
    """Refuse what cannot be applied; nothing changes here."""
    seen: set[Target] = set()
    for target in targets:
        if target in seen:
            raise ApiError(
                "server_already_added" if target[0] == "server" else "firewall_already_applied",
                f"{target[0]} {target[1]} is given twice",
                status=422,
            )
        seen.add(target)
        kind, ref = target
        if kind == "server":
            server = server_for(project, ref)
            if ref in firewall.servers:
                raise ApiError(
                    "firewall_already_applied",
                    f"firewall with ID '{firewall.id}' is already applied to server '{ref}'",
                    status=422,
                )
            check_room(project, server)
        elif ref in firewall.selectors:
            raise ApiError(
                "firewall_already_applied",
                f"firewall with ID '{firewall.id}' is already applied to label selector {ref!r}",
                status=422,
            )


def apply(project: Project, firewall: Firewall, targets: list[Target]) -> list[Action]:
    """Check every target first (a refused request changes nothing), then apply them all."""
    check(project, firewall, targets)
    actions = []
    for kind, ref in targets:
        if kind == "server":
            firewall.servers.append(ref)
            servers = [ref]
        else:
            firewall.selectors[ref] = parse_label_selector(ref, "label_selector")
            servers = [s.id for s in selected(project, firewall, firewall.selectors[ref])]
        action = _action(project, "apply_firewall", firewall, servers)
        _mark_pending(project, firewall, servers, action)
        actions.append(action)
    return actions


def apply_at_create(project: Project, firewall: Firewall, server: Server) -> None:
    """``POST /servers`` with ``firewalls``: applied once the server exists (and has its Primary
    IPs: the primary_ips family's ``public_net`` is applied first). A server made without a
    public interface is not guarded: the firewalls family cannot see ``public_net`` beforehand
    to refuse the request as the API does."""
    if not has_public_interface(project, server):
        return
    firewall.servers.append(server.id)
    action = _action(project, "apply_firewall", firewall, [server.id])
    _mark_pending(project, firewall, [server.id], action)


def selected_at_create(project: Project, server: Server, direct: list[Firewall]) -> None:
    """A new server that label-selected firewalls match: each runs ``apply_firewall`` on it, so
    it shows them ``pending`` first, as a server the API has just created does."""
    if not has_public_interface(project, server):
        return
    for firewall in state(project).firewalls.values():
        if firewall not in direct and any(
            s.matches(server.labels) for s in firewall.selectors.values()
        ):
            action = _action(project, "apply_firewall", firewall, [server.id])
            _mark_pending(project, firewall, [server.id], action)


def relabelled(project: Project, server: Server, before: dict[str, str]) -> None:
    """``PUT /servers`` relabelled ``server``: each label-selected firewall that matches it now and
    did not before runs ``apply_firewall`` on it (``pending`` meanwhile), as for a new server."""
    if not has_public_interface(project, server):
        return
    for firewall in state(project).firewalls.values():
        if server.id in firewall.servers:
            continue
        selectors = firewall.selectors.values()
        if any(s.matches(server.labels) for s in selectors) and not any(
            s.matches(before) for s in selectors
        ):
            action = _action(project, "apply_firewall", firewall, [server.id])
            _mark_pending(project, firewall, [server.id], action)


def remove(project: Project, firewall: Firewall, targets: list[Target]) -> list[Action]:
    for kind, ref in targets:
        if kind == "server":
            server = project.servers.get(ref)
            if server is None:
                raise _not_found(ref)
            if ref not in firewall.servers:
                by_label = any(s.matches(server.labels) for s in firewall.selectors.values())
                raise ApiError(
                    "firewall_managed_by_label_selector"
                    if by_label
                    else "firewall_already_removed",
                    f"firewall with ID '{firewall.id}' is "
                    + ("applied by a label selector to" if by_label else "not applied to")
                    + f" server '{ref}'",
                    status=422,
                )
        elif ref not in firewall.selectors:
            raise ApiError(
                "firewall_already_removed",
                f"firewall with ID '{firewall.id}' is not applied to label selector {ref!r}",
                status=422,
            )
    actions = []
    for kind, ref in targets:
        if kind == "server":
            servers = [ref]
        else:
            servers = [s.id for s in selected(project, firewall, firewall.selectors[ref])]
        off = _taking_off(firewall, kind, ref)
        actions.append(_action(project, "remove_firewall", firewall, servers, on_success=off))
    return actions


def _taking_off(firewall: Firewall, kind: str, ref: Any) -> Callable[[float], None]:
    def off(t: float) -> None:
        del t
        if kind == "server" and ref in firewall.servers:
            firewall.servers.remove(ref)
        elif kind == "label_selector":
            firewall.selectors.pop(ref, None)

    return off


def set_rules(project: Project, firewall: Firewall, rules: list[dict[str, Any]]) -> list[Action]:
    """New rules: ``set_firewall_rules``, then ``apply_firewall`` on every server it guards."""
    firewall.rules = rules
    actions = [_action(project, "set_firewall_rules", firewall, [])]
    found = set(firewall.servers)
    for selector in firewall.selectors.values():
        found.update(s.id for s in selected(project, firewall, selector))
    guarded = sorted(found)
    if guarded:
        action = _action(project, "apply_firewall", firewall, guarded)
        _mark_pending(project, firewall, guarded, action)
        actions.append(action)
    return actions


def delete(project: Project, firewall: Firewall) -> None:
    if firewall.servers or firewall.selectors:
        raise ApiError(
            "resource_in_use", f"firewall with ID '{firewall.id}' is still in use", status=422
        )
    del state(project).firewalls[firewall.id]
