"""When Prefect retries an hsnap task: only for transient failures (5xx, 429, timeouts...)."""

from __future__ import annotations

from typing import Any


def retry_if_transient(task: Any, task_run: Any, state: Any) -> bool:
    """A ``retry_condition_fn``: retry when the failure says it is transient."""
    del task, task_run
    error = state.result(raise_on_failure=False)
    return bool(getattr(error, "transient", False))
