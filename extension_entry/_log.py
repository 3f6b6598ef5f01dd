"""One log line per decision: ``[<name>] message`` as text, or one JSON object in JSON mode.

Lines go straight to file descriptor 2 with one ``write`` each (after Lambda's log capture
they land in the function's CloudWatch stream): no buffering, and lines from the listener's
threads and the main thread never interleave (a write of up to PIPE_BUF, 4096 bytes, to a pipe
is atomic). Logging never raises: a closed stderr must not take the extension down.

With ``AWS_LAMBDA_LOG_FORMAT=JSON`` (Lambda's log format setting) each line is one JSON object,
``{"timestamp", "level", "message", "logger": <name>, ...fields}``: the fields a step passes
(``event``, ``status``, ``held_ms``...) become keys. ``AWS_LAMBDA_LOG_LEVEL`` drops the lines
below it, in either format. The JSON is written here, without the ``json`` module: ``json``
imports ``re`` (~3 ms), and the first lines come before ``register``, on every cold start's
critical path.
"""

from __future__ import annotations

import posix  # os, without os's own import (see __main__._environ)
import time

TYPE_CHECKING = False  # collections.abc costs ~1 ms to import; mypy reads True
if TYPE_CHECKING:
    from collections.abc import Callable

    #: What every step takes to log with: one call, one line; keyword fields for JSON lines.
    #: (No ``type`` statement: the extension must run on whatever Python the function has.)
    LogFn = Callable[..., None]

STDERR = 2

#: Lambda's log levels (``AWS_LAMBDA_LOG_LEVEL``), lowest first.
LEVELS = {"TRACE": 0, "DEBUG": 1, "INFO": 2, "WARN": 3, "ERROR": 4, "FATAL": 5}


class Log:
    """``log("hold started: ...")`` writes ``[<name>] hold started: ...``; in JSON mode,
    ``log("hold started: ...", event="hold_started")`` writes ``{"timestamp": ..., "level":
    "INFO", "message": "hold started: ...", "logger": "<name>", "event": "hold_started"}``.

    A line's level is ``level`` if given, else ``ERROR`` for a message starting ``error:`` or
    ``internal error``, else ``INFO``.
    """

    def __init__(
        self, name: str, fd: int = STDERR, *, json: bool = False, level: str = "TRACE"
    ) -> None:
        self.name = name
        self.json = json
        self._prefix = f"[{name}] "
        self._fd = fd
        self._least = LEVELS.get(level, 0)

    def __call__(self, message: str, level: str | None = None, **fields: object) -> None:
        if level is None:
            error = message.startswith(("error:", "internal error"))
            level = "ERROR" if error else "INFO"
        if LEVELS.get(level, 2) < self._least:
            return
        text = " ".join(message.splitlines())
        self.write(self._json_line(text, level, fields) if self.json else self._prefix + text)

    def _json_line(self, message: str, level: str, fields: dict[str, object]) -> str:
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
        parts = [
            f'"timestamp":"{stamp}.{int(now * 1000) % 1000:03d}Z"',
            f'"level":"{level}"',
            f'"message":{_quote(message)}',
            f'"logger":{_quote(self.name)}',
        ]
        parts.extend(f"{_quote(key)}:{_value(value)}" for key, value in fields.items())
        return "{" + ",".join(parts) + "}"

    def write(self, line: str) -> None:
        """``line`` as it is, and a newline, in one write (an EMF document, say)."""
        data = (line + "\n").encode("utf-8", "backslashreplace")
        try:
            while data:
                data = data[posix.write(self._fd, data) :]
        except OSError:
            pass


#: What a JSON string escapes (RFC 8259): the quote, the backslash, control characters.
_ESCAPES = {ord('"'): '\\"', ord("\\"): "\\\\", 0x7F: "\\u007f"}
_ESCAPES.update((code, f"\\u{code:04x}") for code in range(0x20))


def _quote(text: str) -> str:
    """``text`` as a JSON string (most text needs no escape: checked in C, ~0.3 us)."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return '"' + text + '"'
    return '"' + text.translate(_ESCAPES) + '"'


def _value(value: object) -> str:
    """A field's value as JSON: numbers, booleans, ``null``, strings (anything else as text)."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(round(value, 1)) if value == value and abs(value) != float("inf") else "null"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_value(item) for item in value) + "]"
    return _quote(str(value))
