"""The recover flow: power on servers an interrupted consistent-mode run left powered off."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import State, flow, get_run_logger
from prefect.states import Completed, Failed

from hsnap.errors import HsnapError
from hsnap.flows.local_run import refuse, run_and_read
from hsnap.settings import DEFAULT_TOKEN_SECRET, load_settings
from hsnap.snapshot.recovery import Recovery
from hsnap.tasks.recover import recover_servers as recover_task
from hsnap.tasks.restore import clean_drill_leftovers


@flow(name="recover-servers", validate_parameters=True)
def recover_servers(
    token_secret: str = DEFAULT_TOKEN_SECRET, project: str | None = None
) -> State[Any]:
    """Power on servers marked hsnap/restart by a run that is no longer running, then unmark them;
    delete drill servers (hsnap/drill) left behind by runs that are no longer running.

    Args:
        token_secret: Prefect Secret block with the API token, used when HCLOUD_TOKEN is unset.
        project: a HetznerProject block (token and endpoint) instead of the two above.
    """
    try:
        load_settings(token_secret, project)
        results = recover_task(token_secret, project)
        results += [
            Recovery(c.server, c.server_id, c.run_id, c.result, _left_behind(c.detail))
            for c in clean_drill_leftovers(token_secret, project)
        ]
    except HsnapError as exc:
        return refuse(exc)
    data = [asdict(r) for r in results]
    failed = [r.server for r in results if r.result == "failed"]
    if failed:
        return Failed(message=f"could not recover {', '.join(failed)}: see the log", data=data)
    message = f"{len(results)} server(s) handled" if results else "nothing to recover"
    get_run_logger().info(message)
    return Completed(message=message, data=data)


def _left_behind(detail: str) -> str:
    return "drill server left behind" + (f": {detail}" if detail else "")


def run_locally(**parameters: Any) -> list[Recovery]:
    """Run the flow in this process; the recovery rows (also when some failed)."""
    return [Recovery(**row) for row in run_and_read(recover_servers, **parameters)]
