"""The benchmarks still run: ``benchmarks/bench.py --quick`` (one run of everything, short waits).

No figure is asserted (timings belong in ``make bench``, not in tests); only that every section
ran and every target got a verdict.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
SITE = (
    Path(sys.prefix)
    / "lib"
    / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    / "site-packages"
)
RUNTIME_DEPS = [
    "anyio",
    "httpx",
    "httpcore",
    "h11",
    "idna",
    "sniffio",
    "certifi",
    "typing_extensions.py",
]

pytestmark = pytest.mark.e2e


def _compose_layer(root: Path) -> Path:
    """The layer's layout (extensions/, extension_entry/, python/), linked to the sources."""
    python = root / "python"
    python.mkdir(parents=True)
    (python / "lambda_warmup").symlink_to(REPO / "lambda_warmup")
    for name in RUNTIME_DEPS:
        if (SITE / name).exists():
            (python / name).symlink_to(SITE / name)
    (root / "extensions").mkdir()
    shutil.copy2(REPO / "extensions" / "lambda-warmup", root / "extensions")
    (root / "extension_entry").symlink_to(REPO / "extension_entry")
    return root


def test_quick_run_covers_every_section_and_target(tmp_path: Path) -> None:
    layer = _compose_layer(tmp_path / "layer")
    results = tmp_path / "results.json"
    proc = subprocess.run(
        [
            sys.executable,
            REPO / "benchmarks" / "bench.py",
            "--quick",
            "--layer",
            layer,
            "--json",
            results,
        ],
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(results.read_text())
    for section in ("designs", "tax", "imports", "invoke", "per_call_ns", "growth"):
        assert data[section], section
    assert set(data["designs"]) == {"a", "b", "c", "d"}
    assert len(data["targets"]) == 8
    assert all(isinstance(t["met"], bool) for t in data["targets"])
    for heading in (
        "1. INIT of one workload",
        "2. Cold-start tax",
        "3. Per-invocation",
        "4. Growth",
    ):
        assert heading in proc.stdout
