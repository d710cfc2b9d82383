"""Where workers get hsnap's code: the installed package (the default) or a checkout.

``hsnap setup`` deploys the deployments of ``prefect.yaml``. How a worker finds the flow's code
is said by that file's ``pull`` steps and entrypoints:

- installed package (no ``--project-dir``): the deployments carry no pull step and entrypoints
  that are module paths (``hsnap.flows.snapshot_servers.snapshot_servers``), which Prefect
  imports from the worker's environment. Every worker needs only ``pip install hsnap``; setup
  runs from any directory. The deployments are those of the ``prefect.yaml`` the wheel carries
  (``setup.py`` copies the checkout's file into ``hsnap/deployment/``).
- checkout (``--project-dir DIR``): ``DIR/prefect.yaml`` is deployed as it stands, with its own
  pull steps (``set_working_directory`` to ``DIR`` as shipped, or a ``git_clone`` of your
  repository if you put one there) and its file entrypoints (``flows/hsnap_flows.py:...``).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

import hsnap
from hsnap.errors import ConfigError

#: the checkout's entrypoint file, which re-exports each flow of ``hsnap.flows.<name>``
CHECKOUT_ENTRYPOINT_FILE = "flows/hsnap_flows.py"


@dataclass(frozen=True)
class CodeSource:
    """The directory ``prefect deploy`` runs in, and what its prefect.yaml tells workers."""

    directory: Path
    installed: bool

    def describe(self) -> str:
        if self.installed:
            return f"code: installed hsnap {hsnap.__version__}"
        return f"code: checkout {self.directory}"


def packaged_prefect_yaml() -> Path:
    """The ``prefect.yaml`` that defines hsnap's deployments, wherever hsnap is imported from.

    A built wheel carries it in ``hsnap/deployment/``; an editable install or a checkout on
    ``PYTHONPATH`` has the top-level file beside the package.
    """
    shipped = resources.files("hsnap.deployment").joinpath("prefect.yaml")
    if shipped.is_file():
        return Path(str(shipped))
    beside = Path(hsnap.__file__).resolve().parent.parent / "prefect.yaml"
    if beside.is_file():
        return beside
    raise ConfigError(
        "this hsnap installation carries no prefect.yaml: reinstall hsnap, or deploy from a "
        "checkout with --project-dir"
    )


def module_entrypoint(entrypoint: str) -> str:
    """The module path of a checkout entrypoint: ``flows/hsnap_flows.py:snapshot_servers`` gives
    ``hsnap.flows.snapshot_servers.snapshot_servers``.

    Prefect treats an entrypoint without ``:`` as a module path: it imports it after the pull
    steps, from the worker's environment, and copies no directory.
    """
    path, sep, name = entrypoint.rpartition(":")
    if not sep or path != CHECKOUT_ENTRYPOINT_FILE or not name.isidentifier():
        raise ConfigError(
            f"entrypoint {entrypoint!r}: an installed hsnap runs only its own flows "
            f"({CHECKOUT_ENTRYPOINT_FILE}:<flow>); deploy other code with --project-dir"
        )
    return f"hsnap.flows.{name}.{name}"


def installed_config(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` (a parsed prefect.yaml) rewritten to run from the installed package."""
    deployments = [
        {**d, "entrypoint": module_entrypoint(str(d.get("entrypoint", "")))}
        for d in config.get("deployments") or []
    ]
    if not deployments:
        raise ConfigError("the packaged prefect.yaml declares no deployment")
    # an explicit empty list: no pull step at all (null would make Prefect invent one)
    return {**config, "pull": [], "deployments": deployments}


@contextlib.contextmanager
def code_source(project_dir: Path | None) -> Iterator[CodeSource]:
    """The place to deploy from: ``project_dir`` as it is, or a temporary installed-mode copy."""
    if project_dir is not None:
        directory = project_dir.resolve()
        if not (directory / "prefect.yaml").is_file():
            raise ConfigError(
                f"no prefect.yaml in {directory}: --project-dir names an hsnap checkout "
                "(leave it out to deploy the installed package)"
            )
        yield CodeSource(directory, installed=False)
        return
    try:
        config = yaml.safe_load(packaged_prefect_yaml().read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read hsnap's packaged prefect.yaml: {exc}") from exc
    if not isinstance(config, dict):
        raise ConfigError("hsnap's packaged prefect.yaml is not a mapping")
    rewritten = installed_config(config)
    with tempfile.TemporaryDirectory(prefix="hsnap-deploy-") as tmp:
        directory = Path(tmp)
        text = yaml.safe_dump(rewritten, sort_keys=False, allow_unicode=True)
        (directory / "prefect.yaml").write_text(text, encoding="utf-8")
        yield CodeSource(directory, installed=True)
