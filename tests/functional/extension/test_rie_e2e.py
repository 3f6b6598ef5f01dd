"""The extension under AWS's own Runtime Interface Emulator (RIE), when it can run here.

RIE is AWS's open-source copy of Lambda's in-sandbox agent: this checks our raw-socket client
and the hold against Go's HTTP server and AWS's Extensions API code, not only against our fakes.
It initialises lazily, so INIT happens inside the first invocation: a held INIT shows as that
invocation's latency. Skipped without RIE (``make .venv-sam/.installed``) or without root.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.support.ports import free_port

rie = pytest.importorskip("tests.support.rie")

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _rie_available() -> None:
    reason = rie.rie_unavailable()
    if reason is not None:
        pytest.skip(reason)


def test_hold_and_shutdown_under_rie(layer_copy: Path, report_app: Path) -> None:
    env = {"WARMUP_PORT": str(free_port()), "WARMING_TIMEOUT": "5s", "REPORT_AFTER_MS": "300"}
    with rie.run_rie(report_app, "app.handler", [layer_copy], env) as run:
        started = time.monotonic()
        assert run.invoke({}) == (200, {"ok": True})
        first_ms = (time.monotonic() - started) * 1000
        assert 300 <= first_ms < 300 + 2000, f"first invoke took {first_ms:.0f} ms"
    text = "\n".join(run.lines)
    assert "registered, subscribed to [SHUTDOWN]" in text, text
    assert re.search(r"\[lambda-warmup\] released after \d+ ms: report ok from pid", text), text
    assert "[lambda-warmup] shutdown (" in text, text
    assert "Traceback" not in text
