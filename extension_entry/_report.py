"""The completion report, format ``lambda-warmup/1``, as sent by the library's ``_report.py``.

``POST http://127.0.0.1:$WARMUP_PORT/report`` with ``Content-Type: application/json`` and a
UTF-8 JSON object of at most 64 KiB (address, format and limits: :mod:`._protocol`)::

    {"format": "lambda-warmup/1", "status": "ok", "pid": 123, "workers": 1, "duration_ms": 812.4,
     "inits": [{"name": "settings", "required": true, "status": "ok", "duration_ms": 12.5,
                "attempts": 1, "error": null}]}

``status`` is ``failed`` when a required init failed. ``workers`` (at least 1) is how many worker
processes each send one report (several on Lambda Managed Instances). Every field above is
required and checked; unknown fields are ignored, so a newer library can add some.

This module imports ``json`` (and with it ``re``, ~3 ms), so it is loaded after ``register``.
"""

from __future__ import annotations

import json
import math

from ._protocol import MAX_REPORT_WORKERS, REPORT_FORMAT, REPORT_STATUSES

#: Inits named in one log line (failed ones first), and the longest error shown for each: a
#: report of thousands of inits must not become a line of tens of KB (one ``os.write`` of at
#: most ``PIPE_BUF``, 4 KiB, is what keeps lines from interleaving).
DESCRIBED_INITS = 10
DESCRIBED_ERROR_CHARS = 200


class ReportError(ValueError):
    """The body is not a ``lambda-warmup/1`` report; the message says why (sent back as 400)."""


class InitEntry:
    __slots__ = ("attempts", "duration_ms", "error", "name", "required", "status")

    def __init__(
        self,
        name: str,
        required: bool,
        status: str,
        duration_ms: float,
        attempts: int,
        error: str | None,
    ) -> None:
        self.name = name
        self.required = required
        self.status = status
        self.duration_ms = duration_ms
        self.attempts = attempts
        self.error = error


class Report:
    __slots__ = ("duration_ms", "inits", "omitted", "pid", "status", "workers")

    def __init__(
        self,
        status: str,
        pid: int,
        workers: int,
        duration_ms: float,
        inits: list[InitEntry],
        omitted: int = 0,
    ) -> None:
        self.status = status
        self.pid = pid
        self.workers = workers
        self.duration_ms = duration_ms
        self.inits = inits
        #: Inits the library left out of ``inits`` to keep it within ``MAX_REPORT_BYTES``.
        self.omitted = omitted

    def describe(self) -> str:
        """``settings 12 ms, db_pool failed after 3 attempts (5001 ms): InitTimeoutError: ...``.

        At most :data:`DESCRIBED_INITS` inits (failed ones chosen first, shown in the report's
        order), then ``and N more``.
        """
        if not self.inits and not self.omitted:
            return "no inits"
        parts = []
        order = sorted(range(len(self.inits)), key=lambda i: self.inits[i].status == "ok")
        shown = [self.inits[i] for i in sorted(order[:DESCRIBED_INITS])]
        for init in shown:
            if init.status == "ok":
                parts.append(f"{init.name} {init.duration_ms:.0f} ms")
                continue
            kind = "" if init.required else " (optional)"
            tries = "attempt" if init.attempts == 1 else "attempts"
            took = f"{init.attempts} {tries} ({init.duration_ms:.0f} ms)"
            text = f"{init.name}{kind} failed after {took}"
            error = init.error or ""
            if len(error) > DESCRIBED_ERROR_CHARS:
                error = error[: DESCRIBED_ERROR_CHARS - 3] + "..."
            parts.append(f"{text}: {error}" if error else text)
        more = len(self.inits) - len(shown) + self.omitted
        if more:
            parts.append(f"and {more} more")
        return ", ".join(parts)


def parse_report(body: bytes) -> Report:
    """Validate ``body``; ``ReportError`` names the first problem found."""
    try:
        document = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as error:
        raise ReportError(f"body is not UTF-8: {error.reason} at byte {error.start}") from None
    except json.JSONDecodeError as error:
        raise ReportError(f"body is not JSON: {error.msg} at character {error.pos}") from None
    except (RecursionError, ValueError) as error:
        raise ReportError(f"body is not usable JSON: {error}") from None
    if not isinstance(document, dict):
        raise ReportError(f"a report is a JSON object, not {_kind(document)}")
    if document.get("format") != REPORT_FORMAT:
        raise ReportError(f"'format' must be {REPORT_FORMAT!r}, got {document.get('format')!r}")
    status = _choice(document, "status", "report")
    pid = _int(document, "pid", "report", minimum=1)
    workers = _int(document, "workers", "report", minimum=1)
    if workers > MAX_REPORT_WORKERS:  # a sanity bound, far above LMI's 16 per vCPU by default
        raise ReportError(f"'workers' must be at most {MAX_REPORT_WORKERS}, got {workers}")
    duration_ms = _duration(document, "report")
    raw_inits = document.get("inits")
    if not isinstance(raw_inits, list):
        raise ReportError(f"'inits' must be a list, got {_kind(raw_inits)}")
    inits = [_init(item, index) for index, item in enumerate(raw_inits)]
    omitted = document.get("inits_omitted", 0)  # optional: set when the list was cut to fit
    if not isinstance(omitted, int) or isinstance(omitted, bool) or omitted < 0:
        raise ReportError(f"'inits_omitted' must be a whole number >= 0, got {omitted!r}"[:200])
    return Report(status, pid, workers, duration_ms, inits, omitted)


def _init(item: object, index: int) -> InitEntry:
    where = f"inits[{index}]"
    if not isinstance(item, dict):
        raise ReportError(f"{where} must be an object, got {_kind(item)}")
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise ReportError(f"{where}.name must be a non-empty string, got {_kind(name)}")
    required = item.get("required")
    if not isinstance(required, bool):
        raise ReportError(f"{where}.required must be true or false, got {_kind(required)}")
    error = item.get("error")
    if error is not None and not isinstance(error, str):
        raise ReportError(f"{where}.error must be a string or null, got {_kind(error)}")
    return InitEntry(
        name=name,
        required=required,
        status=_choice(item, "status", where),
        duration_ms=_duration(item, where),
        attempts=_int(item, "attempts", where, minimum=0),
        error=error,
    )


def _choice(document: dict[str, object], key: str, where: str) -> str:
    value = document.get(key)
    if not isinstance(value, str) or value not in REPORT_STATUSES:
        raise ReportError(f"{where}.{key} must be 'ok' or 'failed', got {value!r}"[:200])
    return value


def _int(document: dict[str, object], key: str, where: str, *, minimum: int) -> int:
    value = document.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ReportError(f"{where}.{key} must be a whole number >= {minimum}, got {value!r}"[:200])
    return value


def _duration(document: dict[str, object], where: str) -> float:
    value = document.get("duration_ms")
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ReportError(f"{where}.duration_ms must be a number >= 0, got {value!r}"[:200])
    return float(value)


def _reject_constant(name: str) -> object:
    raise ReportError(f"{name} is not JSON")


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__
