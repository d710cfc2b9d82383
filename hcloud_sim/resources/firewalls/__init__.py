"""``/firewalls``: rules, applied to servers directly and by label selector.

Records and rule checks in ``model.py``, applying and removing in ``verbs.py``; here the routes,
``POST /servers`` ``firewalls``, the server's ``public_net.firewalls``, the scenario section.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, RootModel, model_validator

from hcloud_sim.errors import ApiError, invalid_field
from hcloud_sim.query import Reply, Request, Route, body_labels, one, page, path_id, selector
from hcloud_sim.query import sort_items as sort_by
from hcloud_sim.render import render_action
from hcloud_sim.resources import Family, ServerField, public
from hcloud_sim.resources.firewalls import verbs
from hcloud_sim.resources.firewalls.model import (
    MAX_PER_SERVER,
    Firewall,
    get,
    guarding,
    is_pending,
    parse_rules,
    render,
    state,
)
from hcloud_sim.resources.kit import (
    LIST_SORTS,
    action_routes,
    as_list,
    as_object,
    body_name,
    ensure_unique,
    parse_label_selector,
    required,
    resource_id,
    scenario_servers,
    unknown_keys,
)

if TYPE_CHECKING:
    from hcloud_sim.lifecycle import NewServer
    from hcloud_sim.model import Server
    from hcloud_sim.project import Project
    from hcloud_sim.resources import Apply
    from hcloud_sim.spec import ProjectSpec


def list_firewalls(req: Request) -> Reply:
    name, wanted = one(req, "name"), selector(req)
    found = [
        f
        for f in sorted(state(req.project).firewalls.values(), key=lambda f: f.id)
        if (name is None or f.name == name) and (wanted is None or wanted.matches(f.labels))
    ]
    found = sort_by(req, found, LIST_SORTS)
    return page(req, "firewalls", found, lambda f: render(req.project, f))


def create_firewall(req: Request) -> Reply:
    p = req.project
    name = required(body_name(req), "name")
    labels = body_labels(req) or {}
    rules = parse_rules(req.body.get("rules") or [])
    targets = verbs.parse_targets(req.body.get("apply_to") or [], "apply_to")
    ensure_unique((f.name for f in state(p).firewalls.values()), name, "firewall")
    firewall = Firewall(id=0, name=name, created=req.now, labels=labels, rules=rules)
    verbs.check(p, firewall, targets)  # before the firewall exists: a refusal changes nothing
    firewall.id = p.sim.next_id("firewall")
    state(p).firewalls[firewall.id] = firewall
    actions = verbs.apply(p, firewall, targets)
    return Reply(
        201,
        {
            "firewall": render(p, firewall),
            "actions": [render_action(a, req.now) for a in actions],
        },
    )


def get_firewall(req: Request) -> Reply:
    return Reply(200, {"firewall": render(req.project, get(req.project, path_id(req)))})


def update_firewall(req: Request) -> Reply:
    p = req.project
    firewall = get(p, path_id(req))
    name, labels = body_name(req), body_labels(req)
    if name is not None and name != firewall.name:
        ensure_unique((f.name for f in state(p).firewalls.values()), name, "firewall")
        firewall.name = name
    if labels is not None:
        firewall.labels = labels
    return Reply(200, {"firewall": render(p, firewall)})


def delete_firewall(req: Request) -> Reply:
    verbs.delete(req.project, get(req.project, path_id(req)))
    return Reply(204, None)


def _actions(req: Request, actions: list[Any]) -> Reply:
    return Reply(201, {"actions": [render_action(a, req.now) for a in actions]})


def set_rules(req: Request) -> Reply:
    firewall = get(req.project, path_id(req))
    rules = parse_rules(required(req.body.get("rules"), "rules"))
    return _actions(req, verbs.set_rules(req.project, firewall, rules))


def apply_to_resources(req: Request) -> Reply:
    firewall = get(req.project, path_id(req))
    targets = verbs.parse_targets(required(req.body.get("apply_to"), "apply_to"), "apply_to")
    return _actions(req, verbs.apply(req.project, firewall, targets))


def remove_from_resources(req: Request) -> Reply:
    firewall = get(req.project, path_id(req))
    where = "remove_from"
    targets = verbs.parse_targets(required(req.body.get(where), where), where)
    return _actions(req, verbs.remove(req.project, firewall, targets))


# -- servers --------------------------------------------------------------------------------


def _prepare_server(project: Project, value: Any, new: NewServer, location: str) -> Apply | None:
    """``POST /servers`` ``firewalls: [{"firewall": id}]``: checked before the server exists.

    Called for every new server (``default=[]``): label-selected firewalls apply to it too.
    """
    del location
    chosen: list[Firewall] = []
    for i, item in enumerate(as_list(value, "firewalls")):
        entry = as_object(item, f"firewalls.{i}")
        unknown_keys(entry, ("firewall",), f"firewalls.{i}")
        firewall = get(project, resource_id(entry.get("firewall"), f"firewalls.{i}.firewall"))
        if firewall in chosen:
            raise invalid_field("firewalls", f"firewall {firewall.id} is given twice")
        chosen.append(firewall)
    if len(chosen) > MAX_PER_SERVER:
        raise invalid_field("firewalls", f"a server can have at most {MAX_PER_SERVER} firewalls")
    if chosen and not public(new):
        raise ApiError(
            "private_net_only_server",
            "firewalls cannot be applied to a server without a public interface",
            status=422,
        )

    def apply(server: Server) -> None:
        for firewall in chosen:
            verbs.apply_at_create(project, firewall, server)
        verbs.selected_at_create(project, server, chosen)

    return apply


def _server_view(project: Project, server: Server, view: dict[str, Any]) -> None:
    view["public_net"]["firewalls"] = [
        {"id": f.id, "status": "pending" if is_pending(project, f.id, server.id) else "applied"}
        for f in guarding(project, server)
    ]


def _server_deleted(project: Project, server: Server) -> None:
    fw_state = state(project)
    for firewall in fw_state.firewalls.values():
        if server.id in firewall.servers:
            firewall.servers.remove(server.id)
    for key in [k for k in fw_state.applying if k[1] == server.id]:
        del fw_state.applying[key]


# -- scenarios ------------------------------------------------------------------------------


class FirewallSpec(BaseModel):
    """A firewall of a scenario: rules as the API takes them, applied to servers by name."""

    model_config = ConfigDict(extra="forbid")

    name: str
    labels: dict[str, str] = Field(default_factory=dict)
    rules: list[dict[str, Any]] = Field(default_factory=list)
    servers: list[str] = Field(default_factory=list, description="names of servers it guards")
    label_selectors: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _checked(self) -> FirewallSpec:
        """Rules and selectors are refused when the file loads, as the API would refuse them."""
        try:
            parse_rules(self.rules)
            for text in self.label_selectors:
                parse_label_selector(text, "label_selectors")
        except ApiError as exc:
            raise ValueError(f"firewall {self.name!r}: {exc.message}") from None
        return self


class FirewallsSection(RootModel[list[FirewallSpec]]):
    def check_refs(self, project: ProjectSpec) -> None:
        """Unknown or private-only servers and names used twice fail when the file loads."""
        servers = scenario_servers(project)
        names: set[str] = set()
        for spec in self.root:
            if spec.name in names:
                raise ValueError(f"firewall name {spec.name!r} is used twice")
            names.add(spec.name)
            for name in spec.servers:
                server = servers.get(name)
                if server is None:
                    raise ValueError(f"firewall {spec.name!r}: no server {name!r}")
                if not (server.ipv4 or server.ipv6):
                    raise ValueError(
                        f"firewall {spec.name!r}: server {name!r} has no public interface"
                    )


def _seed(project: Project, section: FirewallsSection | None) -> None:
    for spec in section.root if section is not None else []:
        try:
            ids = [_server_id(project, spec.name, n) for n in spec.servers]
            firewall = Firewall(
                id=project.sim.next_id("firewall"),
                name=spec.name,
                created=project.sim.clock.now() - 86400,
                labels=dict(spec.labels),
                rules=parse_rules(spec.rules),
            )
            ensure_unique(
                (f.name for f in state(project).firewalls.values()), spec.name, "firewall"
            )
            for text in spec.label_selectors:
                firewall.selectors[text] = parse_label_selector(text, "label_selectors")
        except ApiError as exc:
            raise ValueError(f"firewall {spec.name!r}: {exc.message}") from None
        firewall.servers = ids
        state(project).firewalls[firewall.id] = firewall


def _server_id(project: Project, firewall: str, name: str) -> int:
    found = next((s.id for s in project.servers.values() if s.name == name), None)
    if found is None:
        raise ValueError(f"firewall {firewall!r}: no server {name!r}")
    return found


def _ground_truth(project: Project) -> list[dict[str, Any]]:
    return [
        render(project, f) for f in sorted(state(project).firewalls.values(), key=lambda f: f.id)
    ]


def _exists(project: Project, firewall_id: int) -> object:
    return get(project, firewall_id)


FAMILY = Family(
    name="firewalls",
    routes=(
        *action_routes("firewalls", "firewall", _exists),
        Route("GET", "/firewalls", list_firewalls),
        Route(
            "POST",
            "/firewalls",
            create_firewall,
            frozenset({"name", "labels", "rules", "apply_to"}),
        ),
        Route("GET", "/firewalls/{id}", get_firewall),
        Route("PUT", "/firewalls/{id}", update_firewall, frozenset({"name", "labels"})),
        Route("DELETE", "/firewalls/{id}", delete_firewall),
        Route("POST", "/firewalls/{id}/actions/set_rules", set_rules, frozenset({"rules"})),
        Route(
            "POST",
            "/firewalls/{id}/actions/apply_to_resources",
            apply_to_resources,
            frozenset({"apply_to"}),
        ),
        Route(
            "POST",
            "/firewalls/{id}/actions/remove_from_resources",
            remove_from_resources,
            frozenset({"remove_from"}),
        ),
    ),
    server_fields=(ServerField("firewalls", _prepare_server, default=[]),),
    server_view=_server_view,
    on_server_deleted=_server_deleted,
    on_server_relabelled=verbs.relabelled,
    section=FirewallsSection,
    seed=_seed,
    order=110,
    ground_truth=_ground_truth,
)
