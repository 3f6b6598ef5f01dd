"""A FastAPI app behind a function URL (issue 17), served two ways, in the local sandbox.

(a) ``warm_asgi``: the lifespan (an asyncpg pool) starts once, in INIT, with the hold; requests
    run on the warm loop with the pool as INIT left it;
(b) Mangum (0.22, ``lifespan="auto"``, its default): the lifespan starts and shuts down around
    every invocation, so each one connects and disconnects the pool;
(c) Mangum with ``lifespan="off"``: the adapter's own cost, on the trivial route only (the app
    has no pool then). "No slower than Mangum" on the trivial route is (a) against (c): against
    (b), (a) would win by the connection (b) opens even for a route that does not use it.

Two routes of the one app (``functions/bench_asgi_app.py``): ``GET /ping`` (no I/O) and
``GET /items/{id}`` (one primary-key query through the lifespan's pool); the server is a
``lambda_sandbox.LocalPostgres`` with the database table's ``items``, which the functions reach
as a role with a SCRAM-SHA-256 password, as RDS and Aurora PostgreSQL require (the server's own
``trust`` would make a connection cheaper than any a function gets on AWS; no TLS here). The
app's packages come from the web sample's hashed pins (``samples/web/requirements.txt``), Mangum
from the project's lock (the dev venv's copy: one pure-Python package).
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import shutil
import site
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bench_database import ROWS, SCHEMA, round_ratios
from bench_sandboxes import ROOT, LayerKind, Layers, cold_start, free_port, spec
from bench_stats import Series, Target, table
from bench_suite import Options

from lambda_sandbox import FunctionSpec, InvokeResult, LocalPostgres, Sandbox, dependencies_layer

RUNTIME = "python3.13"
REQUIREMENTS = ROOT / "samples" / "web" / "requirements.txt"
#: What the functions import from the web sample's pins (with their ``.dist-info``, ``.libs``).
PACKAGES = (
    "annotated_doc",
    "annotated_types",
    "anyio",
    "asyncpg",
    "fastapi",
    "idna",
    "opentelemetry",  # FastAPI's dependency (its distribution: opentelemetry_api)
    "opentelemetry_api",
    "pydantic",
    "pydantic_core",
    "starlette",
    "typing_extensions",
    "typing_inspection",
)
WARMUP_INVOCATIONS = 5
#: The targets of issue 17 (warm, per invocation, by the REPORT's Duration): the trivial route
#: no slower than Mangum's; the query route at least 5x faster than Mangum's.
PING_AT_MOST, QUERY_AT_LEAST = 1.0, 5.0


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    handler: str
    layer: LayerKind
    hold: bool
    routes: tuple[str, ...] = ("ping", "query")


VARIANTS = [
    Variant("a", "(a) warm_asgi: lifespan once, in INIT", "bench_asgi_warm.handler", "full", True),
    Variant("b", "(b) Mangum: lifespan per invocation", "bench_asgi_mangum.handler", "none", False),
    Variant(
        "c",
        "(c) Mangum, lifespan off (no pool)",
        "bench_asgi_mangum.no_lifespan",
        "none",
        False,
        routes=("ping",),
    ),
]
ROUTES = {"ping": "/ping", "query": "/items/{id}"}
#: The cold starts: the variants that can serve the query route (its first request).
COLD = [v for v in VARIANTS if "query" in v.routes]


def asgi(options: Options, layers: Layers, log: IO[str]) -> dict[str, Any]:
    """``options.runs`` on-demand cold starts per variant (the first request a query), then
    ``options.invocations`` warm rounds (each variant, each route), interleaved."""
    with tempfile.TemporaryDirectory(prefix="bench-asgi-") as tmp, _postgres(Path(tmp)) as db:
        packages = _packages_layer(Path(tmp) / "packages")
        db.sql(SCHEMA)
        environment = {"BENCH_DATABASE_URL": _password_login(db)}

        def make(variant: Variant) -> FunctionSpec:
            made = spec(variant.handler, layers, variant.layer, environment, hold=variant.hold)
            return dataclasses.replace(made, layers=[packages, *made.layers], runtime=RUNTIME)

        cold = _cold_starts(options.runs, make, log)
        warm = _warm_invocations(options.invocations, make, log)
    return {"cold": cold, "warm": warm}


def event(path: str) -> dict[str, Any]:
    """A function URL's event (payload 2.0) for ``GET path``."""
    host = "bench0000.lambda-url.us-east-1.on.aws"
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": host, "x-forwarded-proto": "https", "x-forwarded-port": "443"},
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "bench0000",
            "domainName": host,
            "http": {
                "method": "GET",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "198.51.100.7",
                "userAgent": "bench",
            },
            "requestId": "bench",
            "routeKey": "$default",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }


def _packages_layer(root: Path) -> Path:
    """The app's packages from the web sample's pins (only those it imports: the sandbox links a
    whole layer into each sandbox), and Mangum from the dev venv; copies, so each sandbox
    compiles its own ``.pyc`` as a cold start on Lambda does."""
    source = dependencies_layer(REQUIREMENTS, RUNTIME) / "python"
    python = root / "python"
    python.mkdir(parents=True)
    entries = [e for e in sorted(source.iterdir()) if _package(e) in PACKAGES]
    venv = Path(site.getsitepackages()[0])
    entries += [e for e in sorted(venv.iterdir()) if _package(e) == "mangum"]
    for entry in entries:
        if entry.is_dir():
            shutil.copytree(entry, python / entry.name, symlinks=True)
        else:
            shutil.copy2(entry, python / entry.name)
    missing = {*PACKAGES, "mangum"} - {_package(p) for p in python.iterdir()}
    if missing:
        raise RuntimeError(f"not in {source} or {venv}: {', '.join(sorted(missing))}")
    return root


def _package(entry: Path) -> str:
    return entry.name.removesuffix(".py").removesuffix(".libs").split("-")[0]


@contextmanager
def _postgres(scratch: Path) -> Iterator[LocalPostgres]:
    db = LocalPostgres(scratch / "pgdata", port=free_port())
    try:
        yield db.start()
    finally:
        db.stop()


def _password_login(db: LocalPostgres) -> str:
    """A role that logs in over TCP with a SCRAM-SHA-256 password (``pg_hba.conf``, reloaded),
    allowed to read ``items``; its URL."""
    password = secrets.token_hex(16)
    db.sql(
        "SET password_encryption = 'scram-sha-256';"
        f"CREATE ROLE bench LOGIN PASSWORD '{password}';"
        "GRANT SELECT ON items TO bench"
    )
    hba = db.data_dir / "pg_hba.conf"
    hba.write_text(f"host all bench 127.0.0.1/32 scram-sha-256\n{hba.read_text()}")
    db.sql("SELECT pg_reload_conf()")
    return f"postgresql://bench:{password}@127.0.0.1:{db.port}/postgres"


def _cold_starts(
    runs: int, make: Callable[[Variant], FunctionSpec], log: IO[str]
) -> dict[str, list[dict[str, float]]]:
    out: dict[str, list[dict[str, float]]] = {v.key: [] for v in COLD}
    for run in range(runs):
        for variant in COLD:
            item = run % ROWS + 1
            cs = cold_start(make(variant), log, event(f"/items/{item}"))
            _check(variant, cs.payload, item)
            out[variant.key].append({"init_ms": cs.init_ms, "first_ms": cs.first_ms})
    return out


def _warm_invocations(
    invocations: int, make: Callable[[Variant], FunctionSpec], log: IO[str]
) -> dict[str, dict[str, dict[str, list[float]]]]:
    """One sandbox per variant; each round invokes every variant on both routes, the variants'
    order rotated each round. Per variant and route: the REPORT's Duration, and event to
    response."""
    out: dict[str, dict[str, dict[str, list[float]]]] = {
        v.key: {r: {"duration_ms": [], "response_ms": []} for r in v.routes} for v in VARIANTS
    }
    with ExitStack() as stack:
        boxes: dict[str, Sandbox] = {}
        for variant in VARIANTS:
            sandbox = Sandbox(make(variant), log=log, shutdown_budget_s=1.0)
            boxes[variant.key] = stack.enter_context(sandbox)
            for n in range(1 + WARMUP_INVOCATIONS):  # the cold one, then warm-ups
                for route in variant.routes:
                    _invoke(sandbox, variant, route, n)
        for n in range(invocations):
            shift = n % len(VARIANTS)
            for variant in VARIANTS[shift:] + VARIANTS[:shift]:
                for route in variant.routes:
                    result = _invoke(boxes[variant.key], variant, route, n)
                    figures = out[variant.key][route]
                    figures["duration_ms"].append(result.duration_ms)
                    if result.response_ms is None:
                        raise RuntimeError("an invocation without a response time")
                    figures["response_ms"].append(result.response_ms)
    return out


def _invoke(sandbox: Sandbox, variant: Variant, route: str, n: int) -> InvokeResult:
    item = n % ROWS + 1
    result = sandbox.invoke(event(ROUTES[route].format(id=item)))
    if result.status != "success":
        raise RuntimeError(f"{variant.handler}: {result.status} {result.payload!r}")
    answer = result.json()
    if route == "ping":
        if answer.get("statusCode") != 200 or answer.get("body") != '{"ok":true}':
            raise RuntimeError(f"{variant.handler}: GET /ping answered {answer!r}")
    else:
        _check(variant, answer, item)
    return result


def _check(variant: Variant, answer: dict[str, Any], item: int) -> None:
    """The route read the row asked for (a wrong answer would be a broken benchmark)."""
    body = json.loads(answer.get("body") or "{}") if answer.get("statusCode") == 200 else {}
    if body.get("id") != item or body.get("price_cents") != item * 100:
        raise RuntimeError(f"{variant.handler}: asked for item {item}, got {answer!r}")


# -- The table ---------------------------------------------------------------------------------
def report(results: dict[str, Any], target: Callable[[Target], None]) -> str:
    """Table 7 (as benchmarks/README.md numbers it), from ``results["asgi"]``; the targets go
    to ``target``."""
    warm, cold = results["warm"], results["cold"]
    rows = []
    for route, path in ROUTES.items():
        base = warm["a"][route]
        for variant in (v for v in VARIANTS if route in v.routes):
            figures = warm[variant.key][route]
            rows.append(
                [
                    f"{path.format(id='n'):<12} {variant.label}",
                    Series(figures["duration_ms"]).text(3),
                    Series(figures["response_ms"]).text(3),
                    round_ratios(figures["duration_ms"], base["duration_ms"]).text(2),
                    round_ratios(figures["response_ms"], base["response_ms"]).text(2),
                ]
            )
    head = [
        "warm invocation (route, adapter)",
        "duration ms",
        "event -> response ms",
        "duration / (a)",
        "response / (a)",
    ]
    for other, which in (("b", "Mangum on the same app"), ("c", "Mangum, lifespan off")):
        ping = round_ratios(warm["a"]["ping"]["duration_ms"], warm[other]["ping"]["duration_ms"])
        target(
            Target(
                17,
                f"asgi, warm GET /ping: (a) warm_asgi / ({other}) {which}",
                "wall",
                ping,
                PING_AT_MOST,
                unit="x",
                digits=2,
                note="by duration, per round",
            )
        )
    b, a = warm["b"]["query"], warm["a"]["query"]
    response = round_ratios(b["response_ms"], a["response_ms"]).median
    target(
        Target(
            17,
            "asgi, warm GET /items/n (one query): (b) Mangum's lifespan / (a) warm_asgi",
            "wall",
            round_ratios(b["duration_ms"], a["duration_ms"]),
            QUERY_AT_LEAST,
            at_most=False,
            unit="x",
            digits=2,
            note=f"by duration, per round; {response:.2f} by event -> response",
        )
    )
    cold_rows = []
    for variant in COLD:
        runs = cold[variant.key]
        cold_rows.append(
            [
                variant.label,
                Series(r["init_ms"] for r in runs).text(),
                Series(r["first_ms"] for r in runs).text(1),
                Series(r["init_ms"] + r["first_ms"] for r in runs).text(),
            ]
        )
    count = len(warm["a"]["ping"]["duration_ms"])
    return "\n".join(
        [
            "7. A FastAPI app (function URL events): warm_asgi vs Mangum, asyncpg pool made in "
            "the lifespan",
            f"   warm: {count} rounds, each adapter on both routes, interleaved (order rotated "
            "each round); median (min-max);",
            "   duration: the REPORT's Duration; ratios: per round (the two invoked side by "
            f"side), median (min-max) of the {count}",
            "",
            table(head, rows),
            "",
            table(
                ["cold start (on-demand), 1st request a query", "INIT ms", "1st ms", "total ms"],
                cold_rows,
            ),
        ]
    )
