"""``/load_balancer_types``: the three load balancer sizes, priced in every catalog location."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from hcloud_sim.catalog import INCLUDED_TRAFFIC
from hcloud_sim.errors import ApiError
from hcloud_sim.query import Reply, Request, Route, one, page, path_id

if TYPE_CHECKING:
    from hcloud_sim.catalog import CatalogSpec
    from hcloud_sim.project import Project


@dataclass(frozen=True)
class LoadBalancerType:
    id: int
    name: str
    max_connections: int
    max_services: int
    max_targets: int
    max_assigned_certificates: int
    monthly: str  # net EUR


TYPES = (
    LoadBalancerType(1, "lb11", 10_000, 5, 25, 10, "5.3900"),
    LoadBalancerType(2, "lb21", 20_000, 15, 75, 25, "16.4000"),
    LoadBalancerType(3, "lb31", 40_000, 30, 150, 50, "32.9000"),
)


def find(ref: str | int) -> LoadBalancerType | None:
    text = str(ref)
    return next((t for t in TYPES if text in (t.name, str(t.id))), None)


def prices(catalog: CatalogSpec, t: LoadBalancerType) -> list[dict[str, Any]]:
    hourly = f"{Decimal(t.monthly) / 730:.4f}"  # 730 hours in a month, as the catalog counts
    return [
        {
            "location": loc,
            "price_hourly": catalog.price(hourly),
            "price_monthly": catalog.price(t.monthly),
            "included_traffic": INCLUDED_TRAFFIC,
            "price_per_tb_traffic": catalog.price("1.0000"),
        }
        for loc in catalog.locations
    ]


def pricing(catalog: CatalogSpec) -> list[dict[str, Any]]:
    """``GET /pricing`` ``load_balancer_types``."""
    return [{"id": t.id, "name": t.name, "prices": prices(catalog, t)} for t in TYPES]


def render(project: Project, t: LoadBalancerType) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "description": t.name.upper(),
        "max_connections": t.max_connections,
        "max_services": t.max_services,
        "max_targets": t.max_targets,
        "max_assigned_certificates": t.max_assigned_certificates,
        "deprecated": None,
        "deprecation": None,
        "prices": prices(project.catalog, t),
    }


def list_types(req: Request) -> Reply:
    name = one(req, "name")
    found = [t for t in TYPES if name is None or t.name == name]
    return page(req, "load_balancer_types", found, lambda t: render(req.project, t))


def get_type(req: Request) -> Reply:
    type_id = path_id(req)
    found = next((t for t in TYPES if t.id == type_id), None)
    if found is None:
        raise ApiError("not_found", f"load balancer type with ID '{type_id}' not found")
    return Reply(200, {"load_balancer_type": render(req.project, found)})


ROUTES = (
    Route("GET", "/load_balancer_types", list_types),
    Route("GET", "/load_balancer_types/{id}", get_type),
)
