"""The API's error envelope as an exception: handlers raise, the HTTP layer writes it."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

#: status and default message of every error code the simulator can answer with.
ERROR_CODES: dict[str, tuple[int, str]] = {
    "json_error": (400, "invalid JSON in request body"),
    "unauthorized": (401, "unable to authenticate"),
    "token_readonly": (401, "token is read-only: it may only perform GET requests"),
    "forbidden": (403, "insufficient permissions for this request"),
    "maintenance": (403, "cannot perform operation due to maintenance"),
    "resource_limit_exceeded": (403, "project limit exceeded"),
    "not_found": (404, "not found"),
    "method_not_allowed": (405, "method not allowed"),
    "uniqueness_error": (409, "one or more of the object's fields must be unique"),
    "conflict": (409, "the resource has changed during the request, please retry"),
    "deprecated_api_endpoint": (410, "the API endpoint functionality was removed"),
    "resource_unavailable": (412, "the requested resource is currently unavailable"),
    "invalid_input": (422, "invalid input"),
    "service_error": (422, "error within a service"),
    "unsupported_error": (422, "the resource does not support the action"),
    "locked": (423, "cannot perform operation because server is locked"),
    "protected": (423, "cannot perform operation because the resource is protected"),
    "rate_limit_exceeded": (429, "limit of 3600 requests per hour reached"),
    "server_error": (500, "error within the API backend"),
    "bad_gateway": (502, "the request could not be answered by the API backend, please retry"),
    "unavailable": (503, "a service or product is currently not available"),
    "timeout": (504, "the request could not be answered in time, please retry"),
}


class ApiError(Exception):
    """An error the API answers with: ``{"error": {"code", "message", "details"}}``."""

    def __init__(
        self,
        code: str,
        message: str | None = None,
        *,
        status: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        default_status, default_message = ERROR_CODES.get(code, (500, code))
        self.code = code
        self.status = status if status is not None else default_status
        self.message = message if message is not None else default_message
        self.details = details
        super().__init__(f"{self.status} {code}: {self.message}")

    def envelope(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def invalid_field(field: str, problem: str) -> ApiError:
    """422 invalid_input naming the field, with the details shape the API documents."""
    return ApiError(
        "invalid_input",
        f"invalid input in field '{field}': {problem}",
        details={"fields": [{"name": field, "messages": [problem]}]},
    )


def validation_problems(exc: ValidationError) -> list[tuple[str, str]]:
    """(dotted field location, problem) for each error, without the offending input value.

    pydantic's own text repeats each input (``input_value=...``): that would echo a file's
    content or a request's secret back to whoever sent it.
    """
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in error["loc"]) or "body"
        problems.append((where, error["msg"].removeprefix("Value error, ")))
    return problems


def invalid_body(exc: ValidationError) -> ApiError:
    """422 invalid_input naming every field a request body got wrong (values not repeated)."""
    problems = validation_problems(exc)
    where, problem = problems[0]
    return ApiError(
        "invalid_input",
        f"invalid input in field '{where}': {problem}",
        details={"fields": [{"name": w, "messages": [p]} for w, p in problems]},
    )
