"""Run one task per plan on a bounded thread pool and hand back each result as it finishes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

from prefect.futures import PrefectFuture, as_completed
from prefect.task_runners import ThreadPoolTaskRunner

P = TypeVar("P")


def each_completed(
    task: Any, plans: list[P], arguments: dict[str, Any], max_concurrency: int
) -> Iterator[tuple[P, Any]]:
    """``task(plan=p, **arguments)`` for every plan, at most ``max_concurrency`` at once.

    Yields ``(plan, result)`` in the order the runs finish; a failed run yields its exception
    rather than raising, so one server's failure never stops the others. Every run is waited for.
    """
    runner: ThreadPoolTaskRunner[Any]
    with ThreadPoolTaskRunner(max_workers=max_concurrency) as runner:
        futures: dict[PrefectFuture[Any], P] = {
            runner.submit(task, {"plan": p, **arguments}): p for p in plans
        }
        for future in as_completed(list(futures)):
            yield futures[future], future.result(raise_on_failure=False)
