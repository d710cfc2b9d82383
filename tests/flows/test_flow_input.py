"""Bad input inside flows (as from a deployment): the run ends Failed with the message only.

And a selection that matches no server fails the run, so a typo in a schedule does not pass
as success.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from prefect.states import State

from hsnap.errors import ConfigError, HsnapError
from hsnap.flows.prune_snapshots import prune_snapshots
from hsnap.flows.snapshot_servers import snapshot_servers
from hsnap.retention.policy import RetentionPolicy
from tests.flows.conftest import HsnapEnv, logs_of
from tests.prune_world import deletes, survivors, world


def run_id(state: State[Any]) -> UUID:
    assert state.state_details.flow_run_id is not None
    return state.state_details.flow_run_id


def assert_failed_without_traceback(state: State[Any], says: str) -> HsnapError:
    """Failed, the message says what to fix, no log line of the run carries a traceback."""
    assert state.is_failed()
    assert says in (state.message or "")
    logs = [log.message for log in logs_of(run_id(state))]
    assert any(says in line for line in logs), logs
    assert not [line for line in logs if "Traceback" in line]
    error = state.result(raise_on_failure=False)
    assert isinstance(error, HsnapError)
    return error


@pytest.mark.parametrize(
    ("parameters", "says"),
    [
        ({"description_template": "{server!r:>99999999}"}, "write plain {server}"),
        ({"description_template": "{date:%d}"}, "write plain {date}"),
        ({"labels": {"managed-by": "me"}}, "hsnap's own managed-by"),
        ({"label_selector": "env in (prod"}, "malformed label selector"),
        ({"timezone": "Mars/Olympus"}, "unknown timezone"),
    ],
)
def test_bad_parameters_end_the_run_failed_with_the_message(
    hsnap_env: HsnapEnv, parameters: dict[str, Any], says: str
) -> None:
    sim = hsnap_env("demo")
    state = snapshot_servers(**parameters, return_state=True)

    error = assert_failed_without_traceback(state, says)
    assert isinstance(error, ConfigError)
    assert sim.state.request_counts() == [], "nothing reached the API"


def test_an_invalid_token_ends_the_run_failed_without_traceback(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env("demo", token="not-a-valid-token")
    state = snapshot_servers(return_state=True)

    error = assert_failed_without_traceback(state, "API token is invalid")
    assert error.code == "unauthorized"
    assert sim.state.ground_truth()["created_images"] == []


@pytest.mark.parametrize(
    ("parameters", "says"),
    [
        ({"label_selector": "env=prdo"}, "no server matches label selector 'env=prdo'"),
        ({"servers": ["web-1"], "exclude": ["web-1"]}, "no server matches server name(s) web-1"),
        ({"label_selector": "env=prdo", "dry_run": True}, "no server matches"),
    ],
)
def test_a_selection_that_matches_no_server_fails_the_run(
    hsnap_env: HsnapEnv, parameters: dict[str, Any], says: str
) -> None:
    sim = hsnap_env("demo")
    state = snapshot_servers(**parameters, return_state=True)

    error = assert_failed_without_traceback(state, says)
    assert error.code == "no_match"
    assert sim.state.ground_truth()["created_images"] == []


def test_an_empty_project_without_a_selection_is_not_an_error(hsnap_env: HsnapEnv) -> None:
    hsnap_env("empty")
    state = snapshot_servers(return_state=True)

    assert state.is_completed(), state.message


def test_prune_with_a_read_only_token_stops_at_the_first_refusal(hsnap_env: HsnapEnv) -> None:
    sim = hsnap_env(world(), token="sim-readonly")
    before = survivors(sim)
    bare = RetentionPolicy(daily=0, weekly=0, monthly=0, max_deletions=None)

    state = prune_snapshots(retention=bare, return_state=True)

    error = assert_failed_without_traceback(state, "read-only")
    assert error.code == "token_readonly"
    assert str(error).count("Read & Write") == 1, "the advice is said once"
    assert deletes(sim) == 1, "no delete after the first refusal"
    assert survivors(sim) == before
