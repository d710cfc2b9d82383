"""A real PostgreSQL server (Debian's ``postgresql`` package) in a temporary directory.

``initdb`` and ``postgres`` refuse to run as root: as root, they run as the unprivileged
``postgres`` user (created by the package; the directory is handed to it). The server listens on
127.0.0.1 on a free port, trusts local connections (loopback only, thrown away after the tests)
and runs without fsync: durability is not what these tests are about.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import free_port, stop, wait_until

DB_USER = "prefect"
DB_NAME = "prefect"
OS_USER = "postgres"


def _bin_dir() -> Path | None:
    """The newest installed PostgreSQL's binaries (Debian keeps them out of PATH)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=_version)
    return found[-1].parent if found else None


def _version(initdb: Path) -> int:
    version = initdb.parts[-3]
    return int(version) if version.isdigit() else 0


def _as_db_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", OS_USER, "--", *argv]


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Start PostgreSQL; yield an asyncpg URL for Prefect; stop it and delete its data after."""
    bindir = _bin_dir()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed (apt-get install -y postgresql)")
        pytest.skip("PostgreSQL is not installed (apt-get install -y postgresql)")
    root = Path(tempfile.mkdtemp(prefix="hsnap-pg-"))
    data = root / "data"
    process: subprocess.Popen[Any] | None = None
    try:
        if os.geteuid() == 0:
            account = pwd.getpwnam(OS_USER)
            os.chown(root, account.pw_uid, account.pw_gid)
        _run([str(bindir / "initdb"), "-D", str(data), "-U", DB_USER, "--auth=trust", "-E", "UTF8"])
        port = free_port()
        with (root / "postgres.log").open("w") as log:
            process = subprocess.Popen(
                _as_db_user(
                    [
                        str(bindir / "postgres"),
                        *("-D", str(data), "-p", str(port), "-k", str(root)),
                        *("-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"),
                        *("-c", "max_connections=200", "-c", "full_page_writes=off"),
                    ]
                ),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(lambda: _accepts(bindir, port), "PostgreSQL to accept connections", 60)
        _run([str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", DB_USER, DB_NAME])
        yield f"postgresql+asyncpg://{DB_USER}@127.0.0.1:{port}/{DB_NAME}"
    finally:
        if process is not None:
            stop(process)
        shutil.rmtree(root, ignore_errors=True)


def _accepts(bindir: Path, port: int) -> bool:
    ready = subprocess.run(
        [str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
        capture_output=True,
        check=False,
    )
    return ready.returncode == 0


def _run(argv: list[str]) -> None:
    done = subprocess.run(_as_db_user(argv), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(argv[:1])} failed: {done.stdout}{done.stderr}")
