"""What a function and its extensions say about their inits, read from their JSON log lines.

The sandbox runs the library and the extension as processes and never imports them; what it
knows of the inits inside the runtime comes from their log lines, when Lambda's log format is
JSON (``AWS_LAMBDA_LOG_FORMAT=JSON``: one JSON object per line). The lines read here:

- the library's summary when its inits settle: ``{"logger": "lambda_warmup", "event":
  "inits_settled", "status", "duration_ms", "import_done_ms", "inits": [{"name", "required",
  "status", "duration_ms", "attempts", "error", "started_ms", "attempt_spans": [[start, end],
  ...], "waits": [{"on", "start_ms", "end_ms"}]}]}``;
- ``{"logger": "lambda_warmup", "event": "invocation_waited", "waited_ms", "start_ms",
  "end_ms", "inits": [names]}``, when an invocation waited for inits;
- an extension's ``{"logger": <its name>, "event": "registered" | "report_received" |
  "hold_ended", ...}`` (``hold_ended`` has ``held_ms``).

Times ending in ``_ms`` are epoch milliseconds (``time.time() * 1000``, the machine's clock).
Anything else (text lines, other JSON, a field of the wrong type) is skipped, never an error: a
picture with less detail is better than none.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "LIBRARY_LOGGER",
    "ExtensionEvent",
    "InitDetail",
    "InitWait",
    "InitsSettled",
    "InvocationWaited",
    "parse_line",
]

LIBRARY_LOGGER = "lambda_warmup"
EXTENSION_EVENTS = frozenset({"registered", "report_received", "hold_ended"})


@dataclass(frozen=True)
class InitWait:
    """Time an init spent awaiting another init (``on``), epoch ms."""

    on: str
    start_ms: float
    end_ms: float


@dataclass(frozen=True)
class InitDetail:
    name: str
    required: bool
    status: str
    duration_ms: float | None
    attempts: int | None
    error: str | None
    started_ms: float | None
    attempt_spans: tuple[tuple[float, float], ...]
    """Each attempt's (start, end), epoch ms, in order; the ones before the last failed."""
    waits: tuple[InitWait, ...]


@dataclass(frozen=True)
class InitsSettled:
    """The library's summary line: every init of the handler module has settled."""

    read_ms: float
    """When the sandbox read the line (epoch ms): about when the inits settled."""
    status: str
    duration_ms: float | None
    import_done_ms: float | None
    inits: tuple[InitDetail, ...]

    @property
    def settled_ms(self) -> float:
        """When the last init settled (its last attempt's end), else when the line came."""
        ends = [end for init in self.inits for _, end in init.attempt_spans]
        return max(ends) if ends else self.read_ms


@dataclass(frozen=True)
class InvocationWaited:
    read_ms: float
    waited_ms: float | None
    start_ms: float
    end_ms: float
    inits: tuple[str, ...]


@dataclass(frozen=True)
class ExtensionEvent:
    extension: str
    event: str
    """``registered``, ``report_received`` or ``hold_ended``."""
    at_ms: float
    held_ms: float | None = None
    fields: dict[str, Any] = field(default_factory=dict, compare=False)


Parsed = InitsSettled | InvocationWaited | ExtensionEvent


def parse_line(source: str, line: str, read_ms: float) -> Parsed | None:
    """One log line of ``source`` (``function`` or an extension's name), read at ``read_ms``
    (epoch ms): what it says about the inits, or None."""
    doc = _json_object(source, line)
    if doc is None:
        return None
    event = doc.get("event")
    logger = doc.get("logger")
    if source == "function":
        if not isinstance(logger, str) or logger.split(".")[0] != LIBRARY_LOGGER:
            return None
        if event == "inits_settled":
            return _inits_settled(doc, read_ms)
        if event == "invocation_waited":
            return _invocation_waited(doc, read_ms)
        return None
    if event not in EXTENSION_EVENTS:
        return None
    return ExtensionEvent(
        extension=logger if isinstance(logger, str) and logger else source,
        event=str(event),
        at_ms=_timestamp_ms(doc.get("timestamp")) or read_ms,
        held_ms=_number(doc.get("held_ms")),
        fields=doc,
    )


def _json_object(source: str, line: str) -> dict[str, Any] | None:
    text = line.strip()
    tag = f"[{source}]"
    if text.startswith(tag):  # an extension that tags its own lines
        text = text[len(tag) :].lstrip()
    if not text.startswith("{"):
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _inits_settled(doc: dict[str, Any], read_ms: float) -> InitsSettled:
    raw = doc.get("inits")
    inits = tuple(
        init
        for init in (_init_detail(item) for item in (raw if isinstance(raw, list) else []))
        if init is not None
    )
    return InitsSettled(
        read_ms=read_ms,
        status=str(doc.get("status") or "unknown"),
        duration_ms=_number(doc.get("duration_ms")),
        import_done_ms=_number(doc.get("import_done_ms")),
        inits=inits,
    )


def _init_detail(item: Any) -> InitDetail | None:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        return None
    spans = _pairs(item.get("attempt_spans"))
    waits = []
    for wait in item.get("waits") or []:
        if not isinstance(wait, dict) or not isinstance(wait.get("on"), str):
            continue
        start, end = _number(wait.get("start_ms")), _number(wait.get("end_ms"))
        if start is not None and end is not None and end >= start:
            waits.append(InitWait(wait["on"], start, end))
    attempts = _number(item.get("attempts"))
    error = item.get("error")
    return InitDetail(
        name=item["name"],
        required=item.get("required") is not False,
        status=str(item.get("status") or "unknown"),
        duration_ms=_number(item.get("duration_ms")),
        attempts=int(attempts) if attempts is not None else None,
        error=str(error) if error else None,
        started_ms=_number(item.get("started_ms")),
        attempt_spans=spans,
        waits=tuple(waits),
    )


def _invocation_waited(doc: dict[str, Any], read_ms: float) -> InvocationWaited | None:
    start, end = _number(doc.get("start_ms")), _number(doc.get("end_ms"))
    if start is None or end is None or end < start:
        return None
    inits = doc.get("inits")
    names = tuple(str(n) for n in inits) if isinstance(inits, list) else ()
    return InvocationWaited(read_ms, _number(doc.get("waited_ms")), start, end, names)


def _pairs(value: Any) -> tuple[tuple[float, float], ...]:
    out = []
    for pair in value if isinstance(value, list) else []:
        if isinstance(pair, list | tuple) and len(pair) == 2:
            start, end = _number(pair[0]), _number(pair[1])
            if start is not None and end is not None and end >= start:
                out.append((start, end))
    return tuple(out)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _timestamp_ms(value: Any) -> float | None:
    """An ISO 8601 timestamp with a fraction of a second, as epoch ms; None otherwise (a
    whole-second timestamp would place the event up to a second early: the read time is
    better)."""
    if not isinstance(value, str) or "." not in value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:  # Lambda's timestamps are UTC
        when = when.replace(tzinfo=UTC)
    return when.timestamp() * 1000
