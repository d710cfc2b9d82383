"""The ``HetznerProject`` block: what hsnap needs to reach one Hetzner Cloud project.

The block's name (``prod``, ``agency-client-7``) is what flows and commands take as ``project``.
Prefect stores the token encrypted and shows it masked in the UI, where the block can be created
and edited (Blocks > Hetzner Project) once ``hsnap setup`` registered the type.
"""

from __future__ import annotations

from typing import Any, ClassVar

from prefect.blocks.core import Block
from pydantic import Field, HttpUrl, SecretStr

from hsnap import DOCS_URL
from hsnap.errors import ConfigError
from hsnap.settings import DEFAULT_ENDPOINT, Settings

BLOCK_TYPE_SLUG = "hetzner-project"


class HetznerProject(Block):
    """A Hetzner Cloud project: its API token, the API endpoint and an optional default selector.

    Create one per project with ``hsnap project add NAME`` or in the Prefect UI; run flows with
    ``project=NAME``. The token is stored encrypted and never shown.
    """

    _block_type_name: ClassVar[str] = "Hetzner Project"
    _block_type_slug: ClassVar[str] = BLOCK_TYPE_SLUG
    _description: ClassVar[str] = (
        "One Hetzner Cloud project for hsnap: a Read & Write API token, the API endpoint and "
        "an optional default label selector."
    )
    _documentation_url: ClassVar[HttpUrl] = HttpUrl(f"{DOCS_URL}projects.md")

    display_name: str = Field(default="", description="A name for people, e.g. 'Shop (prod)'.")
    token: SecretStr = Field(description="The project's Read & Write API token.")
    endpoint: str = Field(
        default=DEFAULT_ENDPOINT, description="The Hetzner Cloud API; change only for a simulator."
    )
    label_selector: str | None = Field(
        default=None,
        description="Snapshot only servers matching it unless a run asks otherwise "
        "(Hetzner syntax, e.g. env=prod).",
    )


def load_project(name: str) -> HetznerProject:
    """The ``HetznerProject`` block ``name``, or a ConfigError that says how to create it."""
    try:
        block: Any = HetznerProject.load(name)  # sync call: typed as maybe-awaitable
    except ValueError:
        raise ConfigError(
            f"no Hetzner project {name!r}: add it with `hsnap project add {name}` "
            "(or in the Prefect UI, Blocks > Hetzner Project)"
        ) from None
    if not isinstance(block, HetznerProject):  # pragma: no cover -- Prefect returns the class
        raise ConfigError(f"the block {name!r} is not a Hetzner project")
    return block


def project_settings(name: str, time_scale: float) -> Settings:
    """Connection settings for the project ``name`` (its endpoint is checked like any other)."""
    block = load_project(name)
    token = block.token.get_secret_value().strip()
    if not token:
        raise ConfigError(f"the Hetzner project {name!r} holds no token")
    return Settings(
        token=SecretStr(token),
        endpoint=block.endpoint or DEFAULT_ENDPOINT,
        project=name,
        label_selector=block.label_selector or None,
        time_scale=time_scale,
    )
