"""The benchmarks still run: ``benchmarks/bench.py --quick`` (one run of everything, short waits).

No figure is asserted (timings belong in ``make bench``, not in tests); only that every section
ran, with CPU time beside wall time and the machine's load recorded, and every target got a
verdict with its interval. The database table starts its own PostgreSQL (~2 s) and
takes the drivers' layer from the sandbox's cache, filled here first (as the database tests do)
so that a first install is not counted against the run's bound.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lambda_sandbox import dependencies_layer

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
VALGRIND = shutil.which("valgrind") is not None
#: ~60 s on a quiet machine, ~30 of it the instruction counts (valgrind); more under load.
QUICK_RUN_TIMEOUT_S = 300


def _compose_layer(root: Path) -> Path:
    """The layer's layout (extensions/, extension_entry/, python/), linked to the sources.

    Its dependencies are copied, not linked: the database table's functions put the drivers'
    layer under it, which holds some of them too (idna, typing_extensions), and the sandbox
    cannot merge a link over a directory.
    """
    python = root / "python"
    python.mkdir(parents=True)
    (python / "lambda_warmup").symlink_to(REPO / "lambda_warmup")
    for name in RUNTIME_DEPS:
        source = SITE / name
        if source.is_dir():
            shutil.copytree(source, python / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, python / name)
    (root / "extensions").mkdir()
    shutil.copy2(REPO / "extensions" / "lambda-warmup", root / "extensions")
    (root / "extension_entry").symlink_to(REPO / "extension_entry")
    return root


def _quick_run(tmp_path: Path, *args: str) -> tuple[str, dict[str, Any]]:
    """``bench.py --quick`` with a layer made of the sources: its output, and its results."""
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
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=QUICK_RUN_TIMEOUT_S,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data: dict[str, Any] = json.loads(results.read_text())
    return proc.stdout, data


@pytest.mark.timeout(QUICK_RUN_TIMEOUT_S + 30)
def test_quick_run_covers_every_section_and_target(tmp_path: Path) -> None:
    # The database table's drivers (cached by content: installed once, outside the run's bound).
    dependencies_layer(REPO / "samples" / "orders" / "requirements.txt", "python3.13")
    dependencies_layer(REPO / "samples" / "web" / "requirements.txt", "python3.13")  # the ASGI's
    # Every table but the instructions, which their own test runs (valgrind's ~30 s together
    # with the rest would pass the suite's 50 s faulthandler dump).
    tables = ("designs", "tax", "invoke", "growth", "database", "asgi")
    stdout, data = _quick_run(tmp_path, *(arg for table in tables for arg in ("--only", table)))
    sections = (
        "designs",
        "tax",
        "imports",
        "invoke",
        "per_call",
        "growth",
        "database",
        "asgi",
    )
    for section in sections:
        assert data[section], section
    assert set(data["designs"]) == {"a", "b", "c", "d", "floor"}
    assert len(data["designs"]["floor"]) == len(data["designs"]["c"])  # paired run by run
    assert set(data["database"]["cold"]) == set(data["database"]["warm"]) == {"a", "b", "c"}
    assert set(data["asgi"]["cold"]) == {"a", "b"}
    assert set(data["asgi"]["warm"]) == {"a", "b", "c"}
    # CPU time beside wall time: the sandbox's processes by INIT's end, the in-process calls.
    for row in data["tax"]["one_init"]:
        assert row["init_cpu_ms"]["runtime"] > 0
        assert row["init_cpu_ms"]["extension"] > 0
    assert "extension" not in data["tax"]["bare"][0]["init_cpu_ms"]
    assert data["tax"]["bare"][0]["extension_registered_ms"] is None
    assert data["tax"]["layer"][0]["extension_registered_ms"] > 0
    assert data["per_call"]["hot"]["warm_async"]["cpu"][0] > 0
    assert all(ms > 0 for ms in data["invoke"]["cpu_ms"]["warm_async"])
    assert all(sample["cpu_ms"] >= 0 for sample in data["imports"]["+ import asyncio (for scale)"])
    # The machine's load, per section and for the whole run.
    assert set(data["load"]) == {*sections, "all"}
    assert {"load_before", "busy_pct", "others_pct", "steal_pct"} <= set(data["load"]["all"])
    assert len(data["targets"]) == 25
    assert {t["issue"] for t in data["targets"]} == {7, 15, 17, 18}
    for t in data["targets"]:
        assert t["verdict"] in ("met", "missed", "inconclusive"), t
        assert t["low"] <= t["median"] <= t["high"], t
    assert "Targets: " in stdout
    assert "median [95% CI of the median]" in stdout
    for heading in (
        "1. INIT of one workload",
        "2. Cold-start tax",
        "3. Per-invocation",
        "4. Growth",
        "5. One database query per invocation",
        "7. A FastAPI app",
    ):
        assert heading in stdout


def test_only_runs_the_tables_asked_for(tmp_path: Path) -> None:
    stdout, data = _quick_run(tmp_path, "--only", "growth")
    assert data["options"]["tables"] == ["growth"]
    assert data["growth"]
    assert not {"designs", "tax", "imports", "invoke", "per_call", "database"} & set(data)
    assert set(data["load"]) == {"growth", "all"}
    assert "4. Growth" in stdout
    assert "1. INIT of one workload" not in stdout
    assert [(t["issue"], t["basis"]) for t in data["targets"]] == [(7, "wall"), (7, "CPU")]
    assert data["targets"][0]["target"].startswith("growth beyond linear")


@pytest.mark.timeout(QUICK_RUN_TIMEOUT_S + 30)
def test_instructions_give_the_cpu_work_targets_a_row_by_instr(tmp_path: Path) -> None:
    stdout, data = _quick_run(tmp_path, "--only", "instructions")
    assert set(data) >= {"instructions", "targets"}
    assert not {"tax", "invoke", "per_call"} & set(data)
    if not VALGRIND:
        assert "not measured: valgrind is not installed" in stdout
        assert data["targets"] == []
        return
    counts = data["instructions"]["counts"]
    assert all(len(values) == 1 for values in counts.values())  # --quick: one repeat each
    # What the figures are made of: more work, more instructions.
    assert counts["asyncio"][0] > counts["baseline"][0]
    assert counts["one_init"][0] > counts["handler"][0] > counts["baseline"][0]
    assert counts["growth_1000"][0] > counts["growth_100"][0] > counts["growth_1"][0]
    assert counts["sync_n"][0] > counts["sync_0"][0]
    assert counts["async_n"][0] > counts["async_0"][0]
    assert counts["extension_init_hold"][0] > counts["extension_to_register"][0]
    assert counts["extension_to_register"][0] > counts["extension_floor"][0]
    assert [(t["issue"], t["basis"], t["unit"]) for t in data["targets"]] == [
        (7, "instr", "ms"),
        (18, "instr", "ms"),
        (18, "instr", "ms"),
        (18, "instr", "us"),
        (18, "instr", "us"),
        (7, "instr", "ms"),
    ]
    for t in data["targets"]:
        assert t["verdict"] in ("met", "missed", "inconclusive"), t
        # Amounts of work; growth's is a margin (at most 0: no faster than linear).
        assert t["median"] > 0 or t["target"].startswith("growth"), t
    for row in (
        "import asyncio | awslambdaric (the rate)",
        "= #7 layer + @warm_handler, no inits",
        "= #18 layer + 1 init + hold",
        "#18 extension: start -> register sent",
        "python3 -E -s -S -c pass (its start)",
        "#18 async @warm_handler, hot: per call",
    ):
        assert row in stdout, row
    assert "Instructions: CPU work counted by valgrind" in stdout
    assert "M instructions per ms" in stdout
    assert "by instr: valgrind's count x 23.7 ms" in stdout


def test_import_breakdown_runs(tmp_path: Path) -> None:
    layer = _compose_layer(tmp_path / "layer")
    proc = subprocess.run(
        [
            sys.executable,
            REPO / "benchmarks" / "import_breakdown.py",
            "--runs",
            "1",
            "--layer",
            layer,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for row in (
        "import lambda_warmup ",
        "first @warm_init | all its imports done",
        "-m extension_entry",
    ):
        assert row in proc.stdout, row


def test_cold_start_runs_again_when_the_extension_finds_its_port_taken(tmp_path: Path) -> None:
    import dataclasses
    import io
    import socket

    from bench_sandboxes import Layers, cold_start, spec

    layers = Layers(_compose_layer(tmp_path / "layer"), tmp_path / "scratch")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        made = spec("bench_growth.handler", layers, "full", {"BENCH_INITS": "1"}, hold=True)
        port = str(taken.getsockname()[1])
        made = dataclasses.replace(made, environment={**made.environment, "WARMUP_PORT": port})
        log = io.StringIO()
        result = cold_start(made, log)
    assert "cannot listen for reports" in log.getvalue()
    assert "(port taken: the same cold start again, WARMUP_PORT=" in log.getvalue()
    assert result.report_received_ms is not None, "the second cold start had its hold"
