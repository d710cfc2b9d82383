"""Datacenters: ``/datacenters`` and the ``datacenter`` field of ``POST /servers``.

One virtual datacenter per location of the catalog, named and numbered as Hetzner's are. Hetzner's
document marks the endpoint deprecated and no longer shows a server's datacenter, so a server does
not carry one here either; ``POST /servers`` still takes ``datacenter`` (older clients send it) and
places the server in that datacenter's location.
"""

from __future__ import annotations

from typing import Any

from hcloud_sim.catalog import LOCATIONS, CatalogSpec
from hcloud_sim.errors import ApiError, invalid_field
from hcloud_sim.project import Project
from hcloud_sim.query import Reply, Request, Route, one, page, path_id, sort_items
from hcloud_sim.resources import Family

# location -> (datacenter id, name, description), as Hetzner numbers them
DATACENTERS: dict[str, tuple[int, str, str]] = {
    "nbg1": (2, "nbg1-dc3", "Nuremberg 1 virtual DC 3"),
    "hel1": (3, "hel1-dc2", "Helsinki 1 virtual DC 2"),
    "fsn1": (4, "fsn1-dc14", "Falkenstein 1 virtual DC 14"),
    "ash": (5, "ash-dc1", "Ashburn virtual DC 1"),
    "hil": (6, "hil-dc1", "Hillsboro virtual DC 1"),
    "sin": (7, "sin-dc1", "Singapore virtual DC 1"),
}


def _location_view(location: str) -> dict[str, Any]:
    lid, desc, country, city, lat, lon, zone = LOCATIONS[location]
    return {
        "id": lid,
        "name": location,
        "description": desc,
        "country": country,
        "city": city,
        "latitude": lat,
        "longitude": lon,
        "network_zone": zone,
    }


def render_datacenter(catalog: CatalogSpec, location: str, now: float) -> dict[str, Any]:
    """A datacenter: the server types its location offers (those past their end: unavailable)."""
    dc_id, name, description = DATACENTERS[location]
    supported = sorted(t.id or 0 for t in catalog.server_types if location in t.prices)
    available = sorted(
        t.id or 0
        for t in catalog.server_types
        if location in t.prices and catalog.available(t, now)
    )
    return {
        "id": dc_id,
        "name": name,
        "description": description,
        "location": _location_view(location),
        "server_types": {
            "supported": supported,
            "available": available,
            "available_for_migration": available,
        },
    }


def _locations(catalog: CatalogSpec) -> list[str]:
    return sorted(catalog.locations, key=lambda loc: DATACENTERS[loc][0])


def location_of(project: Project, ref: object) -> str:
    """The location of a datacenter given by id or name; 422 naming ``datacenter`` if unknown."""
    if isinstance(ref, bool) or not isinstance(ref, int | str):
        raise invalid_field("datacenter", "must be an ID or a name")
    for location in project.catalog.locations:
        dc_id, name, _ = DATACENTERS[location]
        if ref in (dc_id, name) or ref == str(dc_id):
            return location
    raise invalid_field("datacenter", f"datacenter {ref!r} not found")


def list_datacenters(req: Request) -> Reply:
    catalog = req.project.catalog
    name = one(req, "name")
    found = [loc for loc in _locations(catalog) if name is None or DATACENTERS[loc][1] == name]
    found = sort_items(
        req, found, {"id": lambda loc: DATACENTERS[loc][0], "name": lambda loc: DATACENTERS[loc][1]}
    )
    reply = page(req, "datacenters", found, lambda loc: render_datacenter(catalog, loc, req.now))
    # the document still requires the (deprecated) recommendation: the first datacenter
    first = _locations(catalog)
    body = {**(reply.body or {}), "recommendation": DATACENTERS[first[0]][0] if first else 1}
    return Reply(reply.status, body, reply.headers)


def get_datacenter(req: Request) -> Reply:
    dc_id = path_id(req)
    catalog = req.project.catalog
    location = next((loc for loc in catalog.locations if DATACENTERS[loc][0] == dc_id), None)
    if location is None:
        raise ApiError("not_found", f"datacenter with ID '{dc_id}' not found")
    return Reply(200, {"datacenter": render_datacenter(catalog, location, req.now)})


FAMILY = Family(
    name="datacenters",
    routes=(
        Route("GET", "/datacenters", list_datacenters),
        Route("GET", "/datacenters/{id}", get_datacenter),
    ),
)
