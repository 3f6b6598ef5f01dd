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
