"""The code base stays lint-clean (ruff) and type-clean (mypy --strict), as pyproject sets up."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_ruff_finds_nothing() -> None:
    result = _run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_applied() -> None:
    result = _run("ruff", "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    result = _run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_product_never_imports_the_simulator() -> None:
    """A production install of hsnap runs without ``hcloud_sim``; only ``hsnap demo`` starts it."""
    allowed = {REPO / "hsnap" / "cli" / "snapshot.py"}  # the demo command runs the simulator
    offenders = [
        str(path.relative_to(REPO))
        for folder in ("hsnap", "flows", "hcloud_labels")
        for path in sorted((REPO / folder).rglob("*.py"))
        if path not in allowed
        and any(m == "hcloud_sim" or m.startswith("hcloud_sim.") for m in _imported_modules(path))
    ]
    assert offenders == []


def test_the_simulator_never_imports_hsnap() -> None:
    """The simulator is a product of its own: it must not need hsnap either."""
    offenders = [
        str(path.relative_to(REPO))
        for path in sorted((REPO / "hcloud_sim").rglob("*.py"))
        if any(m == "hsnap" or m.startswith("hsnap.") for m in _imported_modules(path))
    ]
    assert offenders == []
