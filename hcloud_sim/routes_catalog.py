"""``/server_types``, ``/locations`` and ``/pricing``: the catalog of the scenario, read-only."""

from __future__ import annotations

from hcloud_sim.catalog import LOCATIONS
from hcloud_sim.errors import ApiError
from hcloud_sim.query import Reply, Request, Route, one, page, path_id, sort_items


def list_server_types(req: Request) -> Reply:
    catalog = req.project.catalog
    name = one(req, "name")
    found = sorted(
        (t for t in catalog.server_types if name is None or t.name == name),
        key=lambda t: t.id or 0,
    )
    return page(req, "server_types", found, catalog.render_server_type)


def get_server_type(req: Request) -> Reply:
    type_id = path_id(req)
    catalog = req.project.catalog
    server_type = next((t for t in catalog.server_types if t.id == type_id), None)
    if server_type is None:
        raise ApiError("not_found", f"server type with ID '{type_id}' not found")
    return Reply(200, {"server_type": catalog.render_server_type(server_type)})


def list_locations(req: Request) -> Reply:
    catalog = req.project.catalog
    name = one(req, "name")
    names = sorted(
        (loc for loc in catalog.locations if name is None or loc == name),
        key=lambda loc: LOCATIONS[loc][0],
    )
    names = sort_items(req, names, {"id": lambda loc: LOCATIONS[loc][0], "name": str})
    return page(req, "locations", names, catalog.render_location)


def get_location(req: Request) -> Reply:
    location_id = path_id(req)
    catalog = req.project.catalog
    name = catalog.location(location_id)
    if name is None:
        raise ApiError("not_found", f"location with ID '{location_id}' not found")
    return Reply(200, {"location": catalog.render_location(name)})


def get_pricing(req: Request) -> Reply:
    return Reply(200, {"pricing": req.project.catalog.render_pricing()})


ROUTES: tuple[Route, ...] = (
    Route("GET", "/server_types", list_server_types),
    Route("GET", "/server_types/{id}", get_server_type),
    Route("GET", "/locations", list_locations),
    Route("GET", "/locations/{id}", get_location),
    Route("GET", "/pricing", get_pricing),
)
