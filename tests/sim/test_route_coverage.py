"""The simulator's route table against Hetzner's OpenAPI document, both ways.

Every route the simulator answers is an operation of the document (no invented endpoint), and
what of the document it does not answer is listed in docs/simulator.md, in a block this test
generates: the list cannot go stale, since a route added or removed changes the block it expects.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest

from hcloud_sim.routes import ROUTES
from tests.openapi_check import REPO, spec_path

METHODS = ("get", "post", "put", "delete", "patch")
DOCS = REPO / "docs" / "simulator.md"
BEGIN = "<!-- not-simulated: generated, see tests/sim/test_route_coverage.py -->"
END = "<!-- not-simulated: end -->"


def _shape(template: str) -> str:
    """``/servers/{id}/actions/{action_id}`` -> ``/servers/{}/actions/{}`` (names differ)."""
    return re.sub(r"\{\w+\}", "{}", template)


@pytest.fixture(scope="module")
def document(openapi: Any) -> dict[str, Any]:
    """The document as JSON (``openapi`` checks that it exists, as every such test does)."""
    del openapi
    loaded: dict[str, Any] = json.loads(spec_path().read_text(encoding="utf-8"))
    return loaded


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], tuple[str, str]]:
    """(METHOD, shape) -> (the document's path, its first tag)."""
    return {
        (method.upper(), _shape(path)): (path, (op.get("tags") or ["untagged"])[0])
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method in METHODS and isinstance(op, dict)
    }


def _simulated() -> set[tuple[str, str]]:
    return {(r.method, _shape(r.template)) for r in ROUTES}


def unsimulated_block(document: dict[str, Any]) -> str:
    """The markdown docs/simulator.md must hold between BEGIN and END."""
    operations = _operations(document)
    totals = Counter(tag for _, tag in operations.values())
    missing: dict[str, list[str]] = {}
    for key in sorted(set(operations) - _simulated(), key=lambda k: operations[k]):
        path, tag = operations[key]
        missing.setdefault(tag, []).append(f"`{key[0]} {path}`")
    lines = [BEGIN]
    for tag in sorted(missing):
        ops = missing[tag]
        if len(ops) == totals[tag]:
            lines.append(f"- {tag}: none of its {totals[tag]} operations")
        else:
            lines.append(f"- {tag}: {len(ops)} of {totals[tag]} operations: {', '.join(ops)}")
    if not missing:
        lines.append("- every operation of the document is simulated")
    lines.append(END)
    return "\n".join(lines)


def test_every_route_is_an_operation_of_the_document(document: dict[str, Any]) -> None:
    invented = sorted(_simulated() - set(_operations(document)))
    assert invented == [], f"routes Hetzner's OpenAPI document does not have: {invented}"


def test_no_route_is_declared_twice() -> None:
    counts = Counter((r.method, _shape(r.template)) for r in ROUTES)
    assert [key for key, n in counts.items() if n > 1] == []


def test_the_docs_list_what_of_the_document_is_not_simulated(document: dict[str, Any]) -> None:
    expected = unsimulated_block(document)
    text = DOCS.read_text(encoding="utf-8")
    start, end = text.find(BEGIN), text.find(END)
    assert start != -1, (
        f"{DOCS} lacks the block; put this under 'What it does not model':\n{expected}"
    )
    assert end > start, f"{DOCS}: {BEGIN!r} without {END!r}"
    found = text[start : end + len(END)]
    assert found == expected, (
        f"{DOCS}: the list of what is not simulated is stale; replace it with:\n{expected}"
    )
