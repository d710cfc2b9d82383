"""Running a flow in this process and ending one Failed without a traceback."""

from __future__ import annotations

from typing import Any

from prefect import State, get_run_logger
from prefect.states import Failed

from hsnap.errors import SAID_BY_HSNAP, HsnapError


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


def refuse(error: HsnapError) -> State[Any]:
    """End the run Failed with ``error``'s message and no traceback: bad input or credentials.

    The message is what a person must fix; a traceback would only bury it (in the UI's logs and
    on the screen of ``hsnap run``). The error stays the state's data, for ``run_and_read``.
    """
    get_run_logger().error("%s", error, extra={SAID_BY_HSNAP: True})
    return Failed(message=str(error), data=error)
