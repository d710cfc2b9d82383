"""Where workers get hsnap's code: what ``hsnap setup`` deploys with and without --project-dir.

No Prefect server: these read the prefect.yaml that setup would hand to ``prefect deploy``.
tests/e2e/test_release.py runs the installed-package way for real, from a built wheel.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.flows import Flow
from prefect.utilities.importtools import import_object

import hsnap
from hsnap.deployment.source import code_source, module_entrypoint, packaged_prefect_yaml
from hsnap.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def _yaml(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def test_without_project_dir_workers_import_the_installed_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checkout = _yaml(REPO / "prefect.yaml")
    monkeypatch.chdir(REPO)  # even from inside a checkout, the default is the installed package

    with code_source(None) as source:
        deployed = _yaml(source.directory / "prefect.yaml")
        directory = source.directory

    assert source.installed
    assert REPO not in directory.parents
    assert not directory.exists()  # the temporary project is gone once deployed
    assert deployed["pull"] == []  # no step: nothing is cloned, copied or changed into
    assert len(deployed["deployments"]) == len(checkout["deployments"])
    for mine, theirs in zip(deployed["deployments"], checkout["deployments"], strict=True):
        # Prefect imports an entrypoint without ':' as a module path after the (no) pull steps
        assert ":" not in mine["entrypoint"]
        assert mine["entrypoint"].startswith("hsnap.flows.")
        flow = import_object(mine["entrypoint"])
        assert isinstance(flow, Flow)
        assert flow is import_object(str(REPO / theirs["entrypoint"]))  # the same flow
        # nothing else differs: schedules, parameters, limits are the checkout's
        assert {k: v for k, v in mine.items() if k != "entrypoint"} == {
            k: v for k, v in theirs.items() if k != "entrypoint"
        }


def test_with_project_dir_the_checkouts_prefect_yaml_is_deployed_as_it_stands() -> None:
    with code_source(REPO) as source:
        assert not source.installed
        assert source.directory == REPO.resolve()
        assert "checkout" in source.describe()
    shipped = _yaml(REPO / "prefect.yaml")
    # the checkout's deployments run the checkout: its path is resolved when deploying
    assert shipped["pull"] == [
        {"prefect.deployments.steps.set_working_directory": {"directory": "{{ $PWD }}"}}
    ]


def test_a_project_dir_without_prefect_yaml_is_refused_with_a_clear_line(tmp_path: Path) -> None:
    refused = pytest.raises(ConfigError, match=r"no prefect\.yaml in .*--project-dir")
    with refused, code_source(tmp_path):
        pytest.fail("a directory without prefect.yaml was accepted")


@pytest.mark.parametrize(
    "entrypoint",
    ["my_flows.py:snapshot_servers", "flows/hsnap_flows.py", "flows/hsnap_flows.py:not a name"],
)
def test_an_installed_hsnap_refuses_entrypoints_that_are_not_its_flows(entrypoint: str) -> None:
    with pytest.raises(ConfigError, match="--project-dir"):
        module_entrypoint(entrypoint)


def test_the_checkout_reads_its_own_prefect_yaml() -> None:
    """In a checkout (editable install, PYTHONPATH) the top-level file is the packaged one."""
    assert packaged_prefect_yaml() == REPO / "prefect.yaml"


def test_version_is_kept_in_one_place_and_printed_by_hsnap_version() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in pyproject["project"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "hsnap.__version__"}

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    answer = subprocess.run(
        [sys.executable, "-m", "hsnap.cli", "--version"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip() == f"hsnap {hsnap.__version__}"
