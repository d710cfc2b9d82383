"""What every resource family shares (no ``FAMILY`` here): the read-only action routes of a
collection (``/<things>/actions``, ``/<things>/{id}/actions``, ...), list sorts, and body checks
(names, ids, flags, objects, label selectors, locations, ``change_protection``).

Addresses and reverse DNS of the IP families are in ``addresses.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from hcloud_labels import LabelError, Selector, parse_selector
from hcloud_sim.errors import ApiError, invalid_field
from hcloud_sim.query import Reply, Request, Route, choices, int_param, page, path_id, sort_items
from hcloud_sim.render import render_action

if TYPE_CHECKING:
    from hcloud_sim.model import Action, Server
    from hcloud_sim.project import Project
    from hcloud_sim.spec import ProjectSpec, ServerSpec

T = TypeVar("T")
ACTION_STATUSES = ("running", "success", "error")
#: the sort keys every resource list takes
LIST_SORTS: dict[str, Callable[[Any], Any]] = {
    "id": lambda r: r.id,
    "name": lambda r: r.name,
    "created": lambda r: r.created,
}

# -- action routes ----------------------------------------------------------------------------


def actions_page(req: Request, actions: Iterable[Action]) -> Reply:
    """A page of actions, filtered by ``status`` and ``id``, sorted by ``sort``."""
    wanted = set(choices(req, "status", ACTION_STATUSES))
    ids = {int_param(t, "id") for t in req.query.get("id", [])}
    found = sorted(
        (a for a in actions if (not wanted or a.status in wanted) and (not ids or a.id in ids)),
        key=lambda a: a.id,
    )
    found = sort_items(
        req,
        found,
        {
            "id": lambda a: a.id,
            "command": lambda a: a.command,
            "status": lambda a: a.status,
            "started": lambda a: a.started,
            "finished": lambda a: a.finished,
            "progress": lambda a: a.progress(req.now),
        },
    )
    return page(req, "actions", found, lambda a: render_action(a, req.now))


def action_routes(
    collection: str, kind: str, check: Callable[[Project, int], object]
) -> tuple[Route, ...]:
    """``GET /<collection>/actions[/{id}]`` and ``GET /<collection>/{id}/actions[/{action_id}]``.

    ``check(project, id)`` raises the 404 of an unknown resource. Put these routes before
    ``/<collection>/{id}``: ``/<collection>/actions`` matches that template too.
    """

    def touches(action: Action, rid: int | None = None) -> bool:
        return any(k == kind and rid in (None, i) for i, k in action.resources)

    def one_action(req: Request, action_id: int, rid: int | None) -> Reply:
        action = req.project.actions.get(action_id)
        if action is None or not touches(action, rid):
            raise ApiError("not_found", f"action with ID '{action_id}' not found")
        return Reply(200, {"action": render_action(action, req.now)})

    def list_all(req: Request) -> Reply:
        return actions_page(req, [a for a in req.project.actions.values() if touches(a)])

    def get_one(req: Request) -> Reply:
        return one_action(req, path_id(req), None)

    def list_of(req: Request) -> Reply:
        rid = path_id(req)
        check(req.project, rid)
        return actions_page(req, [a for a in req.project.actions.values() if touches(a, rid)])

    def get_of(req: Request) -> Reply:
        rid = path_id(req)
        check(req.project, rid)
        return one_action(req, path_id(req, "action_id"), rid)

    return (
        Route("GET", f"/{collection}/actions", list_all),
        Route("GET", f"/{collection}/actions/{{id}}", get_one),
        Route("GET", f"/{collection}/{{id}}/actions", list_of),
        Route("GET", f"/{collection}/{{id}}/actions/{{action_id}}", get_of),
    )


# -- body fields ------------------------------------------------------------------------------


def required(value: T | None, name: str) -> T:
    if value is None:
        raise invalid_field(name, "is required")
    return value


def body_name(req: Request) -> str | None:
    """A resource name: 1..128 characters, no leading or trailing blank."""
    value = req.body.get("name")
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid_field("name", "must be a string")
    if not 1 <= len(value) <= 128 or value != value.strip():
        raise invalid_field("name", "must be 1 to 128 characters without leading/trailing blanks")
    return value


def ensure_unique(names: Iterable[str], name: str, kind: str = "") -> None:
    """409 ``uniqueness_error`` when ``name`` is taken (``kind``: "firewall", ... or none)."""
    if name in set(names):
        raise ApiError(
            "uniqueness_error",
            f"{kind} name is already used".lstrip(),
            details={"fields": [{"name": "name"}]},
        )


def as_list(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list):
        raise invalid_field(name, "must be an array")
    return value


def as_object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid_field(name, "must be an object")
    return value


def as_int(value: Any, name: str, low: int | None = None, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_field(name, "must be an integer")
    if (low is not None and value < low) or (high is not None and value > high):
        raise invalid_field(name, f"must be between {low} and {high}")
    return value


def as_bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise invalid_field(name, "must be a boolean")
    return value


def as_str(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise invalid_field(name, "must be a string")
    return value


def unknown_keys(body: dict[str, Any], allowed: Iterable[str], where: str) -> None:
    extra = sorted(set(body) - set(allowed))
    if extra:
        raise invalid_field(f"{where}.{extra[0]}", "unknown field")


def parse_label_selector(text: Any, name: str) -> Selector:
    """A label selector from a body; an empty or unparsable one is the API's invalid_input."""
    if not isinstance(text, str) or not text.strip():
        raise invalid_field(name, "must be a non-empty label selector")
    try:
        return parse_selector(text)
    except LabelError as exc:
        raise invalid_field(name, str(exc)) from None


def resource_id(value: Any, name: str) -> int:
    """An id in a body (``{"id": 42}`` was already unwrapped): a positive integer."""
    return as_int(value, name, 1, 2**53 - 1)


def change_protection_flag(req: Request) -> bool | None:
    """The optional ``delete`` of a ``change_protection`` body (``protection_delete``: required)."""
    return body_flag(req, "delete")


def scenario_servers(project: ProjectSpec) -> dict[str, ServerSpec]:
    """A scenario project's servers by name, ``count`` templates expanded (for ``check_refs``)."""
    found = {}
    for spec in project.servers:
        names = (
            [spec.name]
            if spec.count is None
            else [spec.name.format(i=i) for i in range(1, spec.count + 1)]
        )
        found.update(dict.fromkeys(names, spec))
    return found


def body_id(req: Request, name: str, *, required: bool = False) -> int | None:
    """A resource id in the body: a positive integer (not a boolean)."""
    value = req.body.get(name)
    if value is None:
        if required:
            raise invalid_field(name, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise invalid_field(name, "must be a positive integer")
    return value


def body_flag(req: Request, name: str) -> bool | None:
    value = req.body.get(name)
    return None if value is None else as_bool(value, name)


def protection_delete(req: Request) -> bool:
    """The ``delete`` flag a ``change_protection`` body must carry."""
    delete = body_flag(req, "delete")
    if delete is None:
        raise invalid_field("delete", "is required")
    return delete


def location_of(project: Project, ref: Any, field: str) -> str:
    """A location's name from its id or name in a body field; 422 naming the field if unknown."""
    name = None
    if isinstance(ref, str | int) and not isinstance(ref, bool):
        name = project.catalog.location(ref)
    if name is None:
        raise invalid_field(field, f"location {ref!r} not found")
    return name


def server_off(server: Server) -> None:
    """422 ``server_not_stopped`` unless the server is powered off."""
    if server.status != "off":
        raise ApiError(
            "server_not_stopped",
            f"server {server.id} is {server.status}: power it off first",
            status=422,
        )


def timed(project: Project, command: str) -> float | None:
    """An action's simulated duration: the scenario's for ``command``, else 5 s."""
    return project.draw(project.spec.duration_for(command))
