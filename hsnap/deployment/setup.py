"""From zero to scheduled deployments: work pool, the token's Secret block, ``prefect.yaml``.

Every step first looks at what exists and changes only what differs, so running setup twice
changes nothing. The token is taken as a value from the caller (env or stdin in the CLI) and goes
only into the Secret block: never into a parameter, a log line or an exception message.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from hsnap.deployment.source import CodeSource
from hsnap.errors import ConfigError

WORK_POOL = "hsnap"
DEPLOY_TIMEOUT_S = 300


@dataclass(frozen=True)
class SetupStep:
    what: str
    changed: bool
    detail: str


def prefect_api_url() -> str:
    """The configured Prefect API; refuse to go on without one (it would be a throwaway server)."""
    from prefect.settings import get_current_settings  # noqa: PLC0415 -- Prefect loads slowly

    url = get_current_settings().api.url
    if not url:
        raise ConfigError(
            "PREFECT_API_URL is not set: point it at your Prefect server (e.g. "
            "http://127.0.0.1:4200/api) or log in to Prefect Cloud; without it every prefect "
            "command writes into a temporary server that is thrown away"
        )
    return str(url)


def ensure_work_pool(name: str = WORK_POOL) -> SetupStep:
    """A process work pool named ``name`` exists."""
    from prefect.client.orchestration import get_client  # noqa: PLC0415
    from prefect.client.schemas.actions import WorkPoolCreate  # noqa: PLC0415
    from prefect.exceptions import ObjectNotFound  # noqa: PLC0415

    with get_client(sync_client=True) as client:
        try:
            pool = client.read_work_pool(name)
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=name, type="process"))
            return SetupStep("work pool", True, f"created process work pool {name!r}")
    if pool.type != "process":
        raise ConfigError(
            f"work pool {name!r} exists with type {pool.type!r}; hsnap needs a 'process' pool"
        )
    return SetupStep("work pool", False, f"work pool {name!r} already exists")


def ensure_token_secret(token: str, name: str) -> SetupStep:
    """The Secret block ``name`` holds ``token`` (created or updated only when it differs)."""
    from prefect.blocks.system import Secret  # noqa: PLC0415

    token = token.strip()
    if not token:
        raise ConfigError("the Hetzner API token is empty")
    try:
        existing: Any = Secret.load(name)
    except ValueError:
        existing = None
    if existing is not None and existing.get() == token:
        return SetupStep("token", False, f"Secret block {name!r} already holds this token")
    Secret(value=SecretStr(token)).save(name, overwrite=True)
    verb = "updated" if existing is not None else "created"
    return SetupStep("token", True, f"{verb} Secret block {name!r}")


def ensure_projects() -> SetupStep:
    """The HetznerProject block type is registered; every project has its one-run limit.

    The single-token paths (HCLOUD_TOKEN, the Secret block) report as project ``default``.
    """
    from prefect.client.orchestration import get_client  # noqa: PLC0415
    from prefect.exceptions import ObjectNotFound  # noqa: PLC0415

    from hsnap.projects.block import BLOCK_TYPE_SLUG, HetznerProject  # noqa: PLC0415
    from hsnap.projects.limits import ensure_project_limit  # noqa: PLC0415
    from hsnap.projects.registry import project_names  # noqa: PLC0415

    with get_client(sync_client=True) as client:
        try:
            client.read_block_type_by_slug(BLOCK_TYPE_SLUG)
            registered = False
        except ObjectNotFound:
            registered = True
    HetznerProject.register_type_and_schema()  # also refreshes the schema after an upgrade
    names = ["default", *project_names()]
    created = [name for name in names if ensure_project_limit(name)]
    detail = f"block type Hetzner Project; one-run limits for {', '.join(names)}"
    return SetupStep("projects", registered or bool(created), detail)


def deploy(source: CodeSource) -> SetupStep:
    """``prefect deploy --all`` in ``source.directory`` (deployments are updated in place)."""
    project_dir = source.directory
    env = {**os.environ, "PWD": str(project_dir)}  # a checkout's pull step uses {{ $PWD }}
    before = deployment_fingerprints()
    result = subprocess.run(
        [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all"],
        cwd=project_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEPLOY_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise ConfigError(f"prefect deploy failed:\n{tail}")
    after = deployment_fingerprints()
    names = ", ".join(sorted(after))
    if after == before:
        return SetupStep(
            "deployments", False, f"deployments unchanged ({source.describe()}): {names}"
        )
    return SetupStep("deployments", True, f"deployed ({source.describe()}): {names}")


def deployment_fingerprints() -> dict[str, tuple[Any, ...]]:
    """What defines each deployment on hsnap's pool, by ``flow/deployment`` name."""
    from prefect.client.orchestration import get_client  # noqa: PLC0415

    prints: dict[str, tuple[Any, ...]] = {}
    with get_client(sync_client=True) as client:
        for d in client.read_deployments():
            if d.work_pool_name != WORK_POOL:
                continue
            flow = client.read_flow(d.flow_id)
            schedules = sorted((repr(s.schedule), s.active) for s in d.schedules)
            prints[f"{flow.name}/{d.name}"] = (
                d.id,
                d.entrypoint,
                d.description,
                tuple(d.tags),
                repr(d.parameters),
                repr(d.pull_steps),
                d.enforce_parameter_schema,
                tuple(schedules),
                repr(d.global_concurrency_limit and d.global_concurrency_limit.limit),
                repr(d.concurrency_options),
            )
    return prints
