"""``import lambda_warmup`` stays light: every cold start pays for it (figures in benchmarks/)."""

import ast
import os
import subprocess
import sys
from pathlib import Path

from tests.support.ports import free_port

REPO = Path(__file__).resolve().parents[2]


def _loaded_by_import(modules: tuple[str, ...], then: str = "", **environ: str) -> list[str]:
    """Which of ``modules`` a fresh ``import lambda_warmup`` (then the code ``then``) loads, with
    ``environ`` set."""
    probe = (
        f"import sys, lambda_warmup\n{then}\n"
        f"print(sorted(m for m in {modules!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO,
        env={**os.environ, **environ},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    loaded: list[str] = ast.literal_eval(result.stdout)
    return loaded


def test_import_loads_neither_asyncio_nor_httpx():
    # asyncio comes with the warm loop (the first @warm_init), httpx only on a report fallback.
    assert _loaded_by_import(("asyncio", "httpx")) == []


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
    assert _loaded_by_import(telemetry, WARMUP_METRICS="emf", WARMUP_TRACING="xray") == []


def test_import_loads_neither_the_testing_plugin_nor_pytest():
    """``lambda_warmup.testing`` is a pytest plugin: a function's cold start must not pay for it,
    and the layer has no pytest."""
    plugin = ("pytest", "_pytest", "pytest_asyncio", "lambda_warmup.testing")
    assert _loaded_by_import(plugin) == []


def test_the_probe_sees_what_import_loads():
    """The probe itself can fail: ``lambda_warmup`` and what it imports are seen."""
    seen = _loaded_by_import(("lambda_warmup", "lambda_warmup._loop", "no_such_module"))
    assert seen == ["lambda_warmup", "lambda_warmup._loop"]


FIRST_INIT = """
@lambda_warmup.warm_init
async def ready() -> int:
    return 1

assert ready.result(10) == 1
"""


def test_the_first_init_in_a_runtime_loads_neither_httpx_nor_tempfile(tmp_path: Path):
    """The first ``@warm_init`` in a Lambda runtime starts the loop and installs the SIGTERM
    handler and the INIT marker; ``tempfile`` and ``pathlib`` (with ``shutil``, ``random``,
    ``bz2``, ``lzma``: ~5 ms) are not needed for that, httpx only on a report fallback."""
    heavy = ("httpx", "tempfile", "pathlib", "shutil")
    runtime = {"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9", "TMPDIR": str(tmp_path)}
    assert _loaded_by_import((*heavy, "asyncio"), FIRST_INIT, **runtime) == ["asyncio"]
    assert (tmp_path / "lambda-warmup-init.json").exists()  # the marker, where TMPDIR says


FIRST_INVOCATION = """
import http.server, os, threading

class Extension(http.server.BaseHTTPRequestHandler):  # answers the report as the extension does
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        reported.set()

    def log_message(self, *args):
        pass

reported = threading.Event()
server = http.server.HTTPServer(("127.0.0.1", int(os.environ["WARMUP_PORT"])), Extension)
threading.Thread(target=server.serve_forever, daemon=True).start()

@lambda_warmup.warm_init
async def ready() -> int:
    return 1

@lambda_warmup.warm_init
def sync_ready() -> int:  # a def init: a worker thread
    return 2

@lambda_warmup.warm_handler
async def handler(event, context):
    return await ready + await sync_ready

assert handler({}, None) == 3
assert reported.wait(10), "no report reached the extension"
assert lambda_warmup.default_warmup.close(5) is True
"""


def test_a_first_invocation_loads_neither_anyio_nor_httpx(tmp_path: Path):
    """The warm loop is plain asyncio: anyio and its asyncio backend (~40 ms at a cold start)
    are loaded only by code that uses them (yours, ``lambda_warmup.asgi``, the testing plugin),
    httpx only when the plain POST of the report fails. Through the inits, the report, an async
    handler and the shutdown."""
    runtime = {
        "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9",
        "TMPDIR": str(tmp_path),
        "WARMUP_PORT": str(free_port()),
        "WARMING_TIMEOUT": "10",
    }
    loaded = _loaded_by_import(("anyio", "httpx", "asyncio"), FIRST_INVOCATION, **runtime)
    assert loaded == ["asyncio"]
