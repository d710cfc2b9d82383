"""Images through the real SDK: filters, sorting, paging, get, update, delete, protection, quota."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import hcloud
import pytest
from hcloud import APIException

from hcloud_sim import SimulatorServer
from tests.conftest import ClientFactory, SimFactory
from tests.openapi_check import ExchangeValidator
from tests.sim._api import RawApi, error_of

SYSTEM = ["ubuntu-24.04", "ubuntu-22.04", "debian-12", "rocky-9"]  # seeded in every project

#: two servers and six images of every kind and status; ids follow the order below.
GALLERY: dict[str, Any] = {
    "name": "gallery",
    "projects": [
        {
            "name": "gallery",
            "action_durations": {"create_image": 100},
            "servers": [{"name": "app-1"}, {"name": "app-2"}],
            "images": [
                {
                    "description": "app-1 nightly",
                    "server": "app-1",
                    "age": "1d",
                    "labels": {"managed-by": "hsnap", "tier": "gold"},
                },
                {
                    "description": "app-1 weekly",
                    "server": "app-1",
                    "age": "7d",
                    "labels": {"managed-by": "hsnap", "tier": "silver"},
                },
                {"description": "app-2 manual", "server": "app-2", "age": "3d", "protected": True},
                {"description": "app-2 backup", "type": "backup", "server": "app-2", "age": "2d"},
                {
                    "description": "app-1 broken",
                    "server": "app-1",
                    "age": "30d",
                    "status": "unavailable",
                },
                {
                    "description": "app-2 seeding",
                    "server": "app-2",
                    "age": "60s",
                    "status": "creating",
                },
            ],
        }
    ],
}
APP_1, APP_2 = 100001, 100002
NIGHTLY, WEEKLY, MANUAL, BACKUP, BROKEN, SEEDING = range(300005, 300011)
DEBIAN = 300003


@pytest.fixture
def gallery(make_sim: SimFactory) -> SimulatorServer:
    return make_sim(GALLERY, time_scale=1)  # time moves on only where a test advances it


@pytest.fixture
def images(gallery: SimulatorServer, make_client: ClientFactory) -> hcloud.Client:
    return make_client(gallery)


@pytest.fixture
def raw(gallery: SimulatorServer, schema_check: ExchangeValidator) -> RawApi:
    return RawApi(gallery, schema_check)


def _descriptions(found: list[Any]) -> list[str]:
    return [i.description for i in found]


# -- listing -------------------------------------------------------------------------------------


def test_type_filter_repeats(images: hcloud.Client) -> None:
    assert {i.name for i in images.images.get_all(type=["system"])} == set(SYSTEM)
    kept = images.images.get_all(type=["snapshot", "backup"])
    assert sorted(i.id for i in kept) == [NIGHTLY, WEEKLY, MANUAL, BACKUP, BROKEN, SEEDING]
    assert [i.id for i in images.images.get_all(type=["backup"])] == [BACKUP]


def test_status_filter_repeats(raw: RawApi) -> None:
    # hcloud-python 2.27 sends per_page as the status (see HETZNER_NOTES): raw requests here
    response = raw.get("/images", {"status": ["unavailable", "creating"], "type": "snapshot"})
    assert response.status_code == 200
    assert [i["id"] for i in response.json()["images"]] == [BROKEN, SEEDING]
    assert {i["status"] for i in response.json()["images"]} == {"unavailable", "creating"}

    bad = raw.get("/images", {"status": "ready"})
    assert error_of(bad)[:2] == (422, "invalid_input")


def test_bound_to_finds_the_servers_backups(images: hcloud.Client) -> None:
    assert [i.id for i in images.images.get_all(bound_to=[str(APP_2)])] == [BACKUP]
    assert images.images.get_all(bound_to=[str(APP_1)]) == []


def test_label_selector_and_name(images: hcloud.Client) -> None:
    assert sorted(i.id for i in images.images.get_all(label_selector="managed-by=hsnap")) == [
        NIGHTLY,
        WEEKLY,
    ]
    gold = images.images.get_all(label_selector="managed-by==hsnap,tier in (gold,platinum)")
    assert [i.id for i in gold] == [NIGHTLY]
    assert [i.id for i in images.images.get_all(label_selector="tier!=gold,tier")] == [WEEKLY]
    assert [i.id for i in images.images.get_all(name="debian-12", architecture=["x86"])] == [DEBIAN]
    # system images exist once per architecture, under one name
    both = images.images.get_all(name="debian-12")
    assert sorted(i.architecture for i in both) == ["arm", "x86"]
    found = images.images.get_by_name_and_architecture("debian-12", "x86")
    assert found is not None
    assert found.os_flavor == "debian"
    assert images.images.get_all(name="debian") == []


def test_sort_by_created_and_name(images: hcloud.Client, raw: RawApi) -> None:
    newest_first = images.images.get_all(type=["snapshot"], sort=["created:desc"])
    assert _descriptions(newest_first) == [
        "app-2 seeding",
        "app-1 nightly",
        "app-2 manual",
        "app-1 weekly",
        "app-1 broken",
    ]
    oldest_first = images.images.get_all(type=["snapshot"], sort=["created:asc"])
    assert _descriptions(oldest_first) == list(reversed(_descriptions(newest_first)))
    by_name = images.images.get_all(type=["system"], architecture=["x86"], sort=["name"])
    assert [i.name for i in by_name] == sorted(SYSTEM)
    by_id = images.images.get_all(type=["snapshot"], sort=["id:desc"])
    assert [i.id for i in by_id] == [SEEDING, BROKEN, MANUAL, WEEKLY, NIGHTLY]
    # the API sorts images by id, name and created only
    status, code, message = error_of(raw.get("/images", {"sort": "description"}))
    assert (status, code) == (422, "invalid_input")
    assert "sort" in message


def test_pages(images: hcloud.Client, raw: RawApi) -> None:
    # x86 only: the arm builds of the system images come after the scenario's images
    page = images.images.get_list(page=2, per_page=4, architecture=["x86"])
    assert [i.id for i in page.images] == [NIGHTLY, WEEKLY, MANUAL, BACKUP]
    assert page.meta is not None
    pagination = page.meta.pagination
    assert (pagination.page, pagination.per_page) == (2, 4)
    assert (pagination.previous_page, pagination.next_page) == (1, 3)
    assert (pagination.last_page, pagination.total_entries) == (3, 10)

    last = raw.get("/images", {"page": 3, "per_page": 4, "architecture": "x86"}).json()
    assert [i["id"] for i in last["images"]] == [BROKEN, SEEDING]
    assert last["meta"]["pagination"] == {
        "page": 3,
        "per_page": 4,
        "previous_page": 2,
        "next_page": None,
        "last_page": 3,
        "total_entries": 10,
    }
    capped = raw.get("/images", {"per_page": 500}).json()["meta"]["pagination"]
    assert capped["per_page"] == 50


# -- one image -----------------------------------------------------------------------------------


def test_get_shows_the_snapshot(gallery: SimulatorServer, images: hcloud.Client) -> None:
    image = images.images.get_by_id(NIGHTLY)
    assert (image.type, image.status, image.description) == (
        "snapshot",
        "available",
        "app-1 nightly",
    )
    assert image.created_from is not None
    assert (image.created_from.id, image.created_from.name) == (APP_1, "app-1")
    assert image.image_size == 2.5
    assert image.disk_size == 40
    assert image.bound_to is None
    assert image.protection == {"delete": False}
    assert image.labels == {"managed-by": "hsnap", "tier": "gold"}
    now = datetime.fromtimestamp(gallery.state.clock.now(), tz=UTC)
    assert image.created is not None
    assert abs(now - timedelta(days=1) - image.created) < timedelta(minutes=5)

    with pytest.raises(APIException) as err:
        images.images.get_by_id(399999)
    assert err.value.code == "not_found"
    assert err.value.message == "image with ID '399999' not found"


def test_update_description_and_labels(images: hcloud.Client, raw: RawApi) -> None:
    image = images.images.get_by_id(WEEKLY)
    updated = images.images.update(image, description="kept forever", labels={"keep": "yes"})
    assert updated.description == "kept forever"
    assert updated.labels == {"keep": "yes"}  # labels are replaced, not merged
    again = raw.get(f"/images/{WEEKLY}").json()["image"]
    assert (again["description"], again["labels"]) == ("kept forever", {"keep": "yes"})

    status, code, message = error_of(raw.put(f"/images/{WEEKLY}", {"labels": {"-bad": "x"}}))
    assert (status, code) == (422, "invalid_input")
    assert "labels" in message


def test_update_turns_a_backup_into_a_snapshot(images: hcloud.Client) -> None:
    converted = images.images.update(images.images.get_by_id(BACKUP), type="snapshot")
    assert (converted.type, converted.bound_to) == ("snapshot", None)


def test_delete_answers_204_without_a_body(raw: RawApi, images: hcloud.Client) -> None:
    response = raw.session.delete(f"{raw.url}/images/{NIGHTLY}", timeout=10)
    assert response.status_code == 204
    assert response.content == b""
    assert error_of(raw.get(f"/images/{NIGHTLY}")) == (
        404,
        "not_found",
        f"image with ID '{NIGHTLY}' not found",
    )
    assert images.images.delete(images.images.get_by_id(WEEKLY)) is True
    assert [i.id for i in images.images.get_all(label_selector="managed-by=hsnap")] == []


def test_protected_image_refuses_delete_until_unprotected(images: hcloud.Client) -> None:
    image = images.images.get_by_id(MANUAL)
    assert image.protection == {"delete": True}
    with pytest.raises(APIException) as err:
        images.images.delete(image)
    assert err.value.code == "protected"

    action = images.images.change_protection(image, delete=False)
    assert (action.command, action.status, action.progress) == ("change_protection", "success", 100)
    assert action.resources == [{"id": MANUAL, "type": "image"}]
    assert images.images.get_by_id(MANUAL).protection == {"delete": False}
    assert images.images.delete(image) is True


def test_protecting_an_image_blocks_its_delete(images: hcloud.Client, raw: RawApi) -> None:
    images.images.change_protection(images.images.get_by_id(NIGHTLY), delete=True)
    response = raw.session.delete(f"{raw.url}/images/{NIGHTLY}", timeout=10)
    assert error_of(response)[:2] == (423, "protected")


def test_an_image_still_creating_cannot_be_deleted(
    gallery: SimulatorServer, images: hcloud.Client
) -> None:
    made = images.servers.create_image(images.servers.get_by_id(APP_1), description="fresh")
    assert made.image.status == "creating"
    assert made.image.image_size is None
    with pytest.raises(APIException) as err:
        images.images.delete(made.image)
    assert err.value.code == "locked"
    with pytest.raises(APIException) as seeded:  # a scenario's creating image likewise
        images.images.delete(images.images.get_by_id(SEEDING))
    assert seeded.value.code == "locked"

    gallery.state.clock.advance(101)
    done = images.images.get_by_id(made.image.id)
    assert done.status == "available"
    assert done.image_size is not None
    assert images.images.delete(done) is True


def test_system_images_cannot_be_deleted_or_protected(images: hcloud.Client) -> None:
    debian = images.images.get_by_id(DEBIAN)
    assert (debian.type, debian.rapid_deploy) == ("system", True)
    with pytest.raises(APIException) as err:
        images.images.delete(debian)
    assert err.value.code == "forbidden"
    with pytest.raises(APIException) as protect:
        images.images.change_protection(debian, delete=True)
    assert protect.value.code == "forbidden"
    assert images.images.get_by_id(DEBIAN).status == "available"


def test_snapshot_quota_refuses_create_image(
    make_sim: SimFactory, make_client: ClientFactory
) -> None:
    sim = make_sim(
        {
            "projects": [
                {
                    "snapshot_quota": 2,
                    "servers": [{"name": "app-1"}],
                    "images": [
                        {"description": "one", "server": "app-1"},
                        {"description": "two", "server": "app-1"},
                        {"description": "bk", "type": "backup", "server": "app-1"},
                    ],
                }
            ]
        }
    )
    client = make_client(sim)
    server = client.servers.get_by_id(APP_1)
    with pytest.raises(APIException) as err:
        client.servers.create_image(server, description="three")
    assert err.value.code == "resource_limit_exceeded"
    assert err.value.details == {"limits": [{"name": "snapshot_limit"}]}
    assert sim.state.ground_truth()["created_images"] == []

    client.images.delete(client.images.get_by_id(300005))  # backups do not count, snapshots do
    made = client.servers.create_image(server, description="three")
    assert made.image.type == "snapshot"
