"""Packaging hook: the wheel carries the checkout's ``prefect.yaml`` as package data.

``hsnap setup`` without ``--project-dir`` deploys from an installed package, where no checkout
exists; it reads the deployments from ``hsnap/deployment/prefect.yaml`` in the package. The file
is copied at build time, so the top-level ``prefect.yaml`` stays the only one anybody edits.
Everything else about the package is declared in ``pyproject.toml``.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildWithDeployments(build_py):
    """``build_py`` that also puts ``prefect.yaml`` into ``hsnap/deployment/``."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib, "hsnap", "deployment", "prefect.yaml")
        self.mkpath(str(target.parent))
        self.copy_file(str(HERE / "prefect.yaml"), str(target))


setup(cmdclass={"build_py": BuildWithDeployments})
