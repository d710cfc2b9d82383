"""``/load_balancers`` and ``/load_balancer_types``: services, health checks and targets.

Records in ``model.py``, services in ``services.py``, targets in ``targets.py``, private networks
in ``network.py``, handlers in ``api.py``, the type catalog in ``types.py``, flat-zero ``/metrics``
in ``metrics.py``; here the route table, the server view (``load_balancers``: who targets the
server), server deletion and the scenario section.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, model_validator

from hcloud_sim.errors import ApiError
from hcloud_sim.query import Route
from hcloud_sim.resources import Family
from hcloud_sim.resources.kit import (
    action_routes,
    parse_label_selector,
    scenario_servers,
)
from hcloud_sim.resources.load_balancers import api, metrics, network, services, targets, types
from hcloud_sim.resources.load_balancers.model import (
    LoadBalancer,
    Target,
    get,
    render,
    state,
    targeting,
)
from hcloud_sim.resources.networks.verbs import networks_of

if TYPE_CHECKING:
    from hcloud_sim.model import Server
    from hcloud_sim.project import Project
    from hcloud_sim.spec import ProjectSpec


def _server_view(project: Project, server: Server, view: dict[str, Any]) -> None:
    view["load_balancers"] = targeting(project, server)


def _server_deleted(project: Project, server: Server) -> None:
    for lb in state(project).load_balancers.values():
        lb.targets = [t for t in lb.targets if not (t.type == "server" and t.server == server.id)]


class LoadBalancerSpec(BaseModel):
    """A load balancer of a scenario: services as the API takes them (https certificates may be
    given by name), targets by server name, label selector or IP."""

    model_config = ConfigDict(extra="forbid")

    name: str
    type: Literal["lb11", "lb21", "lb31"] = "lb11"
    location: str = "fsn1"
    algorithm: Literal["round_robin", "least_connections"] = "round_robin"
    labels: dict[str, str] = Field(default_factory=dict)
    protected: bool = False
    services: list[dict[str, Any]] = Field(default_factory=list)
    servers: list[str] = Field(default_factory=list, description="names of target servers")
    label_selectors: list[str] = Field(default_factory=list)
    ips: list[str] = Field(default_factory=list)
    network: str | None = Field(default=None, description="name of a network to attach it to")
    ip: str | None = Field(default=None, description="its address there; default: handed out")
    public_interface: bool = True

    @model_validator(mode="after")
    def _checked(self) -> LoadBalancerSpec:
        """Selectors and IPs are refused when the file loads, as the API would refuse them."""
        try:
            for text in self.label_selectors:
                parse_label_selector(text, "label_selectors")
            for ip in self.ips:
                targets.parse({"type": "ip", "ip": {"ip": ip}}, "ips")
        except ApiError as exc:
            raise ValueError(f"load balancer {self.name!r}: {exc.message}") from None
        return self


class LoadBalancersSection(RootModel[list[LoadBalancerSpec]]):
    def check_refs(self, project: ProjectSpec) -> None:
        """Unknown servers or certificates, servers without IPv4 and names used twice fail when
        the file loads."""
        servers = scenario_servers(project)
        certs = project.families.get("certificates")
        cert_names = {c.name for c in getattr(certs, "root", [])}
        names: set[str] = set()
        for spec in self.root:
            where = f"load balancer {spec.name!r}"
            if spec.name in names:
                raise ValueError(f"load balancer name {spec.name!r} is used twice")
            names.add(spec.name)
            networks = project.families.get("networks")
            if spec.network is not None and spec.network not in {
                n.name for n in getattr(networks, "root", [])
            }:
                raise ValueError(f"{where}: no network {spec.network!r}")
            if not spec.public_interface and spec.network is None:
                raise ValueError(f"{where}: without a public interface it needs a network")
            for name in spec.servers:
                if name not in servers:
                    raise ValueError(f"{where}: no server {name!r}")
                if not servers[name].ipv4:
                    raise ValueError(f"{where}: server {name!r} has no public IPv4 address")
            for service in spec.services:
                http = service.get("http")
                refs = http.get("certificates") if isinstance(http, dict) else None
                for ref in refs if isinstance(refs, list) else []:
                    if isinstance(ref, str) and ref not in cert_names:
                        raise ValueError(f"{where}: no certificate {ref!r}")


def _certificates_by_name(project: Project, service: dict[str, Any]) -> dict[str, Any]:
    from hcloud_sim.resources.certificates import state as certs  # noqa: PLC0415

    http = service.get("http")
    if not isinstance(http, dict) or not http.get("certificates"):
        return service
    by_name = {c.name: c.id for c in certs(project).certificates.values()}
    refs = [by_name.get(c, c) if isinstance(c, str) else c for c in http["certificates"]]
    missing = [c for c in refs if isinstance(c, str)]
    if missing:
        raise ValueError(f"no certificate {missing[0]!r}")
    return {**service, "http": {**http, "certificates": refs}}


def _seed(project: Project, section: LoadBalancersSection | None) -> None:
    for spec in section.root if section is not None else []:
        if project.catalog.location(spec.location) is None:
            raise ValueError(f"load balancer {spec.name!r}: unknown location {spec.location!r}")
        if any(b.name == spec.name for b in state(project).load_balancers.values()):
            raise ValueError(f"load balancer name {spec.name!r} is used twice")
        lb = LoadBalancer(
            id=0,
            name=spec.name,
            type=spec.type,
            location=spec.location,
            created=project.sim.clock.now() - 86400,
            labels=dict(spec.labels),
            algorithm=spec.algorithm,
            protection_delete=spec.protected,
        )
        try:
            joined = None
            if spec.network is not None:
                found = [
                    n for n in networks_of(project).networks.values() if n.name == spec.network
                ]
                asked: dict[str, Any] = {"network": found[0].id if found else None, "ip": spec.ip}
                joined = network.plan(
                    project, lb, {k: v for k, v in asked.items() if v is not None}
                )
            lb.public_interface = spec.public_interface
            for body in spec.services:
                service = services.parse(project, _certificates_by_name(project, body))
                services.check_ports_free(lb.services, service["listen_port"])
                lb.services.append(service)
            wanted = [Target("server", server=_server_id(project, n)) for n in spec.servers]
            wanted += [
                Target("label_selector", selector_text=t, selector=parse_label_selector(t, "sel"))
                for t in spec.label_selectors
            ]
            wanted += [targets.parse({"type": "ip", "ip": {"ip": ip}}, "ips") for ip in spec.ips]
            for target in wanted:
                targets.check(project, lb, target, lb.targets)
                lb.targets.append(target)
        except (ApiError, ValueError) as exc:
            why = exc.message if isinstance(exc, ApiError) else str(exc)
            raise ValueError(f"load balancer {spec.name!r}: {why}") from None
        lb.id = project.sim.next_id("load_balancer")
        state(project).load_balancers[lb.id] = lb
        if joined is not None:
            network.reserve(joined, lb)


def _server_id(project: Project, name: str) -> int:
    found = next((s.id for s in project.servers.values() if s.name == name), None)
    if found is None:
        raise ValueError(f"no server {name!r}")
    return found


def _ground_truth(project: Project) -> list[dict[str, Any]]:
    found = sorted(state(project).load_balancers.values(), key=lambda b: b.id)
    return [render(project, lb) for lb in found]


def _exists(project: Project, lb_id: int) -> object:
    return get(project, lb_id)


def _act(name: str, handler: Any, fields: tuple[str, ...] = ()) -> Route:
    return Route("POST", f"/load_balancers/{{id}}/actions/{name}", handler, frozenset(fields))


_SERVICE = ("protocol", "listen_port", "destination_port", "proxyprotocol", "health_check", "http")
_TARGET = ("type", "server", "label_selector", "ip", "use_private_ip")

FAMILY = Family(
    name="load_balancers",
    routes=(
        *types.ROUTES,
        *action_routes("load_balancers", "load_balancer", _exists),
        Route("GET", "/load_balancers", api.list_load_balancers),
        Route(
            "POST",
            "/load_balancers",
            api.create_load_balancer,
            frozenset(
                {
                    "name",
                    "load_balancer_type",
                    "algorithm",
                    "services",
                    "targets",
                    "labels",
                    "public_interface",
                    "network",
                    "network_zone",
                    "location",
                    "public_net",
                }
            ),
        ),
        Route("GET", "/load_balancers/{id}", api.get_load_balancer),
        Route(
            "PUT", "/load_balancers/{id}", api.update_load_balancer, frozenset({"name", "labels"})
        ),
        Route("DELETE", "/load_balancers/{id}", api.delete_load_balancer),
        Route("GET", "/load_balancers/{id}/metrics", metrics.metrics),
        _act("add_service", api.add_service, _SERVICE),
        _act("update_service", api.update_service, _SERVICE),
        _act("delete_service", api.delete_service, ("listen_port",)),
        _act("add_target", api.add_target, _TARGET),
        _act("remove_target", api.remove_target, _TARGET),
        _act("change_algorithm", api.change_algorithm, ("type",)),
        _act("change_type", api.change_type, ("load_balancer_type",)),
        _act("change_protection", api.change_protection, ("delete",)),
        _act("change_dns_ptr", api.change_dns_ptr, ("ip", "dns_ptr")),
        _act("attach_to_network", api.attach_to_network, ("network", "ip", "ip_range")),
        _act("detach_from_network", api.detach_from_network, ("network",)),
        _act("enable_public_interface", api.enable_public_interface),
        _act("disable_public_interface", api.disable_public_interface),
    ),
    server_view=_server_view,
    on_server_deleted=_server_deleted,
    section=LoadBalancersSection,
    seed=_seed,
    order=200,
    ground_truth=_ground_truth,
)
