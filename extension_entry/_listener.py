"""The report listener: a small HTTP/1.1 server on 127.0.0.1, one thread per connection.

It is started before ``register`` (a function can report the instant the runtime starts) and
runs until the process exits, so late reports are still heard. It answers only
``POST /report`` (see :mod:`._report`), one request per connection:

=================================================== =========================================
request                                             answer
=================================================== =========================================
a valid report                                      202 ``{"status":"accepted"}``
another path / another method                       404 / 405
no ``Content-Length`` (or chunked)                  411
``Content-Length`` not a number / over 64 KiB       400 / 413, body not read
``Content-Type`` not ``application/json``           415
body not a ``lambda-warmup/1`` report               400, with the reason
headers over 8 KiB                                  431
client silent for :data:`READ_TIMEOUT_S`, or slower 408 (the connection is closed)
than :data:`REQUEST_DEADLINE_S` overall
more than :data:`MAX_CONNECTIONS` at once           503
=================================================== =========================================

Every rejection is one log line, and changes nothing; 503s, which a flood brings by the
thousand, are counted in one line per :data:`REFUSED_LOG_INTERVAL_S` instead. A stalled client
holds one thread for at most :data:`REQUEST_DEADLINE_S`, never the listener or the extension.

The socket is bound and listening before ``register`` (:func:`._net.listen`): from then on the
kernel queues connections, so no report is lost. This class, which needs ``threading`` and the
report parser (``json``, ``re``), is loaded only after ``register`` and serves what was queued.
"""

from __future__ import annotations

import threading
import time

from . import _net
from ._http import Reader, TooLarge
from ._protocol import MAX_REPORT_BYTES, REPORT_FORMAT, REPORT_PATH
from ._report import Report, ReportError, parse_report

TYPE_CHECKING = False  # typing and collections.abc cost ms to import; mypy reads True
if TYPE_CHECKING:
    from collections.abc import Callable

MAX_HEAD_BYTES = 8 * 1024
MAX_BODY_BYTES = MAX_REPORT_BYTES
#: Longest silence from a client before its connection is closed.
READ_TIMEOUT_S = 2.0
#: Longest a single request may take from accept to the whole body read.
REQUEST_DEADLINE_S = 5.0
#: Connections served at once; more are answered 503 at once.
MAX_CONNECTIONS = 32
#: 503s are logged as a count, at most one line per interval (the rest when a slot frees).
REFUSED_LOG_INTERVAL_S = 1.0
#: After rejecting a request, how long to drain what the client is still sending (so that
#: closing with unread data does not reset the connection before the client reads the answer).
DRAIN_S = 0.2
DRAIN_BYTES = 256 * 1024

_REASONS = {
    202: "Accepted",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    411: "Length Required",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class Rejected(Exception):
    """Answer ``status`` with ``message``; nothing else happens."""

    def __init__(self, status: int, message: str, *, drain: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.drain = drain


class ReportListener:
    """``ReportListener(_net.listen("127.0.0.1", port, backlog), on_report, log).start()``."""

    def __init__(
        self,
        sock: _net.Socket,
        on_report: Callable[[Report], None],
        log: Callable[[str], None],
    ) -> None:
        self._sock = sock
        self._on_report = on_report
        self._log = log
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._closed = False
        self._refused_lock = threading.Lock()
        self._refused = 0  # 503s answered and not logged yet
        self._refused_logged_at = -REFUSED_LOG_INTERVAL_S

    def start(self) -> None:
        """Serve the listening socket from a daemon thread (connections queued so far first)."""
        threading.Thread(target=self._accept_loop, name="report-listener", daemon=True).start()

    def close(self) -> None:
        """Stop listening. ``shutdown`` first: a bare ``close`` would not wake the thread
        blocked in ``accept``, and the port would stay bound until the process exits."""
        self._closed = True
        try:  # noqa: SIM105 (contextlib is not loaded, and not worth loading for this)
            self._sock.shutdown(_net.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()

    def _accept_loop(self) -> None:
        sock = self._sock
        while True:
            try:
                conn, peer = _net.accept(sock)
            except OSError:
                if self._closed:
                    return
                time.sleep(0.01)  # EMFILE and the like: do not spin
                continue
            if not self._slots.acquire(blocking=False):
                self._answer(conn, 503, "too many connections", drain=False)
                conn.close()
                self._count_refused(throttle=True)
                continue
            thread = threading.Thread(
                target=self._serve, args=(conn, peer), name="report-conn", daemon=True
            )
            try:
                thread.start()
            except RuntimeError:  # "can't start new thread": out of memory or threads
                self._answer(conn, 503, "cannot serve now", drain=False)
                conn.close()
                self._slots.release()
                self._count_refused(throttle=True)

    def _serve(self, conn: _net.Socket, peer: tuple[str, int]) -> None:
        started = time.monotonic()
        what = "request"
        try:
            reader = Reader(conn, "request", started + REQUEST_DEADLINE_S, READ_TIMEOUT_S)
            what, body = self._read_request(reader, conn)
            report = self._parse(body)
            self._on_report(report)  # counted before the sender hears 202
            self._answer(conn, 202, None, drain=False)
        except Rejected as rejected:
            self._log(f"rejected {what} from {peer[0]}:{peer[1]}: {rejected.status} {rejected}")
            self._answer(conn, rejected.status, rejected.message, drain=rejected.drain)
        except OSError as error:  # the client went away; nothing to answer
            self._log(f"dropped {what} from {peer[0]}:{peer[1]}: {type(error).__name__}")
        except Exception as error:  # a bug of ours: one line, an answer, and keep serving
            self._log(f"internal error on {what}: {type(error).__name__}: {error}")
            self._answer(conn, 500, "internal error", drain=False)
        finally:
            conn.close()
            self._slots.release()
            if self._refused:
                self._count_refused(throttle=False, new=0)

    def _count_refused(self, *, throttle: bool, new: int = 1) -> None:
        """Count ``new`` 503s; log the count unless one was logged less than an interval ago."""
        with self._refused_lock:
            self._refused += new
            now = time.monotonic()
            if not self._refused or (
                throttle and now - self._refused_logged_at < REFUSED_LOG_INTERVAL_S
            ):
                return
            count, self._refused, self._refused_logged_at = self._refused, 0, now
        self._log(
            f"rejected {count} connection(s): 503 too many connections "
            f"({MAX_CONNECTIONS} are served at once)"
        )

    def _read_request(self, reader: Reader, conn: _net.Socket) -> tuple[str, bytes]:
        try:
            head = reader.head(MAX_HEAD_BYTES)
        except TimeoutError:
            raise _not_in_time() from None
        except TooLarge:
            raise Rejected(431, f"request head over {MAX_HEAD_BYTES} bytes") from None
        lines = head.split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise Rejected(400, f"not an HTTP/1.x request line: {lines[0][:80]!r}")
        method, target, _ = parts
        what = f"{method[:16]} {target[:100]}"
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                raise Rejected(400, f"malformed header line {line[:80]!r}")
            key = name.lower()
            if key in headers and key == "content-length" and headers[key] != value.strip():
                raise Rejected(400, "conflicting Content-Length headers")
            headers[key] = value.strip()
        try:
            return what, self._read_body(reader, conn, method, target, headers)
        except Rejected as rejected:
            rejected.args = (f"{what}: {rejected.message}",)
            raise

    def _read_body(
        self,
        reader: Reader,
        conn: _net.Socket,
        method: str,
        target: str,
        headers: dict[str, str],
    ) -> bytes:
        if target.split("?", 1)[0] != REPORT_PATH:
            raise Rejected(404, f"the only path is {REPORT_PATH}")
        if method != "POST":
            raise Rejected(405, "only POST is accepted")
        if "transfer-encoding" in headers:
            raise Rejected(411, "send the body with a Content-Length, not chunked")
        length_text = headers.get("content-length")
        if length_text is None:
            raise Rejected(411, "Content-Length is required")
        if not length_text.isdigit() or not length_text.isascii():
            raise Rejected(400, f"Content-Length {length_text[:40]!r} is not a number")
        length = int(length_text)
        if length > MAX_BODY_BYTES:
            raise Rejected(413, f"body of {length} bytes is over the {MAX_BODY_BYTES} byte limit")
        media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type != "application/json":
            raise Rejected(415, f"Content-Type must be application/json, not {media_type!r}")
        if headers.get("expect", "").lower() == "100-continue":
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        try:
            return reader.exactly(length)  # what follows is ignored: one request per connection
        except TimeoutError:
            raise _not_in_time() from None

    def _parse(self, body: bytes) -> Report:
        try:
            return parse_report(body)
        except ReportError as error:
            raise Rejected(400, f"not a {REPORT_FORMAT} report: {error}") from None

    def _answer(self, conn: _net.Socket, status: int, message: str | None, *, drain: bool) -> None:
        body = b'{"status":"accepted"}' if message is None else _error_body(message)
        extra = "Allow: POST\r\n" if status == 405 else ""
        head = (
            f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n"
        )
        try:
            conn.settimeout(READ_TIMEOUT_S)
            conn.sendall(head.encode("latin-1") + body)
            if drain:
                _drain(conn)
        except OSError:
            pass


def _not_in_time() -> Rejected:
    """A client silent for :data:`READ_TIMEOUT_S`, or slower than :data:`REQUEST_DEADLINE_S`."""
    return Rejected(408, "request not received in time", drain=False)


def _drain(conn: _net.Socket) -> None:
    """Read and drop what the client still sends, briefly, so closing does not reset it."""
    conn.shutdown(_net.SHUT_WR)
    deadline = time.monotonic() + DRAIN_S
    drained = 0
    while drained < DRAIN_BYTES and (remaining := deadline - time.monotonic()) > 0:
        conn.settimeout(remaining)
        try:
            data = conn.recv(65536)
        except TimeoutError:
            return
        if not data:
            return
        drained += len(data)


def _error_body(message: str) -> bytes:
    text = message.replace("\\", "\\\\").replace('"', '\\"')
    text = "".join(char if ord(char) >= 0x20 else " " for char in text)
    return ('{"status":"rejected","error":"' + text + '"}').encode("utf-8")
