"""One database query per invocation (issue 15), three ways, in the local sandbox.

(a) lambda-warmup: an asyncpg pool from ``@warm_init``, an async ``@warm_handler``;
(b) ``asyncio.run`` per invocation: an asyncpg connection opened, queried and closed each time;
(c) sync psycopg 3: a connection opened at import, a plain ``def`` handler.

One PostgreSQL server (``lambda_sandbox.LocalPostgres``, 127.0.0.1 over TCP, as a function reaches
RDS) for the whole table, in a temporary directory on a free port, stopped at the end whatever
happens. The functions (``functions/bench_db_*.py``) run on python3.13 with the drivers installed
as Lambda teams ship them: the orders sample's hashed pins (``samples/orders/requirements.txt``)
as a layer (``lambda_sandbox.dependencies_layer``), of which the functions get the packages they
import; (a) has the lambda-warmup layer too, with the INIT hold (``WARMING_TIMEOUT``).
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bench_sandboxes import ROOT, LayerKind, Layers, cold_start, free_port, spec
from bench_stats import Series
from bench_suite import Options

from lambda_sandbox import FunctionSpec, InvokeResult, LocalPostgres, Sandbox, dependencies_layer

RUNTIME = "python3.13"
REQUIREMENTS = ROOT / "samples" / "orders" / "requirements.txt"
#: The table each invocation reads one row of, by primary key (ids 1..ROWS, taken in turn).
ROWS = 1000
SCHEMA = (
    "CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL, price_cents integer NOT NULL);"
    f"INSERT INTO items SELECT n, 'item ' || n, n * 100 FROM generate_series(1, {ROWS}) AS n;"
    "ANALYZE items"
)
#: What the functions import from the drivers' layer (with their ``.dist-info`` and ``.libs``).
DRIVERS = ("asyncpg", "psycopg", "psycopg_binary", "typing_extensions")
#: Warm invocations before the measured ones (after the cold one): caches, prepared statements.
WARMUP_INVOCATIONS = 5


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    handler: str
    layer: LayerKind
    hold: bool


_A = "(a) asyncpg pool from @warm_init, async @warm_handler"
_B = "(b) asyncio.run per invocation: connect, query, close"
_C = "(c) sync psycopg, connection opened at import"
VARIANTS = [
    Variant("a", _A, "bench_db_warmup.handler", "full", True),
    Variant("b", _B, "bench_db_arun.handler", "none", False),
    Variant("c", _C, "bench_db_sync.handler", "none", False),
]


def database(options: Options, layers: Layers, log: IO[str]) -> dict[str, Any]:
    """``options.runs`` on-demand cold starts per variant, then ``options.invocations`` warm
    ones each, all interleaved; the server's details, and per variant the raw figures (ms)."""
    with tempfile.TemporaryDirectory(prefix="bench-database-") as tmp, _postgres(Path(tmp)) as db:
        drivers = _drivers_layer(Path(tmp) / "drivers")
        db.sql(SCHEMA)
        environment = {"BENCH_DATABASE_URL": db.url}

        def make(variant: Variant) -> FunctionSpec:
            made = spec(variant.handler, layers, variant.layer, environment, hold=variant.hold)
            return dataclasses.replace(made, layers=[drivers, *made.layers], runtime=RUNTIME)

        cold = _cold_starts(options.runs, make, log)
        warm = _warm_invocations(options.invocations, make, log)
        server = {"version": db.sql("SHOW server_version")[0][0], "rows": ROWS}
    return {"server": server, "cold": cold, "warm": warm}


def _drivers_layer(root: Path) -> Path:
    """The drivers from ``dependencies_layer`` (the orders sample's pins, no ``.pyc``, as sam
    build leaves them), copied: only the packages the functions import, since the sandbox links
    a whole layer (aiobotocore and botocore too, ~2,700 files) into every sandbox and deletes it
    after, 1-3 s each here. Copies, not links to the shared cache: the runtime writes ``.pyc``
    beside the sources, which must land in each sandbox's own tree (every cold start compiles,
    as on Lambda's read-only file system)."""
    source = dependencies_layer(REQUIREMENTS, RUNTIME) / "python"
    python = root / "python"
    python.mkdir(parents=True)
    for entry in sorted(source.iterdir()):
        name = entry.name.removesuffix(".py").removesuffix(".libs").split("-")[0]
        if name not in DRIVERS:
            continue
        if entry.is_dir():
            shutil.copytree(entry, python / entry.name, symlinks=True)
        else:
            shutil.copy2(entry, python / entry.name)
    missing = set(DRIVERS) - {p.name.removesuffix(".py") for p in python.iterdir()}
    if missing:
        raise RuntimeError(f"not in {source}: {', '.join(sorted(missing))}")
    return root


@contextmanager
def _postgres(scratch: Path) -> Iterator[LocalPostgres]:
    """A new server (``initdb``, ~1 s) on a free port; stopped on the way out, error or not."""
    db = LocalPostgres(scratch / "pgdata", port=free_port())
    try:
        yield db.start()
    finally:
        db.stop()


def _cold_starts(
    runs: int, make: Callable[[Variant], FunctionSpec], log: IO[str]
) -> dict[str, list[dict[str, Any]]]:
    """INIT and the first invocation of each variant, run by run."""
    out: dict[str, list[dict[str, Any]]] = {v.key: [] for v in VARIANTS}
    for run in range(runs):
        for variant in VARIANTS:
            item = run % ROWS + 1
            cs = cold_start(make(variant), log, {"id": item})
            _check(variant, cs.payload, item)
            out[variant.key].append(
                {
                    "init_ms": cs.init_ms,
                    "first_ms": cs.first_ms,
                    "first_handler_ms": cs.payload["handler_ms"],
                    "runtime_rss_mb": cs.memory_mb.get("runtime", {}).get("rss"),
                }
            )
    return out


def _warm_invocations(
    invocations: int, make: Callable[[Variant], FunctionSpec], log: IO[str]
) -> dict[str, dict[str, list[float]]]:
    """One sandbox per variant, warm invocations taken in turn, the order rotated each round
    (so that none always follows (b)'s connection set-up and tear-down on the server)."""
    figures = ("duration_ms", "response_ms", "handler_ms")
    out: dict[str, dict[str, list[float]]] = {v.key: {n: [] for n in figures} for v in VARIANTS}
    with ExitStack() as stack:
        boxes: dict[str, Sandbox] = {}
        for variant in VARIANTS:
            sandbox = Sandbox(make(variant), log=log, shutdown_budget_s=1.0)
            boxes[variant.key] = stack.enter_context(sandbox)
            for n in range(1 + WARMUP_INVOCATIONS):  # the cold one, then warm-ups
                _invoke(sandbox, variant, n)
        for n in range(invocations):
            shift = n % len(VARIANTS)
            for variant in VARIANTS[shift:] + VARIANTS[:shift]:
                result = _invoke(boxes[variant.key], variant, n)
                row = out[variant.key]
                row["duration_ms"].append(result.duration_ms)
                row["response_ms"].append(_required(result.response_ms))
                payload = result.json()
                row["handler_ms"].append(payload["handler_ms"])
                if "release_ms" in payload:  # (a): the pool's release, within handler_ms
                    row.setdefault("release_ms", []).append(payload["release_ms"])
    return out


def _invoke(sandbox: Sandbox, variant: Variant, n: int) -> InvokeResult:
    item = n % ROWS + 1
    result = sandbox.invoke({"id": item})
    if result.status != "success":
        raise RuntimeError(f"{variant.handler}: {result.status} {result.payload!r}")
    _check(variant, result.json(), item)
    return result


def _check(variant: Variant, payload: Mapping[str, Any], item: int) -> None:
    """The function read the row asked for (a wrong row would be a broken benchmark)."""
    if payload.get("id") != item or payload.get("price_cents") != item * 100:
        raise RuntimeError(f"{variant.handler}: asked for item {item}, got {payload!r}")


def _required(value: float | None) -> float:
    if value is None:
        raise RuntimeError("an invocation without a response time")
    return value


# -- The table's figures ----------------------------------------------------------------------
def round_ratios(values: list[float], base: list[float]) -> Series:
    """Per round, ``values`` / ``base``: the two variants invoked side by side in that round, so
    that a burst of the hypervisor's steal, or a drift of the machine's speed, falls on both.

    (Until issue 18: the ratio of the two medians per block of 15 rounds, 10 blocks. The median
    of 10 has a 95% interval from the 2nd to the 9th, so two noisy blocks straddled a limit the
    150 rounds were clear of: ``/ping``'s 1.20 [0.94, 1.33] against 1.20 [1.13, 1.29] by round.)
    """
    if len(values) != len(base):
        raise ValueError(f"{len(values)} rounds against {len(base)}: not side by side")
    return Series(v / b for v, b in zip(values, base, strict=True))
