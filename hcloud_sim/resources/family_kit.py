"""What the firewall, load balancer and certificate families share: their action endpoints
(``/<family>/actions``, ``/<family>/{id}/actions``, ...), list filters and body checks.

Not a family itself (no ``FAMILY``): the families import it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from hcloud_labels import LabelError, Selector, parse_selector
from hcloud_sim.errors import ApiError, invalid_field
from hcloud_sim.model import Action
from hcloud_sim.project import Project
from hcloud_sim.query import Reply, Request, Route, choices, int_param, page, path_id, sort_items
from hcloud_sim.render import render_action

if TYPE_CHECKING:
    from hcloud_sim.spec import ProjectSpec, ServerSpec

T = TypeVar("T")
ACTION_STATUSES = ("running", "success", "error")
#: the sort keys every resource list of these families takes
LIST_SORTS: dict[str, Callable[[Any], Any]] = {
    "id": lambda r: r.id,
    "name": lambda r: r.name,
    "created": lambda r: r.created,
}


def actions_page(req: Request, actions: Iterable[Action]) -> Reply:
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
        },
    )
    return page(req, "actions", [render_action(a, req.now) for a in found])


def action_routes(
    plural: str, kind: str, exists: Callable[[Project, int], object]
) -> tuple[Route, ...]:
    """``GET /<plural>/actions[/{id}]`` and ``GET /<plural>/{id}/actions[/{action_id}]``.

    ``exists(project, id)`` raises the family's 404 for an unknown resource. List these routes
    before ``/<plural>/{id}``: its ``{id}`` would otherwise take the word ``actions``.
    """

    def of_kind(project: Project) -> list[Action]:
        return [a for a in project.actions.values() if any(k == kind for _, k in a.resources)]

    def of_one(project: Project, rid: int) -> list[Action]:
        exists(project, rid)
        return [a for a in project.actions.values() if (rid, kind) in a.resources]

    def one_action(found: list[Action], action_id: int, req: Request) -> Reply:
        action = next((a for a in found if a.id == action_id), None)
        if action is None:
            raise ApiError("not_found", f"action with ID '{action_id}' not found")
        return Reply(200, {"action": render_action(action, req.now)})

    def list_all(req: Request) -> Reply:
        return actions_page(req, of_kind(req.project))

    def get_any(req: Request) -> Reply:
        return one_action(of_kind(req.project), path_id(req), req)

    def list_of(req: Request) -> Reply:
        return actions_page(req, of_one(req.project, path_id(req)))

    def get_of(req: Request) -> Reply:
        found = of_one(req.project, path_id(req))
        return one_action(found, path_id(req, "action_id"), req)

    return (
        Route("GET", f"/{plural}/actions", list_all),
        Route("GET", f"/{plural}/actions/{{id}}", get_any),
        Route("GET", f"/{plural}/{{id}}/actions", list_of),
        Route("GET", f"/{plural}/{{id}}/actions/{{action_id}}", get_of),
    )


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


def ensure_unique(names: Iterable[str], name: str, kind: str) -> None:
    if name in set(names):
        raise ApiError(
            "uniqueness_error",
            f"{kind} name is already used",
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
    delete = req.body.get("delete")
    return None if delete is None else as_bool(delete, "delete")


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
