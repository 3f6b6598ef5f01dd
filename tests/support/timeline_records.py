"""Sandbox records as a real run writes them, with the JSON log lines of the inits' contract.

For the timeline's tests that must not depend on what today's library logs: ``held_records()``
is a provisioned INIT held by the ``lambda-warmup`` extension until the report, with two inits
(``config``; ``client`` awaits it, fails its first attempt and succeeds after a backoff) and two
invocations with a frozen gap between them. ``unheld_records()`` is the same function without
the hold: INIT ends at the runtime's ``next``, the inits are frozen half done, and the first
invocation waits for ``client``. Times (ms after the sandbox was made) are in the constants.
"""

from __future__ import annotations

import json
from typing import Any

T0 = 1_790_000_000.0
"""The records' epoch at t_ms 0 (seconds)."""

EXT = "lambda-warmup"
EXT_START, EXT_REGISTER = 20.0, 60.0
RUNTIME_START, IMPORT_DONE, RUNTIME_NEXT = 65.0, 300.0, 305.0
CONFIG = (120.0, 270.0)
CLIENT_WAIT = (125.0, 270.0)  # client awaits config
CLIENT_ATTEMPTS = ((125.0, 310.0), (360.0, 400.0))  # 50 ms backoff between them
REPORT, EXT_NEXT, INIT_END = 402.0, 404.0, 405.0
INVOKE_1, INVOKE_2 = (700.0, 706.0), (1100.0, 1103.0)
UNHELD_CLIENT_ATTEMPTS = ((125.0, 290.0), (700.8, 702.8))
"""Without the hold, client's retry waits out the frozen gap and runs in the first invocation."""


def _epoch_ms(t_ms: float) -> float:
    return T0 * 1000 + t_ms


class _Records:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def add(self, event: str, t_ms: float, **fields: Any) -> None:
        self.records.append({"event": event, "t_ms": t_ms, "ts": T0 + t_ms / 1000, **fields})

    def log(self, t_ms: float, source: str, doc: dict[str, Any]) -> None:
        self.add("log", t_ms, source=source, line=json.dumps(doc))

    def ext_log(self, t_ms: float, event: str, message: str, **fields: Any) -> None:
        doc = {"timestamp": _iso(t_ms), "level": "INFO", "message": message, "logger": EXT}
        self.log(t_ms, EXT, {**doc, "event": event, **fields})

    def invocation(self, number: int, start: float, end: float, waited: bool = False) -> None:
        request_id = f"request-{number}"
        self.add("invoke_start", start, request_id=request_id)
        self.add("thaw", start + 0.5)
        self.add("invoke_handed", start + 0.7, request_id=request_id)
        if waited:
            self.log(start + 3, "function", invocation_waited(start + 0.9, start + 3.0))
        self.add("runtime_response", end - 1.5, request_id=request_id, bytes=60)
        self.add("freeze", end - 0.5, all_stopped=True)
        self.add(
            "invoke_end",
            end,
            request_id=request_id,
            status="success",
            error_type=None,
            duration_ms=end - start,
            extensions_done_ms={},
        )


def _iso(t_ms: float) -> str:
    from datetime import UTC, datetime

    when = datetime.fromtimestamp(T0 + t_ms / 1000, UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def inits_settled(
    import_done: float | None = IMPORT_DONE,
    client_attempts: tuple[tuple[float, float], ...] = CLIENT_ATTEMPTS,
) -> dict[str, Any]:
    """The library's summary line (the contract's fields), times from the constants."""
    config = {
        "name": "config", "required": True, "status": "ok", "duration_ms": 150.0,
        "attempts": 1, "error": None, "started_ms": _epoch_ms(CONFIG[0]),
        "attempt_spans": [[_epoch_ms(CONFIG[0]), _epoch_ms(CONFIG[1])]], "waits": [],
    }  # fmt: skip
    client = {
        "name": "client", "required": True, "status": "ok", "duration_ms": 275.0,
        "attempts": 2, "error": None, "started_ms": _epoch_ms(client_attempts[0][0]),
        "attempt_spans": [[_epoch_ms(a), _epoch_ms(b)] for a, b in client_attempts],
        "waits": [{"on": "config", "start_ms": _epoch_ms(CLIENT_WAIT[0]),
                   "end_ms": _epoch_ms(CLIENT_WAIT[1])}],
    }  # fmt: skip
    return {
        "timestamp": _iso(client_attempts[-1][1]), "level": "INFO",
        "message": "lambda-warmup: 2 init(s) settled", "logger": "lambda_warmup",
        "event": "inits_settled", "status": "ok", "duration_ms": 280.0,
        "import_done_ms": None if import_done is None else _epoch_ms(import_done),
        "inits": [config, client],
    }  # fmt: skip


def invocation_waited(start: float, end: float) -> dict[str, Any]:
    return {
        "timestamp": _iso(end), "level": "INFO", "message": "waited for client",
        "logger": "lambda_warmup", "event": "invocation_waited", "waited_ms": end - start,
        "start_ms": _epoch_ms(start), "end_ms": _epoch_ms(end), "inits": ["client"],
    }  # fmt: skip


def _init_start(r: _Records, *, hold: bool) -> None:
    r.add("init_start", 4.0, phase="init", init_type="provisioned-concurrency")
    r.add("process_start", 11.0, name="keeper", kind="keeper", pid=100)
    r.add("process_start", EXT_START, name=EXT, kind="extension", pid=101)
    r.add("log", 50.0, source=EXT, line="[lambda-warmup] listening for reports (a text line)")
    r.add("extension_register", EXT_REGISTER, name=EXT, events=["SHUTDOWN"], external=True)
    r.ext_log(EXT_REGISTER + 1, "registered", "registered for SHUTDOWN")
    r.add("process_start", RUNTIME_START, name="runtime", kind="runtime", pid=102)
    if not hold:
        r.ext_log(EXT_REGISTER + 2, "hold_ended", "no hold: WARMING_TIMEOUT is unset", held_ms=0)
        r.add("extension_next", EXT_REGISTER + 3, name=EXT, first=True, phase="init")
    r.add("runtime_next", RUNTIME_NEXT, first=True, phase="init")


def held_records() -> list[dict[str, Any]]:
    r = _Records()
    _init_start(r, hold=True)
    r.add("log", REPORT - 1, source="function", line=json.dumps(inits_settled()))
    r.ext_log(REPORT, "report_received", "report ok", status="ok")
    r.ext_log(REPORT + 1, "hold_ended", "released", held_ms=REPORT + 1 - EXT_REGISTER)
    r.add("extension_next", EXT_NEXT, name=EXT, first=True, phase="init")
    r.add("init_end", INIT_END, phase="init", status="success", duration_ms=INIT_END - 4.0)
    r.add("freeze", INIT_END + 1, all_stopped=True)
    r.invocation(1, *INVOKE_1)
    r.invocation(2, *INVOKE_2)
    _shutdown(r, INVOKE_2[1])
    return r.records


def unheld_records() -> list[dict[str, Any]]:
    """Without the hold: INIT ends at the runtime's next (305 ms); the sandbox is frozen until
    the first invocation (700 ms), when the inits go on and the invocation waits for them."""
    r = _Records()
    _init_start(r, hold=False)
    r.add("init_end", RUNTIME_NEXT + 0.3, phase="init", status="success")
    r.add("freeze", RUNTIME_NEXT + 1, all_stopped=True)
    r.invocation(1, *INVOKE_1, waited=True)
    settled = inits_settled(client_attempts=UNHELD_CLIENT_ATTEMPTS)
    r.add("log", INVOKE_1[0] + 2.5, source="function", line=json.dumps(settled))
    r.invocation(2, *INVOKE_2)
    _shutdown(r, INVOKE_2[1])
    return r.records


def _shutdown(r: _Records, after: float) -> None:
    r.add("shutdown_start", after + 0.1, reason="spindown")
    r.add("thaw", after + 0.2)
    r.add("process_exit", after + 4, name="runtime", kind="runtime", returncode=-15)
    r.add("shutdown_end", after + 10, reason="spindown", duration_ms=9.9)
    r.add("closed", after + 10.2)
