"""``python benchmarks/import_time.py``: ``import lambda_warmup`` per runtime, from the layer zips.

Run ``make dist`` first. Each ``lambda-warmup-layer-*-pythonX.Y.zip`` in ``--dist`` is extracted
(as Lambda extracts it into /opt), then fresh ``pythonX.Y -X importtime -c "import lambda_warmup"``
processes run with ``PYTHONPATH=<layer>/python``, interleaved run by run: each runtime from the
layer's ``.pyc`` (what Lambda runs) and from the same sources without them (what a layer without
``.pyc`` costs on Lambda's read-only /opt, where none is ever written). The figure is
lambda_warmup's cumulative import time (the standard library's modules it needs included),
and the share of it spent in the layer's own modules, median (min-max), in ms.
Each Python comes from ``scripts/find-python``; ``python -v`` checks once that the ``.pyc`` are
the ones loaded, and the sources not.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from bench_stats import Series, table

ROOT = Path(__file__).resolve().parent.parent
LAYER_ZIP = re.compile(r"lambda-warmup-layer-.+-python(3\.[0-9]+)\.zip")
VARIANTS = ("pyc", "source")
STATEMENT = "import lambda_warmup"


def python_for(version: str) -> str:
    find = [str(ROOT / "scripts" / "find-python"), version]
    return subprocess.run(find, capture_output=True, text=True, check=True).stdout.strip()


def release(python: str) -> str:
    """``3.13.0``: the patch release measured."""
    version = [python, "-c", "import platform; print(platform.python_version())"]
    return subprocess.run(version, capture_output=True, text=True, check=True).stdout.strip()


def prepare(archive: Path, scratch: Path) -> dict[str, Path]:
    """``{variant: python/ directory}``: the layer as extracted, and its sources alone."""
    layer = scratch / archive.stem
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(layer)
    source = scratch / f"{archive.stem}-source"
    shutil.copytree(layer / "python", source, ignore=shutil.ignore_patterns("__pycache__"))
    return {"pyc": layer / "python", "source": source}


# Every process runs with -S: no site, as this machine's site-packages and .pth files are not
# Lambda's (pyenv's here import certifi at start-up, from the layer, with importlib.resources,
# before the import measured); and -P: not the working directory on sys.path (a checkout's
# lambda_warmup/ would be imported instead of the layer's).
def environment(python_path: Path) -> dict[str, str]:
    # Nothing of the caller's Python settings; never write a .pyc (as on Lambda's /opt).
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(python_path),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def import_ms(python: str, python_path: Path) -> tuple[float, float]:
    """``(lambda_warmup's cumulative import, the layer's modules' own share)`` in ms, in one fresh
    process, from ``-X importtime``. The share sums the self times of the modules that come
    from the layer (lambda_warmup, anyio, httpx...): the rest is the standard library's."""
    proc = subprocess.run(
        [python, "-S", "-P", "-X", "importtime", "-c", STATEMENT],
        env=environment(python_path),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    layer = {p.name.removesuffix(".py") for p in python_path.iterdir()}
    total, own = None, 0
    for line in proc.stderr.splitlines():
        fields = [f.strip() for f in line.removeprefix("import time:").split("|")]
        if len(fields) != 3 or not fields[0].isdigit():
            continue  # the header
        if fields[2].split(".")[0] in layer:
            own += int(fields[0])
        if fields[2] == "lambda_warmup":
            total = int(fields[1])
    if total is None:
        raise RuntimeError(f"no lambda_warmup line in -X importtime's output:\n{proc.stderr}")
    return total / 1000, own / 1000


def check_loaded_from(python: str, python_path: Path, *, pyc: bool) -> None:
    """``python -v`` says "<pyc> matches <py>" for each module loaded from its ``.pyc``."""
    proc = subprocess.run(
        [python, "-S", "-P", "-v", "-c", STATEMENT],
        env=environment(python_path),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    package = re.escape(str(python_path / "lambda_warmup"))
    matches = re.findall(rf"{package}/__pycache__/\S+\.pyc matches", proc.stderr)
    if bool(matches) != pyc:
        raise RuntimeError(f"{python_path}: {len(matches)} modules loaded from .pyc")


Runs = list[tuple[float, float]]
HEAD = ["runtime", ".pyc: all", ".pyc: layer's", "sources: all", "sources: layer's", "layer's x"]


def measure(
    pythons: dict[str, str], zips: dict[str, Path], runs: int
) -> dict[str, dict[str, Runs]]:
    """``{version: {variant: [(all, layer's)...]}}``, the variants interleaved run by run."""
    ms: dict[str, dict[str, Runs]] = {v: {variant: [] for variant in VARIANTS} for v in zips}
    with tempfile.TemporaryDirectory(prefix="import-time-") as scratch:
        paths = {version: prepare(archive, Path(scratch)) for version, archive in zips.items()}
        for version, python in pythons.items():
            for variant in VARIANTS:
                check_loaded_from(python, paths[version][variant], pyc=variant == "pyc")
        for _ in range(runs):
            for version, python in pythons.items():
                for variant in VARIANTS:
                    ms[version][variant].append(import_ms(python, paths[version][variant]))
    return ms


def row(runtime: str, pyc: Runs, source: Runs) -> list[str]:
    """all: lambda_warmup's cumulative time; layer's: its modules' own; x: sources / .pyc."""
    figures = [Series(f[i] for f in runs) for runs in (pyc, source) for i in (0, 1)]
    ratio = figures[3].median / figures[1].median
    return [runtime, *(f.text(1) for f in figures), f"{ratio:.1f}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/import_time.py", description=__doc__)
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="make dist's output")
    parser.add_argument("--runs", type=int, default=20, help="fresh processes per figure")
    args = parser.parse_args(argv)
    zips = {m[1]: p for p in sorted(args.dist.iterdir()) if (m := LAYER_ZIP.fullmatch(p.name))}
    if not zips:
        parser.error(f"no layer zips in {args.dist}; run `make dist`")
    pythons = {version: python_for(version) for version in zips}
    ms = measure(pythons, zips, args.runs)
    rows = [
        row(f"python{v} ({release(python)})", ms[v]["pyc"], ms[v]["source"])
        for v, python in pythons.items()
    ]
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(f"`{STATEMENT}` (-X importtime), {args.runs} fresh processes each, ms:")
    print(table(HEAD, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
