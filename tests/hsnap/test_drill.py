"""Restore drills against the simulator: proven, not booting, quota, lost answers, leftovers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hcloud_sim import SimulatorServer
from hcloud_sim.spec import Scenario
from hsnap.events import ProgressEvent
from hsnap.restore.drill import DrillError, DrillOutcome, clean_leftovers, run_drill
from hsnap.restore.policy import DRILL_LABEL, drill_labels
from hsnap.restore.selection import DrillOptions, select_drills
from tests.conftest import SimFactory
from tests.hsnap.world import APP_1, RUN, SCALE, add_fault, connect, on_event, requests_to, world

OURS = {"managed-by": "hsnap", "hsnap/server-id": str(APP_1)}


def _world(boot: str = "ok", **project: Any) -> dict[str, Any]:
    """app-1 (cx32: 80 GB disk, in nbg1) with hsnap snapshots of a 40 GB disk; the newest one
    (``nightly``) boots as told; a newer manual snapshot is not hsnap's, so never drilled."""
    images = [
        {"description": "nightly", "server": "app-1", "age": "1d", "labels": OURS},
        {"description": "older", "server": "app-1", "age": "2d", "labels": OURS},
        {"description": "by hand", "server": "app-1", "age": "1h"},
    ]
    for image in images:
        image |= {"disk": 40}
    images[0]["boot"] = boot
    servers = project.pop("servers", [{"name": "app-1", "server_type": "cx32", "location": "nbg1"}])
    return world(*servers, images=images, **project)


def _drill(sim: SimulatorServer, boot_minutes: float = 10, **options: Any) -> DrillOutcome:
    cloud = connect(sim)
    selection = select_drills(
        cloud, DrillOptions(run_id=RUN, boot_timeout_s=boot_minutes * 60, **options)
    )
    assert len(selection.plans) == 1, selection.rows
    try:
        return run_drill(cloud, selection.plans[0])
    except DrillError as exc:
        return exc.outcome


def _names(sim: SimulatorServer) -> list[str]:
    return [s["name"] for s in sim.state.ground_truth()["servers"]]


def _created(sim: SimulatorServer) -> list[dict[str, Any]]:
    """Every create_server action: the drill servers that existed at some point."""
    return [a for a in sim.state.ground_truth()["actions"] if a["command"] == "create_server"]


def test_a_snapshot_that_boots_is_proven_labelled_and_its_server_deleted(
    make_sim: SimFactory,
) -> None:
    sim = make_sim(_world(), time_scale=SCALE)
    outcome = _drill(sim)
    assert outcome.result == "proven", outcome.error
    assert outcome.server_type == "cx22"  # the cheapest x86 type with a 40 GB disk in nbg1
    assert outcome.time_to_running_s is not None
    assert outcome.time_to_running_s > 0
    assert (outcome.cost, outcome.currency) == ("0.0060", "EUR")  # one started hour
    assert _names(sim) == ["app-1"]  # deleted
    assert outcome.drill_server_id in sim.state.ground_truth()["deleted_servers"]
    image = next(i for i in sim.state.ground_truth()["images"] if i["description"] == "nightly")
    assert image["labels"]["hsnap/verified"] == datetime.now(UTC).date().isoformat()


def _while_it_exists(sim: SimulatorServer, **options: Any) -> list[dict[str, Any]]:
    """Drill, and read the throwaway server from the ground truth while it exists."""
    seen: list[dict[str, Any]] = []

    def look(event: ProgressEvent) -> None:
        del event
        seen.extend(s for s in sim.state.ground_truth()["servers"] if s["name"] != "app-1")

    with on_event(lambda e: "drill server" in e.detail, look):
        assert _drill(sim, **options).result == "proven"
    return seen


def test_the_throwaway_server_is_labelled_and_has_no_public_ipv4(make_sim: SimFactory) -> None:
    sim = make_sim(_world(), time_scale=SCALE)
    [server] = _while_it_exists(sim)
    assert server["labels"] == {
        "managed-by": "hsnap",
        "hsnap/drill": RUN,
        "hsnap/drill-of": str(APP_1),
    }
    assert server["public_net"]["ipv4"] is None
    assert server["public_net"]["ipv6"] is not None
    # the original's location; the cheapest type for a 40 GB x86 disk; the newest hsnap snapshot
    assert (server["location"]["name"], server["server_type"]["name"]) == ("nbg1", "cx22")
    nightly = [i for i in sim.state.ground_truth()["images"] if i["description"] == "nightly"]
    assert server["image"]["id"] == nightly[0]["id"]


def test_a_failing_delete_is_tried_again(make_sim: SimFactory) -> None:
    sim = make_sim(_world(boot="stuck"), time_scale=SCALE)
    add_fault(sim, method="DELETE", path="/servers/*", code="unavailable", count=2)
    outcome = _drill(sim, boot_minutes=1)
    assert outcome.error_code == "boot_timeout"
    assert _names(sim) == ["app-1"]
    assert requests_to(sim, "DELETE", "/servers/{id}", 503) == 2


@pytest.mark.parametrize(("boot", "code"), [("stuck", "boot_timeout"), ("error", "boot_failed")])
def test_a_snapshot_that_does_not_boot_fails_and_leaves_nothing(
    make_sim: SimFactory, boot: str, code: str
) -> None:
    sim = make_sim(_world(boot=boot), time_scale=SCALE)
    outcome = _drill(sim, boot_minutes=2)
    assert outcome.result == "failed"
    assert outcome.error_code == code
    assert "did not boot" in (outcome.error or "")
    assert outcome.cost == "0.0060"  # the server existed: one hour is billed
    assert _names(sim) == ["app-1"]
    assert len(_created(sim)) == 1
    image = next(i for i in sim.state.ground_truth()["images"] if i["description"] == "nightly")
    assert "hsnap/verified" not in image["labels"]


def test_a_server_quota_hit_fails_clearly_and_leaves_nothing(make_sim: SimFactory) -> None:
    sim = make_sim(_world(server_quota=1), time_scale=SCALE)
    outcome = _drill(sim)
    assert outcome.result == "failed"
    assert outcome.error_code == "resource_limit_exceeded"
    assert "server quota is reached" in (outcome.error or "")
    assert outcome.cost is None  # nothing was created, nothing is billed
    assert _names(sim) == ["app-1"]


def test_a_lost_answer_to_the_create_still_deletes_the_server(make_sim: SimFactory) -> None:
    sim = make_sim(_world(), time_scale=SCALE)
    add_fault(sim, method="POST", path="/servers", code="timeout", when="after", count=1)
    cloud = connect(sim)
    plan = select_drills(cloud, DrillOptions(run_id=RUN)).plans[0]
    with pytest.raises(DrillError) as caught:
        run_drill(cloud, plan)
    assert caught.value.transient  # Prefect retries it, after this cleanup
    assert len(_created(sim)) == 1  # the server was made although the answer was a 504 ...
    assert _names(sim) == ["app-1"]  # ... and found by its labels and deleted


def _fleet_scenario(fleet: list[dict[str, str]]) -> dict[str, Any]:
    servers = [{"name": f"s{i}", "labels": labels} for i, labels in enumerate(fleet)]
    return world(*servers) if servers else world({"name": "keep"})


label_sets = st.dictionaries(
    st.sampled_from(["managed-by", DRILL_LABEL, "hsnap/drill-of", "env"]),
    st.sampled_from(["hsnap", "run-a", "run-b", "other", ""]),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    fleet=st.lists(label_sets, min_size=1, max_size=8),
    active=st.sets(st.sampled_from(["run-a", "run-b"])),
)
def test_cleanup_never_deletes_a_server_without_the_drill_label(
    drill_sim: SimulatorServer, fleet: list[dict[str, str]], active: set[str]
) -> None:
    drill_sim.state.reset(Scenario.model_validate(_fleet_scenario(fleet)))
    before = {s["name"]: s["labels"] for s in drill_sim.state.ground_truth()["servers"]}
    clean_leftovers(connect(drill_sim), active.__contains__, current_run=None, timeout_s=60)
    after = {s["name"] for s in drill_sim.state.ground_truth()["servers"]}
    for name, labels in before.items():
        ours = labels.get("managed-by") == "hsnap" and bool(labels.get(DRILL_LABEL))
        if not ours or labels[DRILL_LABEL] in active:
            assert name in after, f"{name} {labels} was deleted"
        else:
            assert name not in after, f"{name} {labels} was left behind"


@pytest.fixture(scope="module")
def drill_sim() -> Any:
    sim = SimulatorServer(world(), time_scale=SCALE).start()
    yield sim
    sim.stop()


def test_leftovers_of_other_runs_go_the_current_and_active_ones_stay(make_sim: SimFactory) -> None:
    servers = [
        {"name": "app-1"},
        {"name": "killed", "labels": drill_labels("run-killed", APP_1)},
        {"name": "live", "labels": drill_labels("run-live", APP_1)},
        {"name": "mine", "labels": drill_labels(RUN, APP_1)},
        {"name": "lookalike", "labels": {DRILL_LABEL: "run-killed"}},  # not managed-by=hsnap
    ]
    sim = make_sim(world(*servers), time_scale=SCALE)
    results = clean_leftovers(connect(sim), {"run-live"}.__contains__, current_run=RUN)
    assert [(r.server, r.result) for r in results] == [("killed", "deleted")]
    assert _names(sim) == ["app-1", "live", "mine", "lookalike"]


def test_a_server_that_cannot_be_deleted_is_reported_and_cleaned_up_later(
    make_sim: SimFactory,
) -> None:
    sim = make_sim(_world(), time_scale=SCALE)
    add_fault(sim, method="DELETE", path="/servers/*", code="unavailable")  # for the whole drill
    outcome = _drill(sim, delete_timeout_s=120)
    assert outcome.result == "failed"  # it booted, but a drill that leaves a server is no success
    assert outcome.error_code == "left_behind"
    assert "LEFT BEHIND" in (outcome.error or "")
    assert "hsnap recover" in (outcome.error or "")
    assert len(_names(sim)) == 2
    sim.state.project().faults.clear()
    results = clean_leftovers(connect(sim), lambda _: False, current_run=None)
    assert [(r.result, r.run_id) for r in results] == [("deleted", RUN)]
    assert _names(sim) == ["app-1"]
