"""The completion report sent to the extension, and its delivery.

Format ``lambda-warmup/1`` (documented in the README): one JSON object per worker process,
``POST http://127.0.0.1:$WARMUP_PORT/report``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, NotRequired, TypedDict

from . import _constants as c
from .exceptions import describe

if TYPE_CHECKING:
    from ._handles import InitHandle
    from ._settings import Settings

logger = logging.getLogger("lambda_warmup")

#: The extension refuses a larger report (413). One that would be larger lists as many inits as
#: fit, failed ones first, and counts the others in ``inits_omitted``: a function with hundreds
#: of inits still releases the hold at once, instead of holding INIT until ``WARMING_TIMEOUT``.
MAX_REPORT_BYTES = c.MAX_REPORT_BYTES
#: The extension answers 503 while all its connection slots are taken (a silent client keeps
#: one for at most 2 s): the report is sent again, after 50 ms, doubling up to 0.5 s, for as
#: long as ``WARMUP_REPORT_TIMEOUT`` allows in all (the extension counts a pid's report once).
BUSY_RETRY_DELAY = 0.05
BUSY_RETRY_MAX_DELAY = 0.5
#: How long the plain first attempt may take before the httpx path takes over (the extension
#: answers in about a millisecond).
PLAIN_ATTEMPT_TIMEOUT = 0.25


type Outcome = Literal["ok", "failed"]


class InitEntry(TypedDict):
    """One init in the report."""

    name: str
    required: bool
    status: Outcome
    duration_ms: float
    attempts: int
    #: ``Type: message`` of the last failure, cut at ``REPORT_ERROR_CHARS``; ``None`` if ok.
    error: str | None


class Report(TypedDict):
    """The report as sent: README's "The report (``lambda-warmup/1``)"."""

    format: Literal["lambda-warmup/1"]
    #: ``failed`` when a required init failed.
    status: Outcome
    pid: int
    #: How many worker processes each send a report (``AWS_LAMBDA_MAX_CONCURRENCY`` on LMI).
    workers: int
    #: From the first init's start to the last one's settling.
    duration_ms: float
    inits: list[InitEntry]
    #: Only in a report cut to fit ``MAX_REPORT_BYTES``: how many inits it leaves out.
    inits_omitted: NotRequired[int]


def build_report(handles: Sequence[InitHandle[Any]], settings: Settings) -> Report:
    inits = [init_entry(handle) for handle in handles]
    starts = [h.started_at for h in handles if h.started_at is not None]
    ends = [h.finished_at for h in handles if h.finished_at is not None]
    failed = any(h.required and h.state != "ok" for h in handles)
    return {
        "format": c.REPORT_FORMAT,
        "status": "failed" if failed else "ok",
        "pid": os.getpid(),
        "workers": settings.workers,
        "duration_ms": _ms(max(ends) - min(starts)) if starts and ends else 0.0,
        "inits": inits,
    }


def init_entry(handle: InitHandle[Any]) -> InitEntry:
    error = handle.error
    return {
        "name": handle.name,
        "required": handle.required,
        "status": "ok" if handle.state == "ok" else "failed",
        "duration_ms": _ms(handle.duration or 0.0),
        "attempts": handle.attempts,
        # Type and message only, cut short: the traceback is in the function's own log.
        "error": describe(error)[: c.REPORT_ERROR_CHARS] if error is not None else None,
    }


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def encode_report(report: Report, limit: int = MAX_REPORT_BYTES) -> bytes:
    """The report as sent: JSON of at most ``limit`` bytes (see :data:`MAX_REPORT_BYTES`)."""
    body = _dumps(report)
    if len(body) <= limit:
        return body
    inits = sorted(report["inits"], key=lambda init: init["status"] == "ok")  # failed first

    def cut(count: int) -> bytes:
        short: Report = {**report, "inits": inits[:count], "inits_omitted": len(inits) - count}
        return _dumps(short)

    low, high = 0, len(inits)  # the most inits that fit: cut(low) fits, cut(high + 1) does not
    while low < high:
        middle = (low + high + 1) // 2
        if len(cut(middle)) <= limit:
            low = middle
        else:
            high = middle - 1
    return cut(low)


def _dumps(document: Mapping[str, object]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


async def send_report(report: Report, settings: Settings) -> bool:
    """POST the report; an undeliverable report is one log line, never an exception.

    The first attempt is a plain HTTP/1.1 POST on an asyncio stream (:func:`_post_plain`): httpx's
    import and a client (~50 ms, on the path from the last init to INIT's end, and ~8 MB) are
    paid only when that attempt is not answered 202 at once; the httpx path below then does
    everything as before (retries while busy, one log line).
    """
    import asyncio

    url = f"http://127.0.0.1:{settings.port}{c.REPORT_PATH}"
    body = encode_report(report)
    clock = asyncio.get_running_loop().time
    deadline = clock() + settings.report_timeout
    try:
        async with asyncio.timeout(min(settings.report_timeout, PLAIN_ATTEMPT_TIMEOUT)):
            if await _post_plain(settings.port, body):
                return True
    except TimeoutError:  # _post_plain lets no OSError out: the attempt ran out of time
        pass
    import httpx  # deferred: tens of ms at import, paid only when the plain POST did not do

    delay = BUSY_RETRY_DELAY
    # A busy extension answers 503, and closes at once: a client whose request it did not read
    # may see the connection reset instead of the 503. Both are retried; a refused connection
    # (nothing listens) and a timeout are not.
    busy = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)
    try:
        async with httpx.AsyncClient(timeout=settings.report_timeout) as client:
            while True:
                try:
                    response = await client.post(
                        url, content=body, headers={"Content-Type": "application/json"}
                    )
                except busy:
                    if clock() + delay > deadline:
                        raise
                else:
                    if response.status_code != 503 or clock() + delay > deadline:
                        break
                await asyncio.sleep(delay)  # every connection slot busy: one frees within 2 s
                delay = min(delay * 2, BUSY_RETRY_MAX_DELAY)
    except httpx.HTTPError as error:
        logger.warning(
            "lambda-warmup: report not delivered to %s (%s); is the layer's extension running?",
            url,
            describe(error),
        )
        return False
    if response.status_code != 202:
        logger.warning(
            "lambda-warmup: report refused by %s with HTTP %d: %s",
            url,
            response.status_code,
            response.text[:200],
        )
        return False
    return True


async def _post_plain(port: int, body: bytes) -> bool:
    """One POST of the report over a plain stream; whether it was answered 202. A refused or
    reset connection, or any other answer, is only ``False``; the caller bounds the time."""
    import asyncio

    head = (
        f"POST {c.REPORT_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode("ascii")
    answer = b""
    writer: asyncio.StreamWriter | None = None
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(head + body)
        await writer.drain()
        while b"\r\n" not in answer and len(answer) < 1024:
            received = await reader.read(1024)
            if not received:  # closed before a status line
                break
            answer += received
    except OSError:
        pass
    finally:
        if writer is not None:
            writer.close()
    status_line = answer.split(b"\r\n", 1)[0].split(b" ", 2)
    return (
        len(status_line) >= 2 and status_line[0].startswith(b"HTTP/1.") and status_line[1] == b"202"
    )
