"""lambda_warmup and its extension in the sandbox: the real layer, the real runtime.

With the extension (and ``WARMING_TIMEOUT``), INIT lasts as long as the init work and the first
invocation finds it done; without it, INIT ends at the runtime's ``next`` and the first invocation
waits for the work instead, which made no progress while the sandbox was frozen.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from lambda_sandbox import FunctionSpec, Sandbox
from tests.support.layers import RUNTIMES, source_layer, warmup_layer
from tests.support.ports import free_port
from tests.support.sandboxes import FUNCTIONS

pytestmark = pytest.mark.e2e

STEPS = 50  # x 10 ms of init work


def _sandbox(
    layer: Path,
    env: dict[str, str],
    lines: list[str],
    steps: int = STEPS,
    runtime: str = "python3.13",
) -> Sandbox:
    spec = FunctionSpec(
        code_dir=FUNCTIONS / "warm",
        handler="warm_app.handler",
        layers=[layer],
        environment={"INIT_STEPS": str(steps), "WARMUP_PORT": str(free_port()), **env},
        name="warmup-e2e",
        timeout_s=5.0,
        runtime=runtime,
    )
    return Sandbox(spec, shutdown_budget_s=1.0, log=lines.append)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_extension_holds_init_until_the_inits_are_done(tmp_path: Path, runtime: str) -> None:
    lines: list[str] = []
    layer = warmup_layer(tmp_path / "layer", extension=True, runtime=runtime)
    with _sandbox(layer, {"WARMING_TIMEOUT": "5s"}, lines, runtime=runtime) as sandbox:
        init = sandbox.start()
        assert init.status == "success", lines
        assert init.runtime_next_ms is not None
        ext_next = init.extensions_next_ms["lambda-warmup"]
        # INIT lasted as long as the init work (not the 5 s WARMING_TIMEOUT), and the extension
        # let it end only after the runtime had called next.
        assert STEPS * 10 <= ext_next < STEPS * 10 + 2000, (init, lines)
        assert init.runtime_next_ms < ext_next
        assert init.duration_ms >= ext_next
        time.sleep(0.2)  # frozen
        result = sandbox.invoke({})
        assert result.status == "success", result.payload
        out = result.json()
        assert out["python"].startswith(runtime.removeprefix("python") + "."), out
        assert out["done_on_entry"] is True
        assert out["finished_at"] <= out["entered_at"]
        assert result.duration_ms < 200
        assert result.init_duration_ms == init.duration_ms


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_without_extension_the_first_invocation_waits(tmp_path: Path, runtime: str) -> None:
    lines: list[str] = []
    layer = warmup_layer(tmp_path / "layer", extension=False, runtime=runtime)
    steps = 150  # 1.5 s of work: more than INIT takes even on a loaded machine
    with _sandbox(layer, {}, lines, steps, runtime=runtime) as sandbox:
        init = sandbox.start()
        assert init.status == "success", lines
        assert init.extensions_registered_ms == {}
        assert init.runtime_next_ms is not None
        assert init.duration_ms - init.runtime_next_ms < 50, "INIT should end at runtime's next"
        assert init.duration_ms < steps * 10
        idle = 0.4
        time.sleep(idle)  # frozen: the warm loop makes no progress
        result = sandbox.invoke({})
        assert result.status == "success", (result.payload, lines)
        out = result.json()
        assert out["python"].startswith(runtime.removeprefix("python") + "."), out
        assert out["done_on_entry"] is False
        assert out["finished_at"] >= out["entered_at"]
        # The work left at the end of INIT was still left after the idle time: the first
        # invocation waited for it (minus one overdue 10 ms step that fires on thaw).
        remaining_ms = steps * 10 - init.duration_ms
        assert result.duration_ms >= remaining_ms - 100, (result.duration_ms, init.duration_ms)
        second = sandbox.invoke({})
        assert second.json()["done_on_entry"] is True


def test_layer_missing_a_dependency_fails_as_on_lambda(tmp_path: Path) -> None:
    lines: list[str] = []
    layer = source_layer(tmp_path / "layer", extension=False)
    os.unlink(layer / "python" / "anyio")
    with _sandbox(layer, {}, lines) as sandbox:
        init = sandbox.start()
        assert init.status == "error"
        assert init.error_type == "Runtime.ImportModuleError"
        assert init.error is not None
        assert "anyio" in init.error["errorMessage"]
