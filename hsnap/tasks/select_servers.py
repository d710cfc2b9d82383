"""The Prefect tasks that list the servers once, pick those to snapshot, and read their recipes."""

from __future__ import annotations

from prefect import get_run_logger, task

from hsnap.cloud.client import Cloud, server_ref
from hsnap.models import ServerRef
from hsnap.policy import select
from hsnap.settings import load_settings
from hsnap.snapshot.recipe import Recipe
from hsnap.snapshot.recipe_read import read_recipes
from hsnap.snapshot.session import session_of
from hsnap.tasks.retry import READ_ONLY_TASK


@task(name="select-servers", **READ_ONLY_TASK)
def select_servers(
    label_selector: str | None,
    names: list[str],
    exclude: list[str],
    token_secret: str | None,
    project: str | None = None,
    run_id: str | None = None,
) -> tuple[list[ServerRef], list[str]]:
    """All servers (every page) matching the selector, narrowed by names and exclusions.

    Returns the chosen servers and the requested names that matched no server. In a run's
    session (``run_id``), the listing is kept there for the run's recipes.
    """
    log = get_run_logger()
    session = session_of(run_id) if run_id else None
    if session is None:
        listed = Cloud(load_settings(token_secret, project)).list_servers(label_selector)
    else:
        found = session.cloud.list_servers_json(label_selector)
        session.servers = {s["id"]: s for s in found}
        listed = [server_ref(s) for s in found]
    chosen, missing = select(listed, names, exclude)
    log.info(
        "%d server(s) listed%s; %d selected; %d requested name(s) not found",
        len(listed),
        f" with label selector {label_selector!r}" if label_selector else "",
        len(chosen),
        len(missing),
    )
    return chosen, missing


@task(name="record-recipes", **READ_ONLY_TASK)
def record_recipes(
    server_ids: list[int],
    token_secret: str | None,
    project: str | None = None,
    run_id: str | None = None,
) -> dict[int, Recipe]:
    """What each server needs to become itself again (a few list requests for the whole run).

    In a run's session (``run_id``), the servers' listing is the one ``select_servers`` made.
    """
    session = session_of(run_id) if run_id else None
    if session is None or not session.servers:
        recipes = read_recipes(Cloud(load_settings(token_secret, project)), server_ids)
    else:
        recipes = read_recipes(session.cloud, server_ids, session.servers.values())
    partial = sorted({u for r in recipes.values() for u in r.unknown})
    get_run_logger().info(
        "recipes recorded for %d server(s)%s",
        len(recipes),
        f"; not readable: {', '.join(partial)}" if partial else "",
    )
    return recipes
