"""The extension in the project's local Lambda (``lambda_sandbox``): real runtime, real INIT.

The function here reports with the standard library (not ``lambda_warmup``), so these tests
check the extension against the sandbox's Extensions API and INIT gating, independently of the
library. They are ``e2e``: they build the sandbox's runtime venv on first use.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import LAUNCHER, REPO, free_port

sandbox_module = pytest.importorskip("lambda_sandbox")
Sandbox = sandbox_module.Sandbox
FunctionSpec = sandbox_module.FunctionSpec

pytestmark = pytest.mark.e2e

APP = '''
"""At import, a background thread reports to the extension after REPORT_AFTER_MS."""
import json, os, threading, time, urllib.request

def _report():
    time.sleep(int(os.environ["REPORT_AFTER_MS"]) / 1000)
    body = json.dumps({"format": "lambda-warmup/1", "status": "ok", "pid": os.getpid(),
        "workers": 1, "duration_ms": 1.0, "inits": []}).encode()
    request = urllib.request.Request(
        "http://127.0.0.1:" + os.environ["WARMUP_PORT"] + "/report", data=body,
        headers={"Content-Type": "application/json"}, method="POST")
    urllib.request.urlopen(request, timeout=2).read()

if os.environ.get("REPORT_AFTER_MS"):
    threading.Thread(target=_report, daemon=True).start()

def handler(event, context):
    return {"ok": True}
'''


@pytest.fixture
def layer(tmp_path: Path) -> Path:
    root = tmp_path / "layer"
    (root / "extensions").mkdir(parents=True)
    shutil.copy2(LAUNCHER, root / "extensions" / "lambda-warmup")
    shutil.copytree(
        REPO / "extension_entry",
        root / "extension_entry",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return root


@pytest.fixture
def code(tmp_path: Path) -> Path:
    directory = tmp_path / "code"
    directory.mkdir()
    (directory / "app.py").write_text(APP)
    return directory


@pytest.fixture
def make(layer: Path, code: Path) -> Iterator[object]:
    made: list[object] = []
    lines: list[str] = []

    def build(env: dict[str, str], **kwargs: object) -> tuple[object, list[str]]:
        spec = FunctionSpec(
            code_dir=code,
            handler="app.handler",
            layers=[layer],
            environment={"WARMUP_PORT": str(free_port()), **env},
            name="warmup-e2e",
            timeout_s=3.0,
        )
        sandbox = Sandbox(spec, shutdown_budget_s=2.0, log=lines.append, **kwargs)
        made.append(sandbox)
        return sandbox, lines

    yield build
    for sandbox in made:
        sandbox.shutdown()  # type: ignore[attr-defined]


def test_init_ends_when_the_report_arrives(make) -> None:
    sandbox, lines = make({"WARMING_TIMEOUT": "5s", "REPORT_AFTER_MS": "300"})
    init = sandbox.start()
    assert init.status == "success", lines
    ext_next = init.extensions_next_ms["lambda-warmup"]
    assert init.runtime_next_ms is not None
    assert init.runtime_next_ms < ext_next, "INIT was not held past the runtime's next"
    assert 300 <= ext_next < 300 + 1500, f"extension next at {ext_next} ms"
    assert init.duration_ms < 300 + 1500
    assert any("released after" in line and "report ok from pid" in line for line in lines), lines
    assert sandbox.invoke({}).status == "success"


def test_on_demand_budget_keeps_init_inside_the_limit(make) -> None:
    # No report ever comes; the sandbox's on-demand limit is 1.5 s, and so is the extension's.
    sandbox, lines = make(
        {"WARMING_TIMEOUT": "60s", "_WARMUP_INIT_LIMIT_MS": "1500"}, on_demand_init_limit_s=1.5
    )
    init = sandbox.start()
    assert init.status == "success", (init, lines)
    assert 900 <= init.duration_ms < 1500, init
    assert any("INIT budget reached" in line for line in lines), lines


def test_shutdown_exits_cleanly(make) -> None:
    sandbox, lines = make({})
    assert sandbox.start().status == "success"
    sandbox.shutdown()
    assert any("shutdown (spindown)" in line for line in lines), lines
    exits = [
        record["returncode"]
        for record in sandbox.records
        if record["event"] == "process_exit" and record.get("name") == "lambda-warmup"
    ]
    assert exits == [0], sandbox.records
