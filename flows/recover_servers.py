"""The recover flow: power on servers an interrupted consistent-mode run left powered off."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import State, flow, get_run_logger
from prefect.states import Completed, Failed

from flows.local_run import refuse, run_and_read
from hsnap.errors import HsnapError
from hsnap.settings import DEFAULT_TOKEN_SECRET, load_settings
from hsnap.snapshot.power import Recovery
from tasks.recover import recover_servers as recover_task


@flow(name="recover-servers", validate_parameters=True)
def recover_servers(token_secret: str = DEFAULT_TOKEN_SECRET) -> State[Any]:
    """Power on servers marked hsnap/restart by a run that is no longer running, then unmark them.

    Args:
        token_secret: Prefect Secret block with the API token, used when HCLOUD_TOKEN is unset.
    """
    try:
        load_settings(token_secret)
        results = recover_task(token_secret)
    except HsnapError as exc:
        return refuse(exc)
    data = [asdict(r) for r in results]
    failed = [r.server for r in results if r.result == "failed"]
    if failed:
        return Failed(message=f"could not power on {', '.join(failed)}: start by hand", data=data)
    message = f"{len(results)} marked server(s) handled" if results else "no server was marked"
    get_run_logger().info(message)
    return Completed(message=message, data=data)


def run_locally(**parameters: Any) -> list[Recovery]:
    """Run the flow in this process; the recovery rows (also when some failed)."""
    return [Recovery(**row) for row in run_and_read(recover_servers, **parameters)]
