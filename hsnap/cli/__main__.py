"""``python -m hsnap.cli``: the same as the ``hsnap`` command."""

from __future__ import annotations

from hsnap.cli import app

app()
