"""Resource families beyond servers and images: one module (or package) per family, found by name.

Hetzner's API is a set of resource families (networks, firewalls, Primary IPs, volumes, ...) that
all point at servers. Each family lives in ``hcloud_sim/resources/<family>.py`` (or a package of
that name) and exports ``FAMILY = Family(...)``: its routes, the ``POST /servers`` fields it owns,
what it adds to a rendered server, what it does when a server is deleted, its scenario section and
its share of the ground truth. Nothing else has to be edited to add a family: ``families()`` finds
it, the route table, ``render_server``, ``Project.delete_server``, ``POST /servers``, scenario
loading and ``ground_truth`` ask every family in turn.

A family keeps its state in ``project.store(SomeState)`` (one instance per project, made on first
use), so state stays per project and is rebuilt with the world on reset.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from hcloud_sim.lifecycle import NewServer
    from hcloud_sim.model import Server
    from hcloud_sim.project import Project
    from hcloud_sim.query import Route

#: applies what ``ServerField.prepare`` checked, once the new server exists
Apply = Callable[["Server"], None]


@dataclass(frozen=True)
class ServerField:
    """A field of ``POST /servers`` that a family owns (``networks``, ``volumes``, ...).

    ``prepare(project, value, new, location)`` runs before the server exists, with the body's value
    (never None; ``default`` when the body lacks it) and the location the server will be in
    (``new.body`` is the whole body, for a field that depends on another; ``public(new)`` says
    whether the server gets a public interface); it
    raises ``ApiError`` (422 ``invalid_input`` naming the field, 404, ...) to refuse the whole
    request, so that a refused request changes nothing. It returns what to do once the server
    exists, or None.
    """

    name: str
    prepare: Callable[[Project, Any, NewServer, str], Apply | None]
    #: the value ``prepare`` gets when the body lacks the field or sends null (None: not called)
    default: Any = None


@dataclass(frozen=True)
class Family:
    """What one resource family adds to the simulator. Every hook is optional."""

    name: str
    routes: tuple[Route, ...] = ()
    server_fields: tuple[ServerField, ...] = ()
    #: adds the family's fields to a rendered server in place (``private_net``, ``volumes``, ...)
    server_view: Callable[[Project, Server, dict[str, Any]], None] | None = None
    #: the server is gone (API delete or control plane): detach, unassign, delete what dies with it
    on_server_deleted: Callable[[Project, Server], None] | None = None
    #: ``PUT /servers/{id}`` changed the server's labels (the old ones given): selectors re-match
    on_server_relabelled: Callable[[Project, Server, dict[str, str]], None] | None = None
    #: the family's section of a project in a scenario file (key = ``name``), and how it is seeded
    section: type[BaseModel] | None = None
    seed: Callable[[Project, Any], None] | None = None
    #: seeding order among families (lower first): networks before what attaches to them
    order: int = 100
    #: the family's part of ``ground_truth`` (key = ``name``)
    ground_truth: Callable[[Project], Any] | None = None


@cache
def families() -> tuple[Family, ...]:
    """Every family module under this package, in seeding order."""
    found: list[Family] = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        family = getattr(module, "FAMILY", None)
        if isinstance(family, Family):
            found.append(family)
    return tuple(sorted(found, key=lambda f: (f.order, f.name)))


def routes() -> tuple[Route, ...]:
    return tuple(r for f in families() for r in f.routes)


def server_fields() -> dict[str, ServerField]:
    return {field.name: field for f in families() for field in f.server_fields}


def sections() -> dict[str, type[BaseModel]]:
    """Scenario keys a project may carry beside ``servers`` and ``images``, with their models."""
    return {f.name: f.section for f in families() if f.section is not None}


def public(new: NewServer) -> bool:
    """Whether a server made from ``new`` gets a public interface: ``public_net`` does not turn
    off both IPv4 and IPv6 (a malformed ``public_net`` counts as public; its family refuses it)."""
    public_net = new.body.get("public_net")
    if not isinstance(public_net, dict):
        return True
    return public_net.get("enable_ipv4") is not False or public_net.get("enable_ipv6") is not False
