"""The Prefect tasks that list the servers once, pick those to snapshot, and read their recipes."""

from __future__ import annotations

from prefect import get_run_logger, task

from hsnap.cloud.client import Cloud
from hsnap.models import ServerRef
from hsnap.policy import select
from hsnap.settings import load_settings
from hsnap.snapshot.recipe import Recipe
from hsnap.snapshot.recipe_read import read_recipes
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


@task(name="record-recipes", **READ_ONLY_TASK)
def record_recipes(
    server_ids: list[int], token_secret: str | None, project: str | None = None
) -> dict[int, Recipe]:
    """What each server needs to become itself again (a few list requests for the whole run)."""
    cloud = Cloud(load_settings(token_secret, project))
    recipes = read_recipes(cloud, server_ids)
    partial = sorted({u for r in recipes.values() for u in r.unknown})
    get_run_logger().info(
        "recipes recorded for %d server(s)%s",
        len(recipes),
        f"; not readable: {', '.join(partial)}" if partial else "",
    )
    return recipes
