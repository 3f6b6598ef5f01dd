"""The report's first attempt is a plain POST: httpx is imported only when it is not answered
202 at once, and the httpx path then behaves as before."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from lambda_warmup import Settings, Warmup
from tests.support.library import LoopbackServer

REPO = Path(__file__).resolve().parents[3]

DRIVER = textwrap.dedent(
    """
    import sys, time
    from lambda_warmup import Settings, Warmup

    warmup = Warmup(settings=Settings(extension_expected=True, port=int(sys.argv[1])))

    @warmup.init
    async def one():
        return 1

    sys.stdin.readline()  # the test's listener has the POST
    time.sleep(0.2)  # the answer is read after it: time for a fallback to import httpx
    warmup.close(1)
    print("httpx" in sys.modules)
    """
)


def test_report_answered_202_never_imports_httpx(loopback_server: LoopbackServer):
    with subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(loopback_server.port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    ) as proc:
        posted = loopback_server.posted.wait(10)
        stdout, stderr = proc.communicate("\n", timeout=30)
    assert posted, f"no report within 10 s: {stderr}"
    assert proc.returncode == 0, stderr
    assert stdout.strip() == "False", stdout + stderr
    assert len(loopback_server.posts) == 1
    path, headers, body, _ = loopback_server.posts[0]
    assert path == "/report"
    assert {k.lower(): v for k, v in headers.items()}["content-type"] == "application/json"
    assert json.loads(body)["format"] == "lambda-warmup/1"


def test_report_not_answered_202_goes_through_httpx_once_more(
    loopback_server: LoopbackServer, caplog
):
    loopback_server.post_status = 400
    warmup = Warmup(settings=Settings(extension_expected=True, port=loopback_server.port))
    try:
        with caplog.at_level(logging.WARNING, logger="lambda_warmup"):

            @warmup.init
            async def one() -> int:
                return 1

            deadline = time.monotonic() + 5
            while not caplog.records and time.monotonic() < deadline:
                time.sleep(0.01)
    finally:
        warmup.close(1)
    assert len(loopback_server.posts) == 2  # the plain attempt, then httpx's
    assert [r.getMessage().split(" with ")[0] for r in caplog.records] == [
        f"lambda-warmup: report refused by http://127.0.0.1:{loopback_server.port}/report"
    ]
