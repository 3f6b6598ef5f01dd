"""The fault matrix's fixtures: a function in the sandbox with the real layer.

``fault(app, env=...)`` writes ``app`` (Python source) as the function's ``app.py``, composes it
with the layer as built (the library under ``python/``, the extension under ``extensions/``),
and returns a :class:`Run` whose ``lines`` collect every line the sandbox printed. At teardown,
every run is checked for what must hold in every case: the init's secret value was never
printed, the extension printed no traceback, and it exited 0 (only on SHUTDOWN) unless the test
said otherwise.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambda_sandbox import FunctionSpec, Sandbox
from tests.support.faults import SECRET, MakeRun, Run, signal_as_none
from tests.support.layers import source_layer
from tests.support.ports import free_port


@pytest.fixture(scope="session")
def layers(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Path]:
    """The layer as built, with the extension (``True``) and without (``False``)."""
    root = tmp_path_factory.mktemp("fault-layers")
    return {
        True: source_layer(root / "with", extension=True),
        False: source_layer(root / "without", extension=False),
    }


@pytest.fixture
def fault(tmp_path: Path, layers: dict[bool, Path]) -> Iterator[MakeRun]:
    """``fault(app_source, env={}, extension=True, timeout_s=3, **sandbox_kwargs) -> Run``."""
    runs: list[Run] = []

    def make(
        app: str,
        *,
        env: dict[str, str] | None = None,
        extension: bool = True,
        timeout_s: float = 3.0,
        handler: str = "app.handler",
        **kwargs: Any,
    ) -> Run:
        code = tmp_path / f"code{len(runs)}"
        code.mkdir()
        (code / "app.py").write_text(textwrap.dedent(app))
        port = free_port()
        spec = FunctionSpec(
            code_dir=code,
            handler=handler,
            layers=[layers[extension]],
            environment={"WARMUP_PORT": str(port), "SECRET": SECRET, **(env or {})},
            name="faults",
            timeout_s=timeout_s,
        )
        lines: list[str] = []
        kwargs.setdefault("shutdown_budget_s", 1.0)
        run = Run(Sandbox(spec, log=lines.append, **kwargs), lines, port)
        runs.append(run)
        return run

    yield make
    for run in runs:
        run.sandbox.shutdown()
    for run in runs:
        output = run.output()
        assert SECRET not in output, f"an init's value was logged:\n{output}"
        assert not run.ext("Traceback"), f"the extension printed a traceback:\n{output}"
        codes = {signal_as_none(code) for code in run.ext_exit_codes()}
        assert codes <= run.ext_exits, (
            f"the extension exited with {codes}, expected only {run.ext_exits}:\n{output}"
        )
