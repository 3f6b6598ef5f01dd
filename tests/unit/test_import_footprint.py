"""``import lambda_warmup`` stays light: every cold start pays for it (figures in benchmarks/)."""

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
