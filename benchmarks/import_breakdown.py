"""``python benchmarks/import_breakdown.py [--runs N] [--layer DIR]``: where the cold-start tax
goes (issue 18), by CPU time and wall time, in fresh processes, steps interleaved run by run.

Library: in the runtime's Python (``lambda_sandbox.runtime_venv``, awslambdaric imported first,
untimed) with the built layer's ``python/`` (its ``.pyc``), and ``AWS_LAMBDA_RUNTIME_API`` set
(so that the first ``@warm_init`` installs the SIGTERM handler and writes the INIT marker, into a
temporary ``TMPDIR``). Each step is timed after its ``setup`` (untimed) has imported what the
step must not count: "first init | asyncio" is everything a first ``@warm_init`` adds over
``import asyncio``, and the rows under it split that.

Extension: the layer's ``extension_entry`` run as its launcher runs it (``python3 -E -s -S``),
the child's CPU time from ``os.wait4``: Python's own start, then what each import adds.

    make bench BENCH_ARGS='--only growth'    # builds the layer into .aws-sam/bench/layer
    .venv/bin/python benchmarks/import_breakdown.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_sandboxes import ROOT
from bench_stats import Series, table

from lambda_sandbox import runtime_venv

PROBE = """
import awslambdaric.bootstrap, json, os, time
{setup}
cpu, wall = time.process_time(), time.perf_counter()
{step}
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(json.dumps([wall * 1000, cpu * 1000]), flush=True)
os._exit(0)  # skip the interpreter's exit: the warm loop's teardown is not what is timed
"""
FIRST_INIT = (
    "import lambda_warmup\n@lambda_warmup.warm_init\nasync def probe(): return 1\nprobe.result(5)"
)
#: What a first ``@warm_init`` imports beyond ``lambda_warmup`` itself.
INIT_IMPORTS = "import lambda_warmup._aio, lambda_warmup._lifecycle"
LOOP_THREAD = (
    "loop = asyncio.new_event_loop()\n"
    "threading.Thread(target=loop.run_forever, daemon=True).start()\n"
    "asyncio.run_coroutine_threadsafe(asyncio.sleep(0), loop).result()"
)
#: label -> (setup, untimed; step, timed)
LIBRARY = {
    "import lambda_warmup": ("", "import lambda_warmup"),
    "import asyncio": ("", "import asyncio"),
    "import lambda_warmup + first @warm_init | asyncio": ("import asyncio", FIRST_INIT),
    "  lambda_warmup | asyncio": ("import asyncio", "import lambda_warmup"),
    "  the loop's and the INIT marker's modules | asyncio, lambda_warmup": (
        "import asyncio, lambda_warmup",
        INIT_IMPORTS,
    ),
    "  first @warm_init | all its imports done": (
        f"import asyncio, lambda_warmup; {INIT_IMPORTS}",
        FIRST_INIT,
    ),
    "  for scale: a plain asyncio loop thread | asyncio": (
        "import asyncio, threading",
        LOOP_THREAD,
    ),
}
#: label -> ``python3 -E -s -S`` arguments, run from the layer's root as the launcher does.
EXTENSION = {
    "python3 -E -s -S -c pass (its start)": ["-c", "pass"],
    "  -c 'import os'": ["-c", "import os"],
    "  -c 'import runpy' (what -m loads)": ["-c", "import runpy"],
    "  -c 'import extension_entry.__main__'": ["-c", "import extension_entry.__main__"],
    "  -m extension_entry (to its settings: no API set)": ["-u", "-m", "extension_entry", "x"],
}


def library(python: Path, layer: Path, runs: int) -> dict[str, list[tuple[float, float]]]:
    out: dict[str, list[tuple[float, float]]] = {label: [] for label in LIBRARY}
    with tempfile.TemporaryDirectory(prefix="import-breakdown-") as tmp:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(layer / "python"),
            "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9",  # nothing listens: the first init needs none
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "TMPDIR": tmp,  # the INIT marker goes here
        }
        for _ in range(runs):
            for label, (setup, step) in LIBRARY.items():
                code = PROBE.format(setup=setup, step=step)
                output = subprocess.run(
                    [str(python), "-c", code],
                    cwd=tmp,  # not the checkout: ``-c`` puts the cwd first on sys.path
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=60,
                    check=True,
                ).stdout
                wall, cpu = json.loads(output.strip().splitlines()[-1])
                out[label].append((wall, cpu))
    return out


def extension(python: str, layer: Path, runs: int) -> dict[str, list[tuple[float, float]]]:
    out: dict[str, list[tuple[float, float]]] = {label: [] for label in EXTENSION}
    for _ in range(runs):
        for label, args in EXTENSION.items():
            started = time.perf_counter()
            child = subprocess.Popen(
                [python, "-E", "-s", "-S", *args],
                cwd=layer,
                env={},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            _, _, usage = os.wait4(child.pid, 0)
            child.returncode = 0  # reaped here; Popen must not wait for it again
            wall = (time.perf_counter() - started) * 1000
            out[label].append((wall, (usage.ru_utime + usage.ru_stime) * 1000))
    return out


def rows(results: dict[str, list[tuple[float, float]]]) -> list[list[str]]:
    return [
        [label, Series(c for _, c in samples).text(1), Series(w for w, _ in samples).text(1)]
        for label, samples in results.items()
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--layer", type=Path, default=ROOT / ".aws-sam" / "bench" / "layer")
    args = parser.parse_args(argv)
    layer = args.layer.resolve()
    if not (layer / "python" / "lambda_warmup").is_dir():
        print(f"no built layer in {layer}; `make bench` builds it", file=sys.stderr)
        return 2
    runtime = runtime_venv("3.13") / "bin" / "python"
    launcher_python = os.path.realpath(runtime)
    load = os.getloadavg()[0]
    lib = library(runtime, layer, args.runs)
    ext = extension(launcher_python, layer, args.runs)
    head = ["step (| already imported, untimed)", "CPU ms", "wall ms"]
    print(
        f"{args.runs} runs, medians (min-max); load average {load:.2f} -> {os.getloadavg()[0]:.2f}"
    )
    print(f"\nthe library, in {runtime} (awslambdaric imported first)\n")
    print(table(head, rows(lib)))
    print(f"\nthe extension, {launcher_python} -E -s -S from {layer}\n")
    print(table(head, rows(ext)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
