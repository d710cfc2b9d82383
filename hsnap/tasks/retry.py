"""When Prefect retries an hsnap task: only for transient failures (5xx, 429, timeouts...)."""

from __future__ import annotations

from typing import Any

from prefect.cache_policies import NO_CACHE


def retry_if_transient(task: Any, task_run: Any, state: Any) -> bool:
    """A ``retry_condition_fn``: retry when the failure says it is transient."""
    del task, task_run
    error = state.result(raise_on_failure=False)
    return bool(getattr(error, "transient", False))


#: options of a task that only reads: retried twice on transient failures, never cached
READ_ONLY_TASK: dict[str, Any] = {
    "cache_policy": NO_CACHE,
    "retries": 2,
    "retry_delay_seconds": [10.0, 30.0],
    "retry_condition_fn": retry_if_transient,
}
