"""Run a flow in this process and hand back what it reported, also when it ended Failed."""

from __future__ import annotations

from typing import Any


def run_and_read(flow: Any, **parameters: Any) -> Any:
    """The data of the flow's final state; raises the flow's error if it stopped before reporting.

    hsnap's flows end ``Completed(data=...)`` or ``Failed(data=...)`` so that a failed run still
    carries its report; an exception instead (bad input, credentials) is re-raised here.
    """
    state = flow(**parameters, return_state=True)
    data = state.result(raise_on_failure=False)
    if isinstance(data, BaseException):
        raise data
    return data
