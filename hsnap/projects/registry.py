"""Add, list and remove Hetzner projects (``HetznerProject`` blocks on the Prefect server).

Adding checks the token with one read before anything is stored; listing probes each project
without changing anything. Tokens go only into the block: never into a message or a log line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from hsnap.cloud.client import Cloud
from hsnap.errors import ConfigError, HsnapError
from hsnap.policy import check_selector
from hsnap.projects.block import BLOCK_TYPE_SLUG, HetznerProject, load_project
from hsnap.projects.limits import ensure_project_limit, remove_project_limit
from hsnap.settings import DEFAULT_ENDPOINT, Settings

#: Prefect's rule for block names; the name also goes into the project's concurrency limit
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class ProjectInfo:
    """What ``hsnap project list`` shows about one project."""

    name: str
    display_name: str
    endpoint: str
    servers: int | None
    access: str  # "read & write", "read-only", "unknown", or what went wrong

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "display name": self.display_name,
            "endpoint": self.endpoint,
            "servers": "" if self.servers is None else str(self.servers),
            "access": self.access,
        }


def check_name(name: str) -> None:
    """Raise ConfigError unless ``name`` can name a block (lowercase letters, digits, dashes)."""
    if not _NAME.match(name):
        raise ConfigError(
            f"project name {name!r}: use lowercase letters, digits and dashes (e.g. shop-prod)"
        )


def add_project(
    name: str,
    token: str,
    *,
    endpoint: str = DEFAULT_ENDPOINT,
    label_selector: str | None = None,
    display_name: str = "",
    replace: bool = False,
    reserve: int | None = None,
) -> int:
    """Check the token with one read, store the project, create its limit; the server count."""
    check_name(name)
    check_selector(label_selector)
    if reserve is not None and reserve < 0:
        raise ConfigError(f"reserve (--reserve) = {reserve}: use 0 or more requests")
    settings = Settings(token=SecretStr(token.strip()), endpoint=endpoint, project=name)
    if not replace and name in project_names():
        raise ConfigError(f"project {name!r} exists: remove it first, or add it with --replace")
    servers = Cloud(settings).count_servers()
    block = HetznerProject(
        display_name=display_name,
        token=settings.token,
        endpoint=settings.endpoint,
        label_selector=label_selector or None,
        reserve=reserve,
    )
    block.save(name, overwrite=True)
    ensure_project_limit(name)
    return servers


def project_names() -> list[str]:
    """Every ``HetznerProject`` block's name, sorted."""
    from prefect.client.orchestration import get_client  # noqa: PLC0415 -- Prefect loads slowly
    from prefect.exceptions import ObjectNotFound  # noqa: PLC0415

    with get_client(sync_client=True) as client:
        try:
            client.read_block_type_by_slug(BLOCK_TYPE_SLUG)
        except ObjectNotFound:  # the block type is not registered yet: no project either
            return []
        documents = client.read_block_documents_by_type(BLOCK_TYPE_SLUG, include_secrets=False)
    return sorted(d.name for d in documents if d.name and not d.is_anonymous)


def describe_project(name: str) -> ProjectInfo:
    """Name, endpoint, server count and access of one project, changing nothing."""
    block = load_project(name)
    endpoint = block.endpoint or DEFAULT_ENDPOINT
    try:
        cloud = Cloud(Settings(token=block.token, endpoint=endpoint, project=name))
        servers = cloud.count_servers()
        writable = cloud.can_write()
    except HsnapError as exc:
        return ProjectInfo(name, block.display_name, endpoint, None, f"error: {exc.code}")
    access = {True: "read & write", False: "read-only", None: "unknown"}[writable]
    return ProjectInfo(name, block.display_name, endpoint, servers, access)


def remove_project(name: str) -> None:
    """Delete the project's block and its run slot; its snapshots and the Hetzner project stay."""
    from prefect.client.orchestration import get_client  # noqa: PLC0415
    from prefect.exceptions import ObjectNotFound  # noqa: PLC0415

    with get_client(sync_client=True) as client:
        try:
            document = client.read_block_document_by_name(
                name, BLOCK_TYPE_SLUG, include_secrets=False
            )
        except ObjectNotFound:
            raise ConfigError(f"no Hetzner project {name!r} (see hsnap project list)") from None
        client.delete_block_document(document.id)
    remove_project_limit(name)
