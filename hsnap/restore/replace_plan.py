"""``restore --replace``, first half: which image and recipe, and whether a server is in the way.

Reads only. The server's snapshots are found by the recipe they carry (its ``name``) or by the
API's ``created_from``; the newest available one with a recipe is restored unless ``--image``
names another. A server of that name that still exists is refused (``--in-place`` is for it),
except the replacement an earlier ``--replace`` created from one of these images and did not
finish (a crash, a failed step): the re-run picks it up and finishes the missing steps, so there
is never a second server. A finished replacement marks its image ``hsnap/replaced-by``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hsnap.cloud.client import Cloud
from hsnap.errors import ConfigError, GoneError, PermanentError
from hsnap.models import ImageRef
from hsnap.policy import MANAGED_BY, MANAGED_BY_VALUE, SERVER_ID_LABEL
from hsnap.restore.policy import newest_available
from hsnap.snapshot.recipe import Recipe, from_labels

#: on the image a replacement was made from, once every step of it succeeded: the new server's id
REPLACED_BY_LABEL = "hsnap/replaced-by"


@dataclass(frozen=True)
class ReplacePlan:
    """A checked ``--replace``: the image, its recipe, and a replacement to finish (if any)."""

    name: str
    image: ImageRef
    recipe: Recipe
    #: the server an earlier, unfinished ``--replace`` created (JSON), else None
    resume: dict[str, Any] | None = field(default=None, hash=False)
    #: ids of the servers this one replaces (their hsnap snapshots become this server's)
    sources: tuple[int, ...] = ()
    boot_timeout_s: float = 1800.0


def plan_replace(
    cloud: Cloud, name: str, image_id: int | None = None, boot_timeout_s: float = 1800.0
) -> ReplacePlan:
    """Check a ``--replace`` against the project (reads only); ConfigError on bad input."""
    if cloud.can_write() is False:
        raise ConfigError(
            "the API token is read-only: --replace creates a server; use a Read & Write token "
            "(nothing changed)",
            code="token_readonly",
        )
    images = [i for i in cloud.find_images() if _named(i, name)]
    sources = tuple(sorted({s for i in images if (s := _source(i)) is not None}))
    found = cloud.raw("GET", "/servers", f"server {name}", params={"name": name}).get("servers")
    existing = found[0] if found else None
    if existing is not None:
        return _resume(name, existing, images, sources, boot_timeout_s)
    if not images:
        raise ConfigError(f"no server named {name!r} and no snapshot of it in this project")
    image = _pick(cloud, name, image_id, images, sources)
    recipe = from_labels(image.labels) or _recipe_of_source(image, images)
    if recipe is None:
        raise ConfigError(
            f"the snapshots of {name} carry no recipe (made before hsnap recorded one): "
            f"`hsnap restore {name} --as NEW_NAME --server-type T --location L` brings back its "
            "disk only (nothing changed)"
        )
    return ReplacePlan(name, image, recipe, None, sources, boot_timeout_s)


def _named(image: ImageRef, name: str) -> bool:
    recipe = from_labels(image.labels)
    return (recipe is not None and recipe.name == name) or image.created_from == name


def _source(image: ImageRef) -> int | None:
    """The server an image was made of (hsnap's label, else the API's ``created_from``)."""
    label = image.labels.get(SERVER_ID_LABEL, "")
    return int(label) if label.isdigit() else image.created_from_id


def _pick(
    cloud: Cloud, name: str, image_id: int | None, images: list[ImageRef], sources: tuple[int, ...]
) -> ImageRef:
    if image_id is None:
        carrying = [i for i in images if from_labels(i.labels) is not None]
        found = newest_available(carrying) or newest_available(images)
        if found is None:
            raise ConfigError(f"{name} has no available snapshot; pass --image ID")
        return found
    try:
        image = cloud.get_image(image_id)
    except GoneError:
        raise ConfigError(f"no image with id {image_id} in this project (nothing changed)") from (
            None
        )
    recipe = from_labels(image.labels)
    own = (recipe is not None and recipe.name == name) or _source(image) in sources
    if not own:
        raise ConfigError(
            f"image {image_id} is not a snapshot or backup of {name} (nothing changed); "
            f"`hsnap snapshots {name}` lists its images"
        )
    if image.status != "available":
        raise ConfigError(f"image {image.id} is {image.status}, not available (nothing changed)")
    return image


def _recipe_of_source(image: ImageRef, images: list[ImageRef]) -> Recipe | None:
    """An image without a recipe (a backup, a manual snapshot): its server's newest recipe."""
    same = [i for i in images if _source(i) == _source(image) and from_labels(i.labels)]
    newest = newest_available(same)
    return from_labels(newest.labels) if newest is not None else None


def _resume(
    name: str,
    existing: dict[str, Any],
    images: list[ImageRef],
    sources: tuple[int, ...],
    boot_timeout_s: float,
) -> ReplacePlan:
    made_from = (existing.get("image") or {}).get("id")
    image = next((i for i in images if i.id == made_from), None)
    recipe = from_labels(image.labels) if image is not None else None
    unfinished = (
        image is not None
        and recipe is not None
        and existing["id"] != recipe.server_id
        and image.labels.get(REPLACED_BY_LABEL) != str(existing["id"])
    )
    if not unfinished:
        raise ConfigError(
            f"server {name} still exists (id {existing['id']}): --replace is for a server that "
            f"is gone; to put a snapshot's disk back into it use `hsnap restore {name} "
            "--in-place` (nothing changed)"
        )
    assert image is not None
    assert recipe is not None
    return ReplacePlan(name, image, recipe, existing, sources, boot_timeout_s)


def lineage(cloud: Cloud, sources: tuple[int, ...], server_id: int) -> list[ImageRef]:
    """hsnap's snapshots of the replaced servers that do not count as the new one's yet."""
    mine = cloud.find_images(f"{MANAGED_BY}={MANAGED_BY_VALUE}")
    olds = {str(s) for s in sources if s != server_id}
    return [i for i in mine if i.labels.get(SERVER_ID_LABEL) in olds]


def check_alive(error: PermanentError) -> None:
    """Re-raise errors that say the credentials are bad: no step can be done with them."""
    if error.code in ("unauthorized", "token_readonly", "forbidden"):
        raise error
