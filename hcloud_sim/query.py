"""Request and reply records, and the query/body helpers every ``/v1`` handler shares.

Paging (``page``/``per_page`` with ``meta.pagination`` and a ``Link`` header), sorting
(``sort=field[:asc|:desc]``, repeatable), filters and body fields, each raising the API's
``invalid_input`` with the field's name when the value is unusable.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlencode

from hcloud_labels import LabelError, Selector, check_labels, parse_selector
from hcloud_sim.errors import ApiError, invalid_field
from hcloud_sim.project import Project

T = TypeVar("T")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: dict[str, Any]
    project: Project
    params: dict[str, str]
    now: float


@dataclass
class Reply:
    status: int
    body: dict[str, Any] | None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Reply]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Handler
    fields: frozenset[str] = frozenset()

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template) + "$")


def one(req: Request, name: str) -> str | None:
    values = req.query.get(name)
    return values[-1] if values else None


def int_param(text: str, name: str, minimum: int = 1) -> int:
    try:
        value = int(text)
    except ValueError:
        raise invalid_field(name, "must be an integer") from None
    if value < minimum:
        raise invalid_field(name, f"must be at least {minimum}")
    return value


def path_id(req: Request, name: str = "id") -> int:
    text = req.params[name]
    if not text.isdigit():
        raise ApiError(
            "invalid_input",
            f"invalid input in field '{name}': must be an integer",
            details={"fields": [{"name": name, "messages": ["must be an integer"]}]},
        )
    return int(text)


def selector(req: Request) -> Selector | None:
    text = one(req, "label_selector")
    if text is None:
        return None
    try:
        return parse_selector(text)
    except LabelError as exc:
        raise invalid_field("label_selector", str(exc)) from None


def choices(req: Request, name: str, allowed: Sequence[str]) -> list[str]:
    values = req.query.get(name, [])
    for value in values:
        if value not in allowed:
            raise invalid_field(name, f"{value!r} is not one of {', '.join(allowed)}")
    return values


def sort_items(req: Request, items: list[T], keys: dict[str, Callable[[T], Any]]) -> list[T]:
    """Apply ``sort=field[:asc|:desc]`` (repeatable, first one wins); default by id."""
    sorts = req.query.get("sort", [])
    for spec in reversed(sorts):
        name, _, direction = spec.partition(":")
        if name not in keys or direction not in ("", "asc", "desc"):
            raise invalid_field("sort", f"cannot sort by {spec!r} (fields: {', '.join(keys)})")
        getter = keys[name]
        items = sorted(
            items,
            key=lambda i, g=getter: (g(i) is None, g(i) or 0),  # type: ignore[misc]
            reverse=direction == "desc",
        )
    return items


def page(
    req: Request, name: str, items: Sequence[T], render: Callable[[T], dict[str, Any]]
) -> Reply:
    """The requested page of ``items`` (already filtered and sorted), each rendered with
    ``render``: only the page's own items are rendered (a fleet of thousands pages fast)."""
    page = int_param(one(req, "page") or "1", "page")
    per_page = min(int_param(one(req, "per_page") or "25", "per_page"), 50)
    total = len(items)
    last = max(1, math.ceil(total / per_page))
    chunk = [render(item) for item in items[(page - 1) * per_page : page * per_page]]
    meta = {
        "page": page,
        "per_page": per_page,
        "previous_page": page - 1 if page > 1 else None,
        "next_page": page + 1 if page < last else None,
        "last_page": last,
        "total_entries": total,
    }
    links = []
    # the links keep the request's filters and sorting, as the API's do
    kept = {k: v for k, v in req.query.items() if k not in ("page", "per_page")}
    query = urlencode({**kept, "per_page": [str(per_page)]}, doseq=True)
    base = f"/v1{req.path}?{query}&page="
    if meta["previous_page"]:
        links.append(f'<{base}{page - 1}>; rel="prev"')
    if meta["next_page"]:
        links.append(f'<{base}{page + 1}>; rel="next"')
    links.append(f'<{base}{last}>; rel="last"')
    return Reply(200, {name: chunk, "meta": {"pagination": meta}}, {"Link": ", ".join(links)})


def body_labels(req: Request) -> dict[str, str] | None:
    labels = req.body.get("labels")
    if labels is None:
        return None
    if not isinstance(labels, dict):
        raise invalid_field("labels", "must be an object of string values")
    try:
        check_labels(labels)
    except LabelError as exc:
        raise invalid_field("labels", str(exc)) from None
    return labels


def body_str(req: Request, name: str) -> str | None:
    value = req.body.get(name)
    if value is not None and not isinstance(value, str):
        raise invalid_field(name, "must be a string")
    return value


#: RFC 1123 hostname: dot-separated labels of letters, digits and inner dashes, <= 253 chars
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


def body_hostname(req: Request, name: str) -> str | None:
    """A server name: a valid hostname, as the API requires."""
    value = body_str(req, name)
    if value is not None and not _HOSTNAME.fullmatch(value):
        raise invalid_field(name, "must be a valid hostname (letters, digits, '.' and '-')")
    return value
