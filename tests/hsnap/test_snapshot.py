"""``take_snapshot`` against the simulator over real HTTP: what a user sees in each situation.

Both sides run at the same time scale, so minutes of API time pass in a fraction of a second and
hsnap's deadlines, polls and backoffs shrink exactly like the simulator's actions. Nothing here
sleeps to synchronise: where the world must change during a run, it changes from an hsnap progress
event (which fires in hsnap's own thread at a known step) or from the scenario's own schedule.
"""

from __future__ import annotations

import json
import logging
import traceback
from typing import Any

import pytest

from hcloud_sim import SimulatorServer
from hsnap.cloud.client import READ_ATTEMPTS, Cloud
from hsnap.events import ProgressEvent
from hsnap.models import ServerRef, SnapshotOutcome
from hsnap.policy import ownership_labels
from hsnap.snapshot.take import SnapshotError, SnapshotPlan, take_snapshot
from tests.conftest import SimFactory
from tests.hsnap.world import (
    APP_1,
    RUN,
    SCALE,
    SECRET,
    add_fault,
    connect,
    created,
    on_phase,
    requests_to,
    world,
)

CREATE_IMAGE = "/servers/*/actions/create_image"


def plan_for(
    server_id: int = APP_1,
    name: str = "app-1",
    *,
    lock_timeout_s: float = 1800.0,
    snapshot_timeout_s: float = 7200.0,
) -> SnapshotPlan:
    return SnapshotPlan(
        server=ServerRef(id=server_id, name=name, status="running"),
        description=f"{name}-hsnap-test",
        labels=ownership_labels(server_id, RUN),
        run_id=RUN,
        lock_timeout_s=lock_timeout_s,
        snapshot_timeout_s=snapshot_timeout_s,
    )


def fails(cloud: Cloud, plan: SnapshotPlan, **kwargs: Any) -> SnapshotError:
    with pytest.raises(SnapshotError) as info:
        take_snapshot(cloud, plan, **kwargs)
    error = info.value
    assert error.outcome.status == "failed"
    assert error.outcome.image_id is None
    assert str(error) == f"{plan.server.name}: {error.outcome.error}"
    return error


def image_of(sim: SimulatorServer, image_id: int) -> dict[str, Any]:
    images = {i["id"]: i for i in sim.state.ground_truth()["images"]}
    return dict(images[image_id])


def assert_succeeded_once(sim: SimulatorServer, outcome: SnapshotOutcome) -> dict[str, Any]:
    """The outcome names the one image the API made, and that image is available."""
    assert outcome.status == "succeeded", outcome
    assert created(sim) == [outcome.image_id]
    image = image_of(sim, outcome.image_id)
    assert image["status"] == "available"
    assert outcome.image_size_gb == image["image_size"]
    return image


# -- 1. the plain path ---------------------------------------------------------------------------


def test_plain_snapshot(make_sim: SimFactory) -> None:
    sim = make_sim(world({"name": "app-1", "snapshot_size": 3.25}), time_scale=SCALE)
    plan = plan_for()
    outcome = take_snapshot(connect(sim), plan)

    image = assert_succeeded_once(sim, outcome)
    assert outcome.server == "app-1"
    assert outcome.server_id == APP_1
    assert outcome.image_size_gb == 3.25
    assert outcome.description == "app-1-hsnap-test" == image["description"]
    assert outcome.snapshot_s >= 50  # the action takes one simulated minute
    assert (outcome.attempts, outcome.resumed, outcome.lock_holders) == (1, False, ())
    assert (outcome.error_code, outcome.error) == (None, None)
    assert image["type"] == "snapshot"
    assert image["created_from"] == {"id": APP_1, "name": "app-1"}
    assert image["labels"] == {
        "managed-by": "hsnap",
        "hsnap/server-id": str(APP_1),
        "hsnap/flow-run": RUN,
    }
    assert requests_to(sim, "POST", "/servers/{id}/actions/create_image") == 1


# -- 2.-4. locks ---------------------------------------------------------------------------------


def test_lock_released_mid_wait(make_sim: SimFactory, caplog: pytest.LogCaptureFixture) -> None:
    sim = make_sim(world(), time_scale=SCALE)
    cloud = connect(sim)
    # far longer than hsnap's first poll (2 s): hsnap must see it, wait, and then go on
    holder = sim.state.lock_server(APP_1, command="change_server_type", duration=300)
    with caplog.at_level(logging.INFO, logger="hsnap"):
        outcome = take_snapshot(cloud, plan_for())

    assert_succeeded_once(sim, outcome)
    assert outcome.lock_holders == (f"change_server_type #{holder}",)
    assert 0 < outcome.lock_wait_s < 1800
    assert f"locked by change_server_type action {holder}" in caplog.text
    holder_action = next(a for a in sim.state.ground_truth()["actions"] if a["id"] == holder)
    assert holder_action["status"] == "success"  # hsnap waited for it rather than racing it


def test_lock_that_never_releases_fails_with_lock_timeout(make_sim: SimFactory) -> None:
    # a tenth of the usual speed: the 90 s deadline lasts 1.5 real seconds, so a busy machine's
    # scheduling hiccup cannot eat a large part of the measured wait
    sim = make_sim(world(), time_scale=SCALE / 10)
    holder = sim.state.lock_server(APP_1, command="change_server_type", duration=None)
    error = fails(connect(sim, scale=SCALE / 10), plan_for(lock_timeout_s=90))

    outcome = error.outcome
    assert outcome.error_code == "lock_timeout"
    assert error.transient is False
    assert outcome.lock_holders == (f"change_server_type #{holder}",)
    assert outcome.lock_wait_s >= 80  # from the first check that saw the lock to the deadline
    assert outcome.error is not None
    assert f"still locked by change_server_type #{holder}" in outcome.error
    assert "no snapshot was made" in outcome.error
    assert "Try again later, or allow a longer wait" in outcome.error
    assert created(sim) == []
    # hsnap tries the create once (a 423 is how it learns of the lock), and never again after
    assert requests_to(sim, "POST", "/servers/{id}/actions/create_image", 201) == 0
    assert requests_to(sim, "POST", "/servers/{id}/actions/create_image", 423) == 1


def test_a_deadline_spent_before_the_first_try_still_names_the_lock_holder(
    make_sim: SimFactory,
) -> None:
    # a wait so short that it is over when the first create answers 423 (a busy worker can start a
    # task that late): the message must still say what holds the lock, which is what a user acts on
    sim = make_sim(world(), time_scale=SCALE)
    holder = sim.state.lock_server(APP_1, command="rebuild_server", duration=None)
    error = fails(connect(sim), plan_for(lock_timeout_s=0.001))

    assert error.outcome.error_code == "lock_timeout"
    assert f"still locked by rebuild_server #{holder}" in (error.outcome.error or "")
    assert created(sim) == []


def test_a_30_day_lock_from_the_scenario(make_sim: SimFactory) -> None:
    stuck = {
        "name": "app-1",
        "running_actions": [{"command": "rebuild_server", "duration": 2592000}],
    }
    sim = make_sim(world(stuck), time_scale=SCALE)
    error = fails(connect(sim), plan_for(lock_timeout_s=60))
    assert error.outcome.error_code == "lock_timeout"
    assert "rebuild_server #" in (error.outcome.error or "")
    assert created(sim) == []


def test_a_423_on_create_goes_back_to_waiting(make_sim: SimFactory) -> None:
    sim = make_sim(world(), time_scale=SCALE)
    add_fault(sim, method="POST", path=CREATE_IMAGE, code="locked", count=1)
    outcome = take_snapshot(connect(sim), plan_for())

    assert_succeeded_once(sim, outcome)
    assert requests_to(sim, "POST", "/servers/{id}/actions/create_image", 423) == 1
    assert requests_to(sim, "POST", "/servers/{id}/actions/create_image", 201) == 1
    # the create is tried first; only the 423 made it list what holds the lock, once, before
    # it tried again
    assert requests_to(sim, "GET", "/servers/{id}/actions") == 1


def test_a_423_that_persists_backs_off_and_times_out(make_sim: SimFactory) -> None:
    # the API answers 423 while no running action shows a holder (e.g. ``server.locked``);
    # a slower clock than elsewhere keeps the 120 s deadline well above one request's real time
    scale = 60.0
    sim = make_sim(world(), time_scale=scale)
    add_fault(sim, method="POST", path=CREATE_IMAGE, code="locked")
    error = fails(connect(sim, scale=scale), plan_for(lock_timeout_s=120))

    assert error.outcome.error_code == "lock_timeout"
    assert error.transient is False
    assert "still locked by a lock no running action shows" in (error.outcome.error or "")
    assert error.outcome.lock_wait_s >= 60
    # polled with backoff (2 s, 3 s, 4.5 s, ...), not a tight loop of POSTs
    assert 2 <= requests_to(sim, "POST", "/servers/{id}/actions/create_image") <= 12
    assert created(sim) == []


def test_a_real_lock_taken_between_check_and_create(make_sim: SimFactory) -> None:
    sim = make_sim(world(), time_scale=SCALE)
    holders: list[int] = []

    def someone_else_locks(event: ProgressEvent) -> None:
        del event
        holders.append(sim.state.lock_server(APP_1, command="reboot_server", duration=120))

    with on_phase("creating", someone_else_locks) as phases:
        outcome = take_snapshot(connect(sim), plan_for())

    assert_succeeded_once(sim, outcome)
    assert outcome.lock_holders == (f"reboot_server #{holders[0]}",)
    assert outcome.lock_wait_s > 0
    assert phases.count("creating") == 2
    assert "waiting" in phases
    assert requests_to(sim, "POST", "/servers/{id}/actions/create_image", 423) == 1


# -- 5. a snapshot action that fails -------------------------------------------------------------


def test_action_ending_in_error_is_a_permanent_failure(make_sim: SimFactory) -> None:
    broken = {
        "name": "app-1",
        "snapshot_error": {"code": "action_failed", "message": "image creation failed: disk"},
    }
    sim = make_sim(world(broken), time_scale=SCALE)
    error = fails(connect(sim), plan_for())

    assert error.transient is False
    assert error.outcome.error_code == "action_failed"
    assert "image creation failed: disk" in (error.outcome.error or "")
    assert "failed" in (error.outcome.error or "")
    [image_id] = created(sim)
    assert image_of(sim, image_id)["status"] == "unavailable"


def test_snapshot_slower_than_its_deadline(make_sim: SimFactory) -> None:
    sim = make_sim(world({"name": "app-1", "snapshot_duration": 7200}), time_scale=SCALE)
    error = fails(connect(sim), plan_for(snapshot_timeout_s=90))

    assert error.transient is False
    assert error.outcome.error_code == "snapshot_timeout"
    assert error.outcome.snapshot_s >= 90
    [image_id] = created(sim)
    assert f"image {image_id} still creating after" in (error.outcome.error or "")
    assert "allow a longer wait" in (error.outcome.error or "")


# -- 6.-7. transient answers to reads; rate limits -----------------------------------------------


@pytest.mark.parametrize(
    ("path", "code", "endpoint", "status"),
    [
        # the lock holders are listed only after a 423: a short lock makes hsnap list them
        ("/servers/*/actions", "bad_gateway", "/servers/{id}/actions", 502),
        # the batch poll of the shared watcher (the glob sees the path without ``?id=..``)
        ("/actions", "unavailable", "/actions", 503),
        # the one read of the image once its action ended
        ("/images/*", "timeout", "/images/{id}", 504),
    ],
)
def test_bursts_of_5xx_on_reads_are_retried(
    make_sim: SimFactory, path: str, code: str, endpoint: str, status: int
) -> None:
    sim = make_sim(world(), time_scale=SCALE)
    if endpoint == "/servers/{id}/actions":
        sim.state.lock_server(APP_1, command="reboot_server", duration=30)
    add_fault(sim, method="GET", path=path, code=code, count=READ_ATTEMPTS - 1)
    outcome = take_snapshot(connect(sim), plan_for())

    assert_succeeded_once(sim, outcome)
    assert requests_to(sim, "GET", endpoint, status) == READ_ATTEMPTS - 1
    assert requests_to(sim, "GET", endpoint, 200) >= 1  # the burst was read through, not skipped


def test_a_burst_longer_than_the_read_retries_is_transient(make_sim: SimFactory) -> None:
    sim = make_sim(world(), time_scale=SCALE)
    sim.state.lock_server(APP_1, command="reboot_server", duration=30)  # a 423 makes it list
    add_fault(sim, method="GET", path="/servers/*/actions", code="unavailable")  # no end
    error = fails(connect(sim), plan_for())

    assert error.transient is True
    assert error.outcome.error_code == "unavailable"
    assert "actions of server" in (error.outcome.error or "")
    assert requests_to(sim, "GET", "/servers/{id}/actions", 503) == READ_ATTEMPTS
    assert created(sim) == []


def test_a_burst_on_the_batch_polls_only_delays_the_wait(make_sim: SimFactory) -> None:
    # the shared watcher keeps polling through an outage longer than one read's retries: the
    # task waits on (until its own deadline) instead of failing a snapshot that is being made
    sim = make_sim(world(), time_scale=SCALE)
    add_fault(sim, method="GET", path="/actions", code="unavailable", count=3 * READ_ATTEMPTS)
    outcome = take_snapshot(connect(sim), plan_for())

    assert_succeeded_once(sim, outcome)
    assert outcome.attempts == 1
    assert requests_to(sim, "GET", "/actions", 503) == 3 * READ_ATTEMPTS
    assert requests_to(sim, "GET", "/actions", 200) >= 1


def test_batch_polls_failing_until_the_deadline_still_see_the_finished_image(
    make_sim: SimFactory,
) -> None:
    # the watcher never got an answer, but the image was made: the deadline must not report
    # "still creating" for an available snapshot
    sim = make_sim(world(), time_scale=SCALE)
    add_fault(sim, method="GET", path="/actions", code="unavailable")  # no end
    outcome = take_snapshot(connect(sim), plan_for(snapshot_timeout_s=300))

    assert_succeeded_once(sim, outcome)
    assert outcome.snapshot_s >= 300  # it waited its whole deadline, then looked at the image
    assert requests_to(sim, "GET", "/actions", 200) == 0


def test_429_answers_are_waited_out(make_sim: SimFactory) -> None:
    sim = make_sim(world(), time_scale=SCALE)
    add_fault(sim, method="GET", path="/actions", code="rate_limit_exceeded", count=3)
    add_fault(sim, method="POST", path=CREATE_IMAGE, code="rate_limit_exceeded", count=1)
    cloud = connect(sim)
    before_429, before_wait = cloud.governor.responses_429, cloud.governor.waited_s
    outcome = take_snapshot(cloud, plan_for())

    assert_succeeded_once(sim, outcome)
    assert cloud.governor.responses_429 - before_429 == 4
    assert cloud.governor.waited_s > before_wait
    # hsnap, not the SDK, sent each again: one request per 429 and never a duplicate create
    assert requests_to(sim, "GET", "/actions", 429) == 3
    assert requests_to(sim, "POST", "/servers/{id}/actions/create_image", 429) == 1
    assert requests_to(sim, "POST", "/servers/{id}/actions/create_image", 201) == 1


def test_a_small_rate_budget_is_waited_out_not_failed(make_sim: SimFactory) -> None:
    # 2 requests an hour, refilled like Hetzner's bucket (limit/3600 per second); a snapshot needs
    # more than 2 (create, at least one poll, the image), so hsnap must wait for the bucket to
    # refill. A faster clock keeps it quick.
    scale = 36000.0
    budget = {"capacity": 2, "refill_per_second": 2 / 3600}
    sim = make_sim(
        world({"name": "app-1", "snapshot_duration": 600}, rate_limit=budget), time_scale=scale
    )
    cloud = connect(sim, scale=scale)
    before_429 = cloud.governor.responses_429
    started = sim.state.clock.now()
    outcome = take_snapshot(cloud, plan_for())
    took = sim.state.clock.now() - started

    assert_succeeded_once(sim, outcome)
    sent = sum(row["count"] for row in sim.state.request_counts())
    assert sent > budget["capacity"]
    # more requests than the bucket holds and not one 429: the run waited for the refill (the
    # watcher slowed its polls, the governor held requests back) instead of spending requests on
    # 429s; it took at least as long as the bucket needed to refill the excess
    assert cloud.governor.responses_429 == before_429
    assert not [row for row in sim.state.request_counts() if row["status"] == 429]
    assert took >= (sent - budget["capacity"]) / budget["refill_per_second"] * 0.95


# -- 8.-9. no duplicate snapshot: lost answers to the create, retried attempts ---------------------


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param({"code": "timeout", "when": "after"}, id="504-after-create"),
        pytest.param({"drop": True, "when": "after"}, id="dropped-after-create"),
    ],
)
def test_create_carried_out_but_answer_lost_is_resumed(
    make_sim: SimFactory, fault: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    sim = make_sim(world(), time_scale=SCALE)
    add_fault(sim, method="POST", path=CREATE_IMAGE, count=1, **fault)
    with caplog.at_level(logging.WARNING, logger="hsnap"):
        outcome = take_snapshot(connect(sim), plan_for())

    assert_succeeded_once(sim, outcome)
    assert outcome.resumed is True
    assert requests_to(sim, "POST", "/servers/{id}/actions/create_image") == 1
    assert f"but the API made image {outcome.image_id}" in caplog.text


#: the client gives up after half a second (30 API seconds at this scale): slow answers beat it
SLOW_SCALE = 60.0
HTTP_TIMEOUT_S = 0.5


def test_create_answered_40s_after_the_client_timeout_makes_one_snapshot(
    make_sim: SimFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # the API carries the create out 40 s after the client gave up: the first look finds nothing
    sim = make_sim(world(), time_scale=SLOW_SCALE)
    add_fault(sim, method="POST", path=CREATE_IMAGE, latency=30 + 40, count=1)
    cloud = connect(sim, scale=SLOW_SCALE, http_timeout=HTTP_TIMEOUT_S)
    with caplog.at_level(logging.WARNING, logger="hsnap"):
        outcome = take_snapshot(cloud, plan_for())

    assert_succeeded_once(sim, outcome)
    assert outcome.resumed is True
    assert requests_to(sim, "POST", "/servers/{id}/actions/create_image") == 1
    assert f"but the API made image {outcome.image_id}" in caplog.text


def test_create_landing_after_the_retry_is_removed(
    make_sim: SimFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # later still: the first attempt gives up (transient), Prefect's retry creates the snapshot,
    # and then the lost create lands too. The run must end with one snapshot of the server.
    sim = make_sim(world(action_durations={"create_image": 20}), time_scale=SLOW_SCALE)
    add_fault(sim, method="POST", path=CREATE_IMAGE, latency=170, count=1)
    cloud = connect(sim, scale=SLOW_SCALE, http_timeout=HTTP_TIMEOUT_S)
    first = fails(cloud, plan_for())
    assert first.transient
    assert created(sim) == []

    with caplog.at_level(logging.WARNING, logger="hsnap"):
        outcome = take_snapshot(cloud, plan_for(), attempt=2)

    assert outcome.status == "succeeded", outcome
    made = created(sim)
    assert len(made) == 2, "the lost create did land: this test needs both to exist"
    images = {i["id"]: i for i in sim.state.ground_truth()["images"]}
    [late] = [i for i in made if i != outcome.image_id]
    assert late not in images  # deleted
    assert images[outcome.image_id]["status"] == "available"
    assert f"removed image {late}" in caplog.text
    mine = [i for i in images.values() if i["labels"] == ownership_labels(APP_1, RUN)]
    assert [i["id"] for i in mine] == [outcome.image_id]


def test_extra_images_of_other_runs_or_servers_are_never_removed(make_sim: SimFactory) -> None:
    others = [
        {"description": "earlier run", "server": "app-1", "labels": ownership_labels(APP_1, "r0")},
        {"description": "manual", "server": "app-1"},
        {"description": "app-2, same run", "server": "app-2", "labels": ownership_labels(2, RUN)},
    ]
    sim = make_sim(world({"name": "app-1"}, {"name": "app-2"}, images=others), time_scale=SCALE)
    before = {i["id"] for i in sim.state.ground_truth()["images"]}
    outcome = take_snapshot(connect(sim), plan_for(), attempt=2)  # a retry: extras are looked for
    after = {i["id"] for i in sim.state.ground_truth()["images"]}
    assert after == before | {outcome.image_id}


def test_create_not_carried_out_fails_transiently_without_an_image(make_sim: SimFactory) -> None:
    sim = make_sim(world(), time_scale=SCALE)
    add_fault(sim, method="POST", path=CREATE_IMAGE, code="timeout", when="before", count=1)
    cloud = connect(sim)
    error = fails(cloud, plan_for())

    assert error.transient is True
    assert error.outcome.error_code == "timeout"
    assert created(sim) == []
    assert requests_to(sim, "POST", "/servers/{id}/actions/create_image") == 1
    # Prefect's retry then creates it, once
    outcome = take_snapshot(cloud, plan_for(), attempt=2)
    assert_succeeded_once(sim, outcome)
    assert (outcome.attempts, outcome.resumed) == (2, False)


def test_retry_resumes_the_image_of_the_failed_attempt(make_sim: SimFactory) -> None:
    sim = make_sim(world(), time_scale=SCALE)
    # the answer to the create is lost and every read of the image list fails: the attempt
    # fails transiently while its image is still being made
    add_fault(sim, method="POST", path=CREATE_IMAGE, code="timeout", when="after", count=1)
    add_fault(sim, method="GET", path="/images", code="unavailable", count=READ_ATTEMPTS)
    cloud = connect(sim)
    first = fails(cloud, plan_for())
    assert first.transient is True
    assert first.outcome.error_code == "unavailable"
    [started] = created(sim)
    assert image_of(sim, started)["status"] == "creating"

    outcome = take_snapshot(cloud, plan_for(), attempt=2)
    assert_succeeded_once(sim, outcome)
    assert outcome.image_id == started
    assert (outcome.attempts, outcome.resumed) == (2, True)
    assert requests_to(sim, "POST", "/servers/{id}/actions/create_image") == 1


def test_retry_after_the_image_became_available_only_reports_it(make_sim: SimFactory) -> None:
    sim = make_sim(world(), time_scale=SCALE)
    # every read of the finished image fails: the attempt fails transiently after the snapshot
    # was made
    add_fault(sim, method="GET", path="/images/*", code="unavailable", count=READ_ATTEMPTS)
    cloud = connect(sim)
    first = fails(cloud, plan_for())
    assert first.transient is True
    assert first.outcome.error_code == "unavailable"
    [started] = created(sim)
    assert image_of(sim, started)["status"] == "available"
    sim.state.clock.advance(3600)  # Prefect waits before it retries

    outcome = take_snapshot(cloud, plan_for(), attempt=3)
    assert_succeeded_once(sim, outcome)
    assert outcome.image_id == started
    assert (outcome.attempts, outcome.resumed) == (3, True)
    assert requests_to(sim, "POST", "/servers/{id}/actions/create_image") == 1


def test_restarted_flow_run_with_nothing_to_resume_creates(make_sim: SimFactory) -> None:
    sim = make_sim(world(), time_scale=SCALE)
    outcome = take_snapshot(connect(sim), plan_for(), may_resume=True)
    assert_succeeded_once(sim, outcome)
    assert outcome.resumed is False


def test_another_runs_image_is_not_resumed(make_sim: SimFactory) -> None:
    other_run = {
        "description": "app-1 earlier run",
        "server": "app-1",
        "status": "creating",
        "labels": ownership_labels(APP_1, "run-0000"),
    }
    sim = make_sim(world(images=[other_run]), time_scale=SCALE)
    outcome = take_snapshot(connect(sim), plan_for(), attempt=2)
    assert_succeeded_once(sim, outcome)
    assert outcome.resumed is False


# -- 10. the server disappears -------------------------------------------------------------------


def test_server_deleted_while_waiting_for_its_lock(make_sim: SimFactory) -> None:
    doomed = {
        "name": "app-1",
        "running_actions": [{"command": "change_server_type", "duration": None}],
        "delete_after": 120,
    }
    sim = make_sim(world(doomed), time_scale=SCALE)
    error = fails(connect(sim), plan_for())

    assert error.transient is False
    assert error.outcome.error_code == "not_found"
    assert "server app-1 no longer exists: it was deleted during the run" in (
        error.outcome.error or ""
    )
    assert created(sim) == []


def test_server_deleted_by_someone_while_hsnap_waits(make_sim: SimFactory) -> None:
    sim = make_sim(world(), time_scale=SCALE)
    sim.state.lock_server(APP_1, duration=None)
    with on_phase("waiting", lambda _: sim.state.delete_server(APP_1)):
        error = fails(connect(sim), plan_for())

    assert error.outcome.error_code == "not_found"
    assert "server app-1 no longer exists" in (error.outcome.error or "")
    assert len(error.outcome.lock_holders) == 1


def test_server_deleted_while_its_snapshot_runs(make_sim: SimFactory) -> None:
    sim = make_sim(world(), time_scale=SCALE)
    with on_phase("snapshotting", lambda _: sim.state.delete_server(APP_1)):
        error = fails(connect(sim), plan_for())

    assert error.transient is False
    assert "server was deleted" in (error.outcome.error or "")
    assert len(created(sim)) == 1


# -- 11. tokens ----------------------------------------------------------------------------------


def _token_world() -> dict[str, Any]:
    return world(tokens=[{"token": SECRET}, {"token": f"{SECRET}-ro", "readonly": True}])


def _no_secret_anywhere(error: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    texts = [
        str(error),
        repr(error),
        "".join(traceback.format_exception(error)),
        caplog.text,
        *(r.getMessage() for r in caplog.records),
    ]
    if isinstance(error, SnapshotError):
        texts.append(json.dumps(error.outcome.to_dict()))
    for text in texts:
        assert "SECRET" not in text


def test_read_only_token_fails_with_advice(
    make_sim: SimFactory, caplog: pytest.LogCaptureFixture
) -> None:
    sim = make_sim(_token_world(), time_scale=SCALE)
    caplog.set_level(logging.DEBUG)
    error = fails(connect(sim, token=f"{SECRET}-ro"), plan_for())

    assert error.transient is False
    assert error.outcome.error_code == "token_readonly"
    assert "create a Read & Write API token" in (error.outcome.error or "")
    assert created(sim) == []
    _no_secret_anywhere(error, caplog)


def test_invalid_token_fails_with_advice(
    make_sim: SimFactory, caplog: pytest.LogCaptureFixture
) -> None:
    sim = make_sim(_token_world(), time_scale=SCALE)
    caplog.set_level(logging.DEBUG)
    error = fails(connect(sim, token="tok-SECRET-0000-revoked"), plan_for())

    assert error.transient is False
    assert error.outcome.error_code == "unauthorized"
    assert "create an API token in the Hetzner Cloud Console" in (error.outcome.error or "")
    # the first request (the create) answered 401 and was not retried; nothing else was sent
    assert requests_to(sim, "POST", "/servers/{id}/actions/create_image", 401) == 1
    assert sum(row["count"] for row in sim.state.request_counts()) == 1
    _no_secret_anywhere(error, caplog)


def test_good_token_never_logged(make_sim: SimFactory, caplog: pytest.LogCaptureFixture) -> None:
    sim = make_sim(_token_world(), time_scale=SCALE)
    add_fault(sim, method="POST", path=CREATE_IMAGE, code="timeout", when="after", count=1)
    caplog.set_level(logging.DEBUG)
    outcome = take_snapshot(connect(sim, token=SECRET), plan_for())
    assert_succeeded_once(sim, outcome)
    assert "SECRET" not in caplog.text
    assert "SECRET" not in json.dumps(outcome.to_dict())


# -- 12. servers of every kind -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["batch-1", "edge-v6", "internal-1"])
def test_off_ipv6_only_and_private_servers_snapshot_like_any_other(
    make_sim: SimFactory, name: str
) -> None:
    sim = make_sim("demo", time_scale=SCALE)
    cloud = connect(sim)
    server = cloud.find_server(name)
    assert server is not None
    outcome = take_snapshot(cloud, plan_for(server.id, name))
    image = assert_succeeded_once(sim, outcome)
    assert image["created_from"] == {"id": server.id, "name": name}


# -- 14. quota -----------------------------------------------------------------------------------


def test_snapshot_quota_reached_fails_with_advice(make_sim: SimFactory) -> None:
    sim = make_sim(
        world(snapshot_quota=1, images=[{"description": "kept", "server": "app-1"}]),
        time_scale=SCALE,
    )
    error = fails(connect(sim), plan_for())

    assert error.transient is False
    assert error.outcome.error_code == "resource_limit_exceeded"
    assert "snapshot quota is reached: delete old snapshots" in (error.outcome.error or "")
    assert created(sim) == []
