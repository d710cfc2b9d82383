"""The Prefect task that lists the servers once and picks those to snapshot."""

from __future__ import annotations

from prefect import get_run_logger, task

from hsnap.cloud.client import Cloud
from hsnap.models import ServerRef
from hsnap.policy import select
from hsnap.settings import load_settings
from hsnap.tasks.retry import READ_ONLY_TASK


@task(name="select-servers", **READ_ONLY_TASK)
def select_servers(
    label_selector: str | None,
    names: list[str],
    exclude: list[str],
    token_secret: str | None,
    project: str | None = None,
) -> tuple[list[ServerRef], list[str]]:
    """All servers (every page) matching the selector, narrowed by names and exclusions.

    Returns the chosen servers and the requested names that matched no server.
    """
    log = get_run_logger()
    cloud = Cloud(load_settings(token_secret, project))
    listed = cloud.list_servers(label_selector)
    chosen, missing = select(listed, names, exclude)
    log.info(
        "%d server(s) listed%s; %d selected; %d requested name(s) not found",
        len(listed),
        f" with label selector {label_selector!r}" if label_selector else "",
        len(chosen),
        len(missing),
    )
    return chosen, missing
