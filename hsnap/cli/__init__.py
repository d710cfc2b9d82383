"""``hsnap``: the command line. Parse, call, render; no logic of its own.

One module per group of commands; each registers its commands on the shared ``app``. Once all
are registered, :func:`reflow_help` makes every command's docstring read as sentences at any width.
"""

from __future__ import annotations

import inspect
import re

import typer

from hsnap.cli import (
    addresses,
    audit,
    deployment,
    health,
    projects,
    restore,
    retention,
    snapshot,
)
from hsnap.cli.common import app


def reflow(text: str) -> str:
    """A docstring with each paragraph on one line, so the help wraps it at the screen's width.

    Typer keeps a docstring's line breaks after its first paragraph: at 80 columns a sentence
    broke at every source line ("it is" / "never a command-line argument").
    """
    paragraphs = re.split(r"\n\s*\n", inspect.cleandoc(text))
    return "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())


def reflow_help(typer_app: typer.Typer) -> None:
    """Reflow the help of every command and group of ``typer_app``, and of their subcommands."""
    for command in typer_app.registered_commands:
        text = command.help or inspect.getdoc(command.callback) or ""
        command.help = reflow(text) if text else None
    for group in typer_app.registered_groups:
        if group.typer_instance is None:
            continue
        info = group.typer_instance.info
        if isinstance(info.help, str):
            info.help = reflow(info.help)
        reflow_help(group.typer_instance)


reflow_help(app)

__all__ = [
    "addresses",
    "app",
    "audit",
    "deployment",
    "health",
    "projects",
    "restore",
    "retention",
    "snapshot",
]
