"""``import lambda_warmup`` stays light: every cold start pays for it (figures in benchmarks/)."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_import_loads_neither_asyncio_nor_httpx():
    probe = (
        "import sys, lambda_warmup; "
        "print(sorted(m for m in ('asyncio', 'httpx') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    # asyncio comes with the warm loop (the first @warm_init), httpx only on a report fallback.
    assert result.stdout.strip() == "[]"


def test_import_loads_no_telemetry():
    """JSON fields cost nothing to import; the EMF, timeline and X-Ray modules (and the SDKs)
    load only when their setting is on and the inits settle."""
    telemetry = (
        "lambda_warmup._emf",
        "lambda_warmup._timeline",
        "lambda_warmup._tracing",
        "aws_xray_sdk",
        "aws_lambda_powertools",
    )
    probe = (
        f"import sys, lambda_warmup; print(sorted(m for m in {telemetry!r} if m in sys.modules))"
    )
    env = {**os.environ, "WARMUP_METRICS": "emf", "WARMUP_TRACING": "xray"}
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert result.stdout.strip() == "[]"


def test_import_loads_neither_the_testing_plugin_nor_pytest():
    """``lambda_warmup.testing`` is a pytest plugin: a function's cold start must not pay for it,
    and the layer has no pytest."""
    probe = (
        "import sys, lambda_warmup; "
        "print(sorted(m for m in sys.modules "
        "if m in ('pytest', '_pytest', 'pytest_asyncio', 'lambda_warmup.testing')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert result.stdout.strip() == "[]"
