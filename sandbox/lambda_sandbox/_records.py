"""Records (every phase, machine-readable) and the log lines Lambda would print.

A record is a dict with ``event``, ``t_ms`` (monotonic ms since the sandbox was made), ``ts``
(epoch seconds) and the event's fields; the sandbox keeps them all and appends each to the
records file as one JSON line. The platform lines (``INIT_START``, ``START``, ``END``,
``REPORT``, ``INIT_REPORT``, ``Task timed out``) are formatted here, so that their wording has
one home.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any

from ._spec import FunctionSpec, InitResult, InvokeResult

__all__ = [
    "LineBuffer",
    "LogTarget",
    "Recorder",
    "end_line",
    "init_report_line",
    "init_start_line",
    "report_invocation",
    "report_line",
    "start_line",
    "timed_out_line",
]

LogTarget = IO[str] | Callable[[str], None] | None
"""Where log lines go: nowhere, a callable, or a text file."""


class Recorder:
    """Keeps the records, writes them to the records file, and passes log lines on."""

    def __init__(
        self,
        log: LogTarget,
        *,
        prefix_logs: bool,
        records_path: str | os.PathLike[str] | None,
    ) -> None:
        self.t0 = time.monotonic()
        self.records: list[dict[str, Any]] = []
        self._log = log
        self._prefix_logs = prefix_logs
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        if records_path is not None:
            self._file = open(records_path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())
        self._capture: list[str] | None = None

    def now_ms(self) -> float:
        return (time.monotonic() - self.t0) * 1000

    def record(self, event: str, **fields: Any) -> None:
        rec = {"event": event, "t_ms": round(self.now_ms(), 3), "ts": round(time.time(), 6)}
        rec.update(fields)
        with self._lock:
            self.records.append(rec)
            if self._file:
                self._file.write(json.dumps(rec) + "\n")
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file:
                self._file.close()
                self._file = None

    def emit(self, line: str) -> None:
        target = self._log
        if target is None:
            return
        with self._lock:
            if callable(target):
                target(line)
            else:
                target.write(line + "\n")
                target.flush()

    def platform_line(self, line: str) -> None:
        self.record("platform_log", line=line)
        self.emit(line)

    def source_line(self, source: str, line: str) -> None:
        """A line the function (``source`` ``function``) or an extension wrote."""
        self.record("log", source=source, line=line)
        with self._lock:
            if self._capture is not None:
                self._capture.append(line)
        tag = f"[{source}]"
        # An extension that tags its own lines with its name (as on Lambda, where its output
        # comes out untouched) is not tagged twice.
        self.emit(f"{tag} {line}" if self._prefix_logs and not line.startswith(tag) else line)

    def capture(self, into: list[str] | None) -> None:
        """Also collect every source line into ``into`` (an invocation's logs); None stops."""
        with self._lock:
            self._capture = into


FRAME_MAGIC = b"\xa5\x5a\x00"
"""How each of awslambdaric's log frames begins (types ``0xa55a00xx``, one per level)."""
_FRAME_HEADER = 16
"""Type (4 bytes), length (4, big-endian), timestamp (8), then the message."""


class LineBuffer:
    """Cuts a process's output stream into lines; a line's end is its newline.

    With ``frames``, the stream may also hold awslambdaric's log frames (the runtime writes its
    log records framed to ``_LAMBDA_TELEMETRY_LOG_FD``, as on Lambda, see
    ``Sandbox._environment``): a frame is one record, so it ends where its length says, even
    when its last line has no newline (``logger.exception``'s traceback has none). Without the
    frame, that last line would be glued to the start of the next record, or held back until
    more output came. A frame is told from text by its first byte, which UTF-8 text never
    starts a character with.
    """

    def __init__(self, *, frames: bool = False) -> None:
        self._buf = b""
        self._frames = frames

    def feed(self, chunk: bytes) -> list[str]:
        """The lines ``chunk`` completes; an unfinished line or frame waits for the next."""
        self._buf += chunk
        lines: list[bytes] = []
        while self._buf:
            taken = self._take_frame(lines) if self._frames else None
            if taken is None:
                taken = self._take_text(lines)
            if not taken:
                break
        return [line.decode("utf-8", "replace") for line in lines]

    def _take_frame(self, lines: list[bytes]) -> bool | None:
        """None: no frame starts here; False: one does, not all read yet; True: taken."""
        head = self._buf[: len(FRAME_MAGIC)]
        if not FRAME_MAGIC.startswith(head):
            return None
        if len(self._buf) < _FRAME_HEADER:
            return False
        end = _FRAME_HEADER + int.from_bytes(self._buf[4:8], "big")
        if len(self._buf) < end:
            return False
        message, self._buf = self._buf[_FRAME_HEADER:end], self._buf[end:]
        lines.extend(message.removesuffix(b"\n").split(b"\n"))
        return True

    def _take_text(self, lines: list[bytes]) -> bool:
        end = self._buf.find(b"\n")
        frame = self._buf.find(FRAME_MAGIC) if self._frames else -1
        if frame > 0 and (end < 0 or frame < end):
            # Text written without a newline (print(..., end="")), then a log record.
            lines.append(self._buf[:frame])
            self._buf = self._buf[frame:]
            return True
        if end < 0:
            return False
        lines.append(self._buf[:end])
        self._buf = self._buf[end + 1 :]
        return True

    def rest(self) -> str | None:
        """At the end of the stream: what is left (a last line without its newline)."""
        partial, self._buf = self._buf, b""
        return partial.decode("utf-8", "replace") if partial else None


# ------------------------------------------------------------------------------ platform lines


def init_start_line(spec: FunctionSpec) -> str:
    return (
        f"INIT_START Runtime Version: {spec.runtime}.sandbox\t"
        f"Runtime Version ARN: arn:aws:lambda:{spec.region}::runtime:sandbox"
    )


def init_report_line(result: InitResult) -> str:
    line = (
        f"INIT_REPORT Init Duration: {result.duration_ms:.2f} ms\t"
        f"Phase: {result.phase}\tStatus: {result.status}"
    )
    if result.error_type:
        line += f"\tError Type: {result.error_type}"
    return line


def start_line(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def timed_out_line(request_id: str, timeout_s: float) -> str:
    ts = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return f"{ts} {request_id} Task timed out after {timeout_s:.2f} seconds"


def report_line(
    request_id: str,
    *,
    duration_ms: float,
    billed_ms: int,
    memory_size_mb: int,
    max_memory_used_mb: int,
    init_duration_ms: float | None,
    restore_duration_ms: float | None,
    status: str,
    error_type: str | None,
) -> str:
    report = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {billed_ms} ms\tMemory Size: {memory_size_mb} MB\t"
        f"Max Memory Used: {max_memory_used_mb} MB\t"
    )
    if init_duration_ms is not None:
        report += f"Init Duration: {init_duration_ms:.2f} ms\t"
    if restore_duration_ms is not None:
        report += f"Restore Duration: {restore_duration_ms:.2f} ms\t"
    if status in ("timeout", "crash"):
        report += f"Status: {status if status == 'timeout' else 'error'}\tError Type: {error_type}"
    return report.rstrip("\t")


def report_invocation(recorder: Recorder, result: InvokeResult, *, memory_size_mb: int) -> None:
    """END, REPORT and the ``invoke_end`` record."""
    request_id = result.request_id
    recorder.platform_line(end_line(request_id))
    recorder.platform_line(
        report_line(
            request_id,
            duration_ms=result.duration_ms,
            billed_ms=result.billed_duration_ms,
            memory_size_mb=memory_size_mb,
            max_memory_used_mb=result.max_memory_used_mb,
            init_duration_ms=result.init_duration_ms,
            restore_duration_ms=result.restore_duration_ms,
            status=result.status,
            error_type=result.error_type,
        )
    )
    suppressed = result.suppressed_init
    recorder.record(
        "invoke_end",
        request_id=request_id,
        status=result.status,
        error_type=result.error_type,
        duration_ms=result.duration_ms,
        billed_duration_ms=result.billed_duration_ms,
        response_ms=result.response_ms,
        runtime_done_ms=result.runtime_done_ms,
        extensions_done_ms=result.extensions_done_ms,
        init_duration_ms=result.init_duration_ms,
        restore_duration_ms=result.restore_duration_ms,
        max_memory_used_mb=result.max_memory_used_mb,
        suppressed_init=suppressed.status if suppressed else None,
        waiting_for=result.waiting_for,
    )
