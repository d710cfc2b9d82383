"""A fleet whose image list mixes hsnap's aged snapshots with everything retention must not touch.

Shared by the core, flow and CLI retention tests. Server ids start at 100001 in scenario order, so
``web-1`` is 100001, ``db-1`` 100002 and ``app-1`` 100003; 100999 never exists (the orphan's
server). Every image has a unique description, which is how the tests name it.
"""

from __future__ import annotations

from typing import Any

from hcloud_sim import SimulatorServer

WEB, DB, APP, GONE = 100001, 100002, 100003, 100999


def hsnap_labels(server_id: int) -> dict[str, str]:
    return {"managed-by": "hsnap", "hsnap/server-id": str(server_id)}


def managed(server: str, server_id: int, age: str, **image: Any) -> dict[str, Any]:
    """One of hsnap's snapshots of ``server``, ``age`` old, described ``<server> hsnap <age>``."""
    return {
        "description": f"{server} hsnap {age}",
        "server": server,
        "age": age,
        "labels": hsnap_labels(server_id),
        **image,
    }


#: hsnap's available snapshots of web-1, newest first
WEB_AGES = ("1d", "2d", "3d", "10d", "3w", "6w", "100d", "400d", "800d")

#: images that no run may ever delete, whatever the policy (description -> why)
UNTOUCHABLE = {
    "web-1 manual": "a manual snapshot (no labels)",
    "web-1 other tool": "another tool's snapshot",
    "web-1 hsnap protected": "delete protection",
    "web-1 hsnap creating": "still being created",
    "web-1 backup": "a backup, even with hsnap's labels",
    "db-1 manual": "a manual snapshot (no labels)",
}

IMAGES: list[dict[str, Any]] = [
    *(managed("web-1", WEB, age) for age in WEB_AGES),
    managed("web-1", WEB, "5d", status="unavailable"),
    {**managed("web-1", WEB, "700d", protected=True), "description": "web-1 hsnap protected"},
    {**managed("web-1", WEB, "1h", status="creating"), "description": "web-1 hsnap creating"},
    {"description": "web-1 manual", "server": "web-1", "age": "500d"},
    {
        "description": "web-1 other tool",
        "server": "web-1",
        "age": "600d",
        "labels": {"managed-by": "other", "hsnap/server-id": str(WEB)},
    },
    {
        "description": "web-1 backup",
        "server": "web-1",
        "age": "900d",
        "type": "backup",
        "labels": hsnap_labels(WEB),
    },
    managed("db-1", DB, "2w"),
    managed("db-1", DB, "400d"),
    {"description": "db-1 manual", "server": "db-1", "age": "3y"},
    {"description": "orphan hsnap 30d", "age": "30d", "labels": hsnap_labels(GONE)},
    {"description": "orphan hsnap 60d", "age": "60d", "labels": hsnap_labels(GONE)},
]


def world(*servers: dict[str, Any], images: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """One project: ``web-1`` and ``db-1`` (unless ``servers`` are given) and :data:`IMAGES`."""
    return {
        "name": "retention",
        "projects": [
            {
                "name": "retention",
                "action_durations": {"create_image": 120},
                "servers": list(servers) or [{"name": "web-1"}, {"name": "db-1"}],
                "images": IMAGES if images is None else images,
            }
        ],
    }


def images_by_description(sim: SimulatorServer) -> dict[str, dict[str, Any]]:
    """Every snapshot and backup the simulator holds now (system images left out)."""
    images = sim.state.ground_truth()["images"]
    return {i["description"]: i for i in images if i["type"] != "system"}


def survivors(sim: SimulatorServer) -> set[str]:
    return set(images_by_description(sim))


def seeded_managed(sim: SimulatorServer) -> dict[int, str]:
    """Id -> description of every image that carries hsnap's label and is a snapshot."""
    return {
        i["id"]: d
        for d, i in images_by_description(sim).items()
        if i["labels"].get("managed-by") == "hsnap" and i["type"] == "snapshot"
    }


def deletes(sim: SimulatorServer) -> int:
    """How many ``DELETE /images/{id}`` requests reached the simulator (any answer)."""
    return sum(
        c["count"]
        for c in sim.state.request_counts()
        if c["method"] == "DELETE" and c["endpoint"].startswith("/images")
    )
