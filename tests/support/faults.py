"""The fault matrix's helpers: :class:`Run` (one sandbox and every line it printed), the log tags,
the secret no log line may hold, and the function most cases run (:data:`OK_APP`)."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable
from typing import Any

from lambda_sandbox import InitResult, InvokeResult, Sandbox

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


def signal_as_none(code: int | None) -> int | None:
    """An exit code, or ``None`` for a process ended by a signal (a negative returncode)."""
    return None if code is not None and code < 0 else code


MakeRun = Callable[..., Run]


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
