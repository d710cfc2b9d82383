"""Errors named by what the caller can do about them.

- ``ConfigError``: bad input or credentials found before anything was changed (CLI exit 2).
- ``TransientError``: worth retrying as is (5xx, conflict, 429 past the wait, timeouts, connection).
- ``PermanentError``: retrying will not help; the message says what a person should do.
- ``LockedError``: the server stayed locked past hsnap's deadline.
- ``GoneError``: the server (or image) no longer exists.

Every error carries a stable ``code`` (the API's error code where there is one) for reports.
"""

from __future__ import annotations

#: a log record's ``extra`` key: the CLI says this error itself, so it keeps it off the screen once
SAID_BY_HSNAP = "hsnap_said"
#: API error codes that mean the credentials, not the servers or images, are the problem
CREDENTIAL_CODES = frozenset({"unauthorized", "token_readonly", "forbidden"})


class HsnapError(Exception):
    """Base of hsnap's errors: ``code`` for machines, the message for people."""

    code: str = "error"
    transient: bool = False

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    def __reduce__(self) -> tuple[type[HsnapError], tuple[str], dict[str, str]]:
        # keep ``code`` when Prefect pickles the exception into a task's Failed state
        return (type(self), (str(self),), {"code": self.code})


class ConfigError(HsnapError):
    code = "config"


class TransientError(HsnapError):
    code = "transient"
    transient = True


class PermanentError(HsnapError):
    code = "permanent"


class LockedError(PermanentError):
    code = "lock_timeout"


class GoneError(PermanentError):
    code = "gone"
