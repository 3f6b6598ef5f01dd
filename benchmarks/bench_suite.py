"""The four measurements of issue 7, each run side by side, interleaved run by run."""

from __future__ import annotations

import json
import os
import subprocess
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bench_sandboxes import (
    ColdStart,
    LayerKind,
    Layers,
    cold_start,
    cpu_ms,
    spec,
    warm_invocations,
)
from bench_stats import Series

from lambda_sandbox import Sandbox, runtime_venv

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Options:
    runs: int
    """Cold starts per design (each section interleaves its variants run by run)."""
    tax_runs: int
    """Cold starts per variant of the tax table."""
    invocations: int
    """Warm invocations per handler variant."""
    import_runs: int
    environment: dict[str, str]
    """What the functions need: ``BENCH_SERVER`` and the workload's knobs."""


# -- 1. Designs ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Design:
    key: str
    label: str
    handler: str
    layer: LayerKind
    hold: bool


DESIGNS = [
    Design("a", "(a) sync at import, in sequence", "bench_design_sync.handler", "none", False),
    Design("b", "(b) asyncio.run(gather) at import", "bench_design_gather.handler", "none", False),
    Design("c", "(c) lambda-warmup + extension hold", "bench_design_warmup.handler", "full", True),
    Design("d", "(d) lambda-warmup, no extension", "bench_design_warmup.handler", "library", False),
]
FLOOR = Design(
    "floor", "runtime start + import asyncio", "bench_asyncio_floor.handler", "none", False
)
"""Cold-started in every run of the designs, after (d): issue 18's floor, paired with (c)."""


def designs(options: Options, layers: Layers, log: IO[str]) -> dict[str, list[dict[str, Any]]]:
    """Per design (and ``floor``), one dict per cold start (ms)."""
    out: dict[str, list[dict[str, Any]]] = {d.key: [] for d in [*DESIGNS, FLOOR]}
    for _ in range(options.runs):
        for design in DESIGNS:
            cs = cold_start(
                spec(design.handler, layers, design.layer, options.environment, hold=design.hold),
                log,
            )
            row: dict[str, Any] = {
                "init_ms": cs.init_ms,
                "first_ms": cs.first_ms,
                "import_ms": cs.payload["import_s"] * 1000,
                "runtime_started_ms": cs.init.runtime_started_ms,
                "runtime_next_ms": cs.init.runtime_next_ms,
                "init_cpu_ms": cs.init_cpu_ms,
            }
            if design.key == "a":
                steps = {k: v * 1000 for k, v in cs.payload["steps_s"].items()}
                row["steps_ms"] = steps
                row["critical_path_ms"] = max(steps["config"] + steps["api"], steps["catalog"])
            if design.key in ("c", "d"):
                row["inits_started_ms"] = cs.from_init_start(cs.payload["started_at"])
                row["inits_settled_ms"] = cs.from_init_start(cs.payload["settled_at"])
                row["report_received_ms"] = cs.report_received_ms
                row["init_end_ms"] = cs.init_end_ms
            out[design.key].append(row)
        floor = cold_start(spec(FLOOR.handler, layers, FLOOR.layer, options.environment), log)
        out[FLOOR.key].append({"init_ms": floor.init_ms, "init_cpu_ms": floor.init_cpu_ms})
    return out


# -- 2. The layer's cold-start tax ------------------------------------------------------------
TAX: list[tuple[str, str, str, LayerKind, bool]] = [
    ("bare", "bare function, no layer", "bench_bare.handler", "none", False),
    ("layer", "+ layer (extension, no hold)", "bench_bare.handler", "full", False),
    ("library", "+ layer + @warm_handler, no inits", "bench_tax.handler", "full", False),
    ("one_init", "+ layer + 1 init, hold", "bench_growth.handler", "full", True),
]


def tax(options: Options, layers: Layers, log: IO[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {key: [] for key, *_ in TAX}
    env = {**options.environment, "BENCH_INITS": "1"}
    for _ in range(options.tax_runs):
        for key, _label, handler, layer, hold in TAX:
            cs = cold_start(spec(handler, layers, layer, env, hold=hold), log)
            out[key].append(
                {
                    "init_ms": cs.init_ms,
                    "registered_ms": cs.init.extensions_registered_ms.get("lambda-warmup"),
                    "extension_registered_ms": cs.extension_registered_ms,
                    "runtime_started_ms": cs.init.runtime_started_ms,
                    "memory_mb": cs.memory_mb,
                    "init_cpu_ms": cs.init_cpu_ms,
                }
            )
    return out


# -- 3. Per-invocation cost -------------------------------------------------------------------
INVOKE: list[tuple[str, str, str, LayerKind]] = [
    ("bare", "bare def (no layer)", "bench_bare.handler", "none"),
    ("warm_sync", "@warm_handler def", "bench_invoke.warm_sync_empty", "full"),
    ("warm_async", "@warm_handler async def", "bench_invoke.warm_async_empty", "full"),
    ("arun", "def + asyncio.run per invocation", "bench_invoke.arun_empty", "full"),
    ("sync_http", "HTTP: def, httpx.Client made at import", "bench_invoke.bare_sync_http", "full"),
    ("arun_http", "HTTP: asyncio.run, new AsyncClient each", "bench_invoke.arun_http", "full"),
    (
        "warm_http",
        "HTTP: async @warm_handler, @warm_init client",
        "bench_invoke.warm_async_http",
        "full",
    ),
]
WARMUP_INVOCATIONS = 3


def invoke(options: Options, layers: Layers, log: IO[str]) -> dict[str, dict[str, list[float]]]:
    """Per variant, warm invocations taken in turn across all variants (each in its own
    sandbox): ``response_ms``, from the event handed to the runtime to its response, and
    ``cpu_ms``, the CPU time the sandbox's processes used for the invocation (their CPU clocks,
    read while the sandbox is stopped before and after it)."""
    response: dict[str, list[float]] = {key: [] for key, *_ in INVOKE}
    cpu: dict[str, list[float]] = {key: [] for key, *_ in INVOKE}
    with ExitStack() as stack:
        boxes: dict[str, Sandbox] = {}
        for key, _label, handler, layer in INVOKE:
            hold = layer == "full"
            sandbox = Sandbox(
                spec(handler, layers, layer, options.environment, hold=hold),
                log=log,
                shutdown_budget_s=1.0,
            )
            boxes[key] = stack.enter_context(sandbox)
            warm_invocations(sandbox, 1 + WARMUP_INVOCATIONS)  # the cold one, then warm-ups
        for _ in range(options.invocations):
            for key, sandbox in boxes.items():
                before = sum(cpu_ms(sandbox).values())
                response[key] += warm_invocations(sandbox, 1)
                cpu[key].append(sum(cpu_ms(sandbox).values()) - before)
    return {"response_ms": response, "cpu_ms": cpu}


def per_call(options: Options, layers: Layers) -> dict[str, Any]:
    """In-process (no runtime, no sandbox): ns per call of each empty-handler wrapping, hot and
    after an idle gap, by wall clock and CPU time (``bench_percall.py``), in the runtime's Python
    with the layer's ``python/`` (the library as the functions run it)."""
    python = runtime_venv("3.13") / "bin" / "python"
    output = subprocess.run(
        [str(python), str(HERE / "bench_percall.py"), str(max(200, options.invocations * 20))],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
        env=_layer_env(layers),
    ).stdout
    result: dict[str, Any] = json.loads(output)
    return result


# -- 4. Growth with the number of inits ------------------------------------------------------
GROWTH = [1, 10, 100, 1000]  # 1000: over the 64 KiB report limit, which cuts the list


def growth(options: Options, layers: Layers, log: IO[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {"0": [], **{str(n): [] for n in GROWTH}}
    for _ in range(options.runs):
        base = cold_start(spec("bench_tax.handler", layers, "full", options.environment), log)
        out["0"].append({"init_ms": base.init_ms, "init_cpu_ms": base.init_cpu_ms})
        for count in GROWTH:
            env = {**options.environment, "BENCH_INITS": str(count)}
            cs = cold_start(spec("bench_growth.handler", layers, "full", env, hold=True), log)
            out[str(count)].append(_growth_row(cs))
    return out


def _growth_row(cs: ColdStart) -> dict[str, Any]:
    settled = cs.from_init_start(cs.payload["settled_at"])
    return {
        "init_ms": cs.init_ms,
        "init_cpu_ms": cs.init_cpu_ms,
        "report_bytes": cs.payload["report_bytes"],
        "sent_bytes": cs.payload["sent_bytes"],
        "runtime_next_ms": cs.init.runtime_next_ms,
        "inits_settled_ms": settled,
        "report_received_ms": cs.report_received_ms,
        "init_end_ms": cs.init_end_ms,
    }


# -- 2b. What `import lambda_warmup` costs, in the runtime's own Python ------------------------
PROBE = """
import resource, time
{setup}
c0 = time.process_time()
t0 = time.perf_counter()
{statement}
elapsed = time.perf_counter() - t0
cpu = time.process_time() - c0
pages = int(open("/proc/self/statm").read().split()[1])
print(__import__("json").dumps({{
    "ms": elapsed * 1000,
    "cpu_ms": cpu * 1000,
    "rss_mb": pages * resource.getpagesize() / 2**20,
}}))
"""
FIRST_INIT = (
    "import lambda_warmup\n@lambda_warmup.warm_init\nasync def probe(): return 1\nprobe.result(5)"
)
RUNTIME = "import awslambdaric.bootstrap"  # what the runtime has imported before the handler
ASYNCIO_IMPORT = "+ import asyncio (for scale)"
#: name -> (setup, untimed; statement, timed). "+RSS" is over the first row of its group.
IMPORTS = {
    "awslambdaric loaded (baseline)": (RUNTIME, "pass"),
    "+ import lambda_warmup": (RUNTIME, "import lambda_warmup"),
    "+ import and a first @warm_init": (RUNTIME, FIRST_INIT),
    ASYNCIO_IMPORT: (RUNTIME, "import asyncio"),
}


def imports(options: Options, layers: Layers) -> dict[str, list[dict[str, float]]]:
    """Fresh processes of the runtime's Python, with the layer's ``python/`` (its ``.pyc``)."""
    python = runtime_venv("3.13") / "bin" / "python"
    env = _layer_env(layers)
    out: dict[str, list[dict[str, float]]] = {name: [] for name in IMPORTS}
    for _ in range(options.import_runs):
        for name, (setup, statement) in IMPORTS.items():
            output = subprocess.run(
                [str(python), "-c", PROBE.format(setup=setup, statement=statement)],
                check=True,
                capture_output=True,
                text=True,
                timeout=60,
                env=env,
            ).stdout
            out[name].append(json.loads(output))
    return out


def _layer_env(layers: Layers) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(layers.full / "python"),
    }


def series(rows: list[dict[str, Any]], key: str) -> Series:
    return Series(row[key] for row in rows)


def init_cpu(row: dict[str, Any]) -> float:
    """CPU ms of INIT: every process of the sandbox (runtime and extension) by INIT's end."""
    return float(sum(row["init_cpu_ms"].values()))
