"""What every hsnap command shares: the app, consoles, option types, running and failing."""

from __future__ import annotations

import getpass
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.text import Text

from hsnap import __version__
from hsnap.checks import check_snapshot_parameters
from hsnap.console import LiveProgress, report_table
from hsnap.errors import CREDENTIAL_CODES, SAID_BY_HSNAP, ConfigError, HsnapError
from hsnap.settings import DEFAULT_TOKEN_SECRET, load_settings
from hsnap.snapshot import report as reporting
from hsnap.tables import wrap

T = TypeVar("T")

try:  # newer typer carries its own copy of click, whose error classes it raises
    from typer._click import exceptions as usage
except ImportError:  # pragma: no cover -- older typer raises click's own
    from click import exceptions as usage  # type: ignore[no-redef]

#: click >= 8.2 raises it for a bare ``hsnap``; older versions print the help themselves
_NO_ARGS: Any = getattr(usage, "NoArgsIsHelpError", ())

# The temporary Prefect server hsnap may start must not print telemetry errors when offline, and
# may take longer than Prefect's 20 s to start on a busy machine. Set before Prefect is imported
# (its settings are read then), and inherited by that server.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")


class _App(typer.Typer):
    """The typer app, answering like every hsnap command: one line, never a traceback.

    A usage error (an unknown option, ``--lock-wait-minutes abc``) gets one line and exit 2
    instead of click's boxed usage text; anything unforeseen gets one line and exit 1.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("standalone_mode", False)  # errors come back here to be said in a line
        try:
            code = super().__call__(*args, **kwargs)
        except _NO_ARGS as exc:
            typer.echo(exc.ctx.get_help() if exc.ctx else str(exc))
            code = 0
        except usage.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else "hsnap"
            _say(f"{exc.format_message()} (see {where} --help)")
            code = 2
        except typer.Abort:
            _say("aborted")
            code = 1
        except Exception as exc:  # noqa: BLE001 -- a bug still gets one line and exit 1
            _say(f"unexpected error: {type(exc).__name__}: {exc}")
            code = 1
        raise SystemExit(code if isinstance(code, int) else 0)


def _say(message: str) -> None:
    say(f"hsnap: {message}")


def error_width() -> int:
    """The width hsnap's messages wrap at: the screen's, or at most 80 when stderr is piped."""
    return err.width if err.is_terminal else min(err.width, 80)


def say(message: str, style: str = "red") -> None:
    """One message on stderr, taken literally (no markup), wrapped at spaces to the screen.

    Continuation lines are indented; a word is never split (one wider than the screen, such as a
    long URL, stays whole on its own line).
    """
    lines = [line for part in message.splitlines() or [""] for line in wrap(part, error_width())]
    err.print(Text("\n".join(lines), style=style), highlight=False, soft_wrap=True)


app = _App(
    help="Trustworthy snapshots of Hetzner Cloud servers, run and recorded by Prefect.",
    no_args_is_help=True,
    add_completion=False,
)
out = Console()
err = Console(stderr=True)


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"hsnap {__version__}")
        raise typer.Exit(0)


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print hsnap's version."
        ),
    ] = False,
) -> None:
    """Options of ``hsnap`` itself, before any command."""
    del version


LabelSelector = Annotated[
    str | None, typer.Option("--label-selector", "-l", help="Only servers matching it.")
]
ServerNames = Annotated[
    list[str] | None, typer.Option("--server", "-s", help="Only this server (repeatable).")
]
Excludes = Annotated[list[str] | None, typer.Option("--exclude", "-x", help="Never this server.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Show what would be done; change nothing.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's log lines too.")]
LockWait = Annotated[float, typer.Option(help="Minutes to wait for a locked server.")]
SnapshotWait = Annotated[float, typer.Option(help="Minutes to wait for a snapshot.")]
Concurrency = Annotated[int, typer.Option(help="Servers handled at the same time.")]
Template = Annotated[str, typer.Option(help="Snapshot description template.")]
Labels = Annotated[
    list[str] | None, typer.Option("--label", help="Extra snapshot label KEY=VALUE (repeatable).")
]
Project = Annotated[
    str | None,
    typer.Option(
        "--project", "-P", help="Hetzner project (a HetznerProject block; see hsnap project list)."
    ),
]
Reserve = Annotated[
    int | None,
    typer.Option(
        help="Requests of the project's budget left to its other clients "
        "(default: the project's, else a quarter; 0: none).",
    ),
]
TokenSecret = Annotated[
    str, typer.Option(help="Prefect Secret block holding the token when HCLOUD_TOKEN is unset.")
]


def read_token(from_stdin: bool) -> str:
    """The Hetzner token from --token-stdin, HCLOUD_TOKEN or a hidden prompt; never echoed."""
    if from_stdin:
        token = sys.stdin.readline().strip()
    elif os.environ.get("HCLOUD_TOKEN"):
        token = os.environ["HCLOUD_TOKEN"].strip()
    elif sys.stdin.isatty():
        token = getpass.getpass("Hetzner Cloud API token (Read & Write; not echoed): ").strip()
    else:
        raise ConfigError("no token: set HCLOUD_TOKEN or pass --token-stdin")
    if not token:
        raise ConfigError("the Hetzner API token is empty")
    return token


def parse_labels(pairs: list[str] | None) -> dict[str, str]:
    labels: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--label {pair!r}: use KEY=VALUE")
        labels[key] = value
    return labels


#: how Prefect's engine begins the lines that repeat what hsnap reports
_ENGINE_VERDICTS = ("Finished in state", "Task run failed with exception")


class _Screen(logging.Filter):
    """Which of Prefect's console lines reach the screen beside hsnap's own table and messages.

    Quiet (the default): warnings and errors, but not the engine's lines about a run or task
    that ended or failed (hsnap's report and its own last line say that) nor an error the flow
    logged for hsnap to say once itself (``extra={SAID_BY_HSNAP: True}``).
    """

    def __init__(self, quiet: bool) -> None:
        super().__init__()
        self.quiet = quiet

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.quiet:
            return True
        said = getattr(record, SAID_BY_HSNAP, False)
        return not said and not record.getMessage().startswith(_ENGINE_VERDICTS)


class _NoTraceback(logging.Formatter):
    """A console formatter that leaves tracebacks out (they still reach Prefect's API logs).

    ``width``: quiet, a line is said as hsnap says its own (``hsnap: warning: ...``), wrapped at
    spaces to the screen's width, instead of Prefect's wide ``time | LEVEL | run - message``.
    """

    def __init__(self, inner: logging.Formatter | None, width: int | None = None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()
        self.width = width

    def format(self, record: logging.LogRecord) -> str:
        # the record is shared with the API handler: restore what is taken away for the screen
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        try:
            if self.width is None:
                return self.inner.format(record)
            text = f"hsnap: {record.levelname.lower()}: {record.getMessage()}"
            return "\n".join(wrap(text, self.width))
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved


class _PrefectOwnInfo(logging.Filter):
    """Prefect's own info lines (``Starting/Stopping temporary server on ...``) unless verbose.

    Prefect logs them on its top logger ``prefect``; a filter on a logger sees only the records
    logged on it, not those of its children (flow and task run logs), and dictConfig keeps it. The
    temporary server stops at interpreter exit, after any context manager: so this filter stays.
    """

    quiet = True

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.quiet or record.levelno >= logging.WARNING


_PREFECT_OWN_INFO = _PrefectOwnInfo()
logging.getLogger("prefect").addFilter(_PREFECT_OWN_INFO)


def show_prefect_info(verbose: bool) -> None:
    """Whether Prefect's own lines are shown: its temporary server's start and stop, and what
    that server logs itself (e.g. ``Error flushing 1 events (1 to retry)`` when SQLite is busy).

    The server is a child process that reads its log level from the environment when it starts
    (after this, on the first use of Prefect's API), so quiet sets it there unless already set.
    """
    _PREFECT_OWN_INFO.quiet = not verbose
    if not verbose:
        os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")


@contextmanager
def quiet_prefect_console(verbose: bool) -> Iterator[None]:
    """Prefect's console lines without tracebacks and, unless verbose, only what hsnap won't say.

    They still reach Prefect's API (and its UI) in full.
    """
    from prefect.logging.handlers import PrefectConsoleHandler  # noqa: PLC0415 -- after setup

    show_prefect_info(verbose)
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, PrefectConsoleHandler)]
    # the console's own setting (None: whatever sys.stderr is when it writes), to restore exactly
    saved = [(h.level, h.formatter, getattr(h.console, "_file", None)) for h in handlers]
    screen = _Screen(quiet=not verbose)
    for handler in handlers:
        if not verbose:
            handler.setLevel(logging.WARNING)
        handler.setFormatter(_NoTraceback(handler.formatter, None if verbose else err.width))
        handler.addFilter(screen)
        # where hsnap's own messages go now: the handler kept the stderr of when it was made
        handler.console.file = sys.stderr
    try:
        yield
    finally:
        for handler, (level, formatter, file) in zip(handlers, saved, strict=True):
            handler.setLevel(level)
            handler.setFormatter(formatter)
            handler.removeFilter(screen)
            handler.console._file = file  # the property cannot set None back


def check_locally(parameters: dict[str, Any]) -> None:
    """Check input, token and environment before Prefect starts: exit 2 at once if bad."""
    try:
        check_snapshot_parameters(parameters)
        load_settings(
            parameters.get("token_secret", DEFAULT_TOKEN_SECRET),
            parameters.get("project"),
            may_start_prefect=False,
        )
    except ConfigError as exc:
        fail(exc)


def execute(parameters: dict[str, Any], *, as_json: bool, verbose: bool) -> None:
    """Check the input, run the snapshot flow locally, render its report, exit 0 / 1 / 2."""
    check_locally(parameters)
    from prefect.exceptions import ParameterTypeError  # noqa: PLC0415 -- Prefect loads slowly

    from hsnap.flows.snapshot_servers import run_locally  # noqa: PLC0415

    try:
        with quiet_prefect_console(verbose), LiveProgress(err, enabled=err.is_terminal):
            result = run_locally(**parameters)
    except (ValidationError, ParameterTypeError) as exc:
        fail(exc)
    except HsnapError as exc:  # the run stopped before it could report on any server
        fail(exc, code=exit_code(exc))
    except Exception as exc:  # noqa: BLE001 -- e.g. Prefect's API failing under load: one line
        fail(RuntimeError(f"the run stopped unexpectedly: {type(exc).__name__}: {exc}"), code=1)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        out.print(report_table(result))
        if result.budget:
            out.print(f"request budget: {result.budget}", highlight=False)
    raise typer.Exit(reporting.exit_code(result))


def run_flow(
    run_locally: Callable[..., T],
    *,
    verbose: bool,
    code_of: Callable[[HsnapError], int] | None = None,
    **parameters: Any,
) -> T:
    """Run a flow in this process with Prefect's console quiet, and hand back what it reported.

    A parameter the flow rejects is one line and exit 2; an hsnap error that stopped the run is one
    line and ``code_of(error)`` (default: 2 for bad input or credentials, else 1).
    """
    from prefect.exceptions import ParameterTypeError  # noqa: PLC0415 -- Prefect loads slowly

    try:
        with quiet_prefect_console(verbose):
            return run_locally(**parameters)
    except (ValidationError, ParameterTypeError) as exc:
        fail(exc)
    except HsnapError as exc:
        fail(exc, code=(code_of or exit_code)(exc))


def exit_code(exc: HsnapError) -> int:
    """2 for bad input or credentials, 1 for anything else that stopped a run."""
    return 2 if isinstance(exc, ConfigError) or exc.code in CREDENTIAL_CODES else 1


def fail(exc: BaseException, code: int = 2) -> NoReturn:
    """Say what went wrong and what to do; exit 2 (bad input or credentials) or ``code``."""
    say(f"hsnap: {exc}")
    raise typer.Exit(code)


def start_prefect() -> None:
    """Bring up Prefect's API (a temporary local server when none is configured)."""
    from prefect.client.orchestration import get_client  # noqa: PLC0415 -- Prefect loads slowly

    with get_client(sync_client=True) as client:
        client.hello()
