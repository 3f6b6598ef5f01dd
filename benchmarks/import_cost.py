"""What ``import lambda_warmup`` adds to a fresh interpreter: wall time and peak RSS.

Usage: ``.venv/bin/python benchmarks/import_cost.py [--runs N]``. Each sample is a fresh
process; the baseline (``pass``) and the import run alternately, so machine noise hits both.
Prints medians and the spread (min-max); "+RSS" is over the bare interpreter, or over the
runtime client alone for the "awslambdaric loaded" rows (what a function really pays).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

PROBE = """
import resource, time
{setup}
t0 = time.perf_counter()
{statement}
elapsed = time.perf_counter() - t0
print(__import__("json").dumps({{
    "ms": elapsed * 1000,
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}}))
"""

FIRST_INIT = (
    "import lambda_warmup\n@lambda_warmup.warm_init\nasync def probe(): return 1\nprobe.result(5)"
)
RUNTIME = "import awslambdaric.bootstrap"  # what the runtime has imported before the handler

#: name -> (setup, untimed; statement, timed)
CASES = {
    "bare interpreter": ("", "pass"),
    "import lambda_warmup": ("", "import lambda_warmup"),
    "import asyncio (for scale)": ("", "import asyncio"),
    "import lambda_warmup + first @warm_init": ("", FIRST_INIT),
    "awslambdaric loaded: (nothing more)": (RUNTIME, "pass"),
    "awslambdaric loaded: import lambda_warmup": (RUNTIME, "import lambda_warmup"),
    "awslambdaric loaded: + first @warm_init": (RUNTIME, FIRST_INIT),
}


def sample(setup: str, statement: str) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, "-c", PROBE.format(setup=setup, statement=statement)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    result: dict[str, float] = json.loads(output)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in CASES}
    for _ in range(runs):
        for name, (setup, statement) in CASES.items():
            samples[name].append(sample(setup, statement))
    base_rss = statistics.median(s["rss_mb"] for s in samples["bare interpreter"])
    runtime_rss = statistics.median(
        s["rss_mb"] for s in samples["awslambdaric loaded: (nothing more)"]
    )
    print(f"{runs} fresh processes each, Python {sys.version.split()[0]}")
    print(f"{'case':42} {'ms median':>10} {'ms min-max':>14} {'RSS MB':>8} {'+RSS MB':>8}")
    for name, values in samples.items():
        ms = [s["ms"] for s in values]
        rss = statistics.median(s["rss_mb"] for s in values)
        base = runtime_rss if name.startswith("awslambdaric") else base_rss
        spread = f"{min(ms):.1f}-{max(ms):.1f}"
        print(f"{name:42} {statistics.median(ms):10.1f} {spread:>14} {rss:8.1f} {rss - base:8.1f}")


if __name__ == "__main__":
    main()
