"""Prefect tasks that read what the audit and the cost lines need (a read-only token works)."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from hsnap.cloud.client import Cloud
from hsnap.cloud.ties import Surroundings, surroundings
from hsnap.models import ImagePrice, ImageRef, ServerRef
from hsnap.observe.cost import ProjectCost, project_cost
from hsnap.settings import load_settings
from hsnap.tasks.retry import READ_ONLY_TASK


@task(name="read-inventory", **READ_ONLY_TASK)
def read_inventory(
    token_secret: str | None,
    project: str | None = None,
) -> tuple[list[ServerRef], list[ImageRef], ImagePrice]:
    """Every server, every snapshot (any maker) and the price of a snapshot GB-month."""
    cloud = Cloud(load_settings(token_secret, project))
    servers = cloud.list_servers()
    snapshots = cloud.find_images()
    price = cloud.image_price()
    get_run_logger().info(
        "%d server(s), %d snapshot(s); snapshots cost %s %s per GB-month (net)",
        len(servers),
        len(snapshots),
        price.net,
        price.currency,
    )
    return servers, snapshots, price


@task(name="read-surroundings", **READ_ONLY_TASK)
def read_surroundings(token_secret: str | None, project: str | None = None) -> Surroundings:
    """Volumes, Primary IPs and Hetzner Backups: what the audit says snapshots do not cover."""
    found = surroundings(Cloud(load_settings(token_secret, project)))
    get_run_logger().info(
        "%d volume(s), %d Primary IP(s), %d backup(s)",
        len(found.volumes),
        len(found.primary_ips),
        len(found.backups),
    )
    return found


@task(name="monthly-cost", cache_policy=NO_CACHE)
def snapshot_cost(token_secret: str | None, project: str | None = None) -> ProjectCost | str:
    """What hsnap's snapshots of the project cost a month, or why that is unknown.

    Never fails: the run's snapshots exist whether or not their price can be read.
    """
    try:
        cloud = Cloud(load_settings(token_secret, project))
        return project_cost(cloud.find_images(), cloud.image_price())
    except Exception as exc:  # noqa: BLE001 -- a report line, never a reason to fail the run
        get_run_logger().warning("snapshot cost unknown: %s", exc)
        return f"snapshot cost unknown: {exc}"
