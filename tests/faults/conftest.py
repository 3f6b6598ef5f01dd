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
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lambda_sandbox import FunctionSpec, InitResult, InvokeResult, Sandbox
from tests.support.layers import source_layer
from tests.support.ports import free_port

EXT = "[lambda-warmup] "
FN = "[function] "
#: Every init in these tests returns (or holds) this; it must never reach a log line.
SECRET = "s3cr3t-init-value-7f3a"


class Run:
    """One sandbox and what it printed."""

    def __init__(self, sandbox: Sandbox, lines: list[str], port: int) -> None:
        self.sandbox = sandbox
        self.lines = lines
        self.port = port
        #: Exit codes the extension may end with (``None``: killed by the platform, a signal).
        self.ext_exits: set[int | None] = {0}

    def start(self) -> InitResult:
        return self.sandbox.start()

    def invoke(self, event: Any = None) -> InvokeResult:
        return self.sandbox.invoke({} if event is None else event)

    def ext(self, fragment: str = "") -> list[str]:
        """The extension's lines containing ``fragment``, without the ``[lambda-warmup]`` tag."""
        return [
            line[len(EXT) :] for line in self.lines if line.startswith(EXT) and fragment in line
        ]

    def released(self) -> str:
        """The extension's one ``released after N ms: <why>`` line."""
        lines = [line for line in self.ext() if line.startswith("released after")]
        assert len(lines) == 1, f"expected one release line:\n{self.output()}"
        return lines[0]

    def fn(self, fragment: str = "") -> list[str]:
        return [line[len(FN) :] for line in self.lines if line.startswith(FN) and fragment in line]

    def has(self, fragment: str) -> bool:
        return any(fragment in line for line in self.lines)

    def wait_line(self, fragment: str, timeout: float = 5.0) -> str:
        """The first line with ``fragment``, waiting up to ``timeout`` s for it to be printed."""
        deadline = time.monotonic() + timeout
        while True:
            for line in list(self.lines):
                if fragment in line:
                    return line
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"waited {timeout} s for a line with {fragment!r}; got:\n" + self.output()
                )
            time.sleep(0.01)

    def output(self) -> str:
        return "\n".join(self.lines)

    def records(self, event: str, **fields: Any) -> list[dict[str, Any]]:
        return [
            record
            for record in self.sandbox.records
            if record["event"] == event and all(record.get(k) == v for k, v in fields.items())
        ]

    def pid(self, name: str) -> int:
        """Pid of the live process ``name`` (``runtime`` or ``lambda-warmup``)."""
        starts = self.records("process_start", name=name)
        assert starts, f"no {name} process started; output:\n{self.output()}"
        pid: int = starts[-1]["pid"]
        return pid

    def ext_exit_codes(self) -> list[int | None]:
        return [r["returncode"] for r in self.records("process_exit", name="lambda-warmup")]


def _returncode(code: int | None) -> int | None:
    return None if code is not None and code < 0 else code


@pytest.fixture(scope="session")
def layers(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Path]:
    """The layer as built, with the extension (``True``) and without (``False``)."""
    root = tmp_path_factory.mktemp("fault-layers")
    return {
        True: source_layer(root / "with", extension=True),
        False: source_layer(root / "without", extension=False),
    }


MakeRun = Callable[..., Run]


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
        codes = {_returncode(code) for code in run.ext_exit_codes()}
        assert codes <= run.ext_exits, (
            f"the extension exited with {codes}, expected only {run.ext_exits}:\n{output}"
        )


# A function whose one init takes INIT_MS (default 100) and holds the secret; the async handler
# returns what it needs from it, never the value itself. ``{"sleep": s}`` keeps the sandbox
# thawed for ``s`` seconds.
OK_APP = textwrap.dedent(
    """
    import os
    import anyio
    from lambda_warmup import warm_handler, warm_init

    @warm_init
    async def config():
        await anyio.sleep(int(os.environ.get("INIT_MS", "100")) / 1000)
        return {"token": os.environ["SECRET"]}

    @warm_handler
    async def handler(event, context):
        await anyio.sleep(event.get("sleep", 0))  # time for the warm loop's background work
        return {"ok": True, "token_length": len(config.value["token"])}
"""
)
