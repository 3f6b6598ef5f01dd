"""A client for the Lambda Extensions API (version 2020-01-01), over plain sockets.

``http.client`` costs 13-18 ms to import on the machines we measured, on the critical path of
every cold start; the few calls below need little of HTTP/1.1: one request per connection
(``Connection: close``), a response read by ``Content-Length``, chunked coding or to EOF (by
:class:`._http.Reader`, which the report listener reads its requests with too).

Errors are two exceptions: :class:`ApiUnreachable` (connecting, sending or reading failed, or
the answer was not HTTP; worth a bounded retry) and :class:`ApiRefused` (an HTTP error status;
not retried). Only ``event/next`` waits without a timeout, as the API requires (the sandbox may
be frozen inside it for hours).
"""

from __future__ import annotations

from . import _net
from ._http import Reader

VERSION_PATH = "/2020-01-01/extension"
#: Bound on connecting, and on each read of every call except ``event/next``.
CALL_TIMEOUT_S = 3.0


class ApiError(Exception):
    """A call to the Extensions API failed."""


class ApiUnreachable(ApiError):
    """No usable HTTP answer: refused, reset, timed out, or garbled."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        #: The call may have reached the API (so retrying ``register`` could register twice).
        self.timed_out = timed_out


class ApiRefused(ApiError):
    """The API answered with an error status."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"HTTP {status}: {body[:300].decode('utf-8', 'replace')}")
        self.status = status
        self.body = body


class Response:
    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        #: Lower-case names.
        self.headers = headers
        self.body = body


class ExtensionsApi:
    """``ExtensionsApi("127.0.0.1:9001", "lambda-warmup")``; one object per process."""

    def __init__(self, address: str, name: str) -> None:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"AWS_LAMBDA_RUNTIME_API={address!r} is not host:port")
        self.host = host.strip("[]")
        self.port = int(port)
        self.name = name
        self._host_header = address

    def register(self, events: list[str]) -> str:
        """Register for ``events``; the ``Lambda-Extension-Identifier`` to use from now on."""
        body = ('{"events":[' + ",".join(f'"{e}"' for e in events) + "]}").encode()
        response = self._call(
            "POST", "/register", body, {"Lambda-Extension-Name": self.name}, CALL_TIMEOUT_S
        )
        identifier = response.headers.get("lambda-extension-identifier", "").strip()
        if not identifier:  # not retried: the registration itself may have succeeded
            raise ApiRefused(response.status, b"no Lambda-Extension-Identifier header")
        return identifier

    def next_event(self, identifier: str) -> dict[str, object]:
        """Block until the next event (no timeout: the sandbox may be frozen in here)."""
        import json  # loaded after register with the report listener; free by now

        headers = {"Lambda-Extension-Identifier": identifier}
        body = self._call("GET", "/event/next", b"", headers, None).body
        try:
            event = json.loads(body)
        except ValueError:  # also UnicodeDecodeError
            event = None
        if not isinstance(event, dict) or not isinstance(event.get("eventType"), str):
            raise ApiUnreachable(f"event/next: not an event: {body[:200]!r}")
        return event

    def init_error(self, identifier: str, error_type: str, message: str) -> None:
        """Report a failure during Init; Lambda then restarts the environment."""
        self._report_error("/init/error", identifier, error_type, message)

    def exit_error(self, identifier: str, error_type: str, message: str) -> None:
        """Report a failure after Init, before exiting."""
        self._report_error("/exit/error", identifier, error_type, message)

    def _report_error(self, path: str, identifier: str, error_type: str, message: str) -> None:
        body = _json_object({"errorMessage": message, "errorType": error_type})
        headers = {
            "Lambda-Extension-Identifier": identifier,
            "Lambda-Extension-Function-Error-Type": error_type,
        }
        self._call("POST", path, body, headers, CALL_TIMEOUT_S)

    def _call(
        self,
        method: str,
        path: str,
        body: bytes,
        headers: dict[str, str],
        read_timeout: float | None,
    ) -> Response:
        head = [f"{method} {VERSION_PATH}{path} HTTP/1.1", f"Host: {self._host_header}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        if method == "POST":
            head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        head += ["Connection: close", "", ""]
        request = "\r\n".join(head).encode("latin-1") + body
        try:
            sock = _net.connect(self.host, self.port, CALL_TIMEOUT_S)
            try:
                sock.sendall(request)
                sock.settimeout(read_timeout)
                response = _read_response(sock)
            finally:
                sock.close()
        except OSError as error:  # refused, reset, timeout (TimeoutError is an OSError)
            raise ApiUnreachable(
                f"{method} {path}: {_describe(error)}", timed_out=isinstance(error, TimeoutError)
            ) from None
        except ValueError as error:
            raise ApiUnreachable(f"{method} {path}: bad response: {error}") from None
        if not 200 <= response.status < 300:
            raise ApiRefused(response.status, response.body)
        return response


def _read_response(sock: _net.Socket) -> Response:
    # Each read is bounded by the socket's own timeout, which the caller set.
    reader = Reader(sock, "response")
    status_line = reader.line()
    version, _, rest = status_line.partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise ValueError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
    headers: dict[str, str] = {}
    while line := reader.line():
        name, colon, value = line.partition(":")
        if not colon:
            raise ValueError(f"malformed header line {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = reader.chunked()
    elif "content-length" in headers:
        body = reader.exactly(int(headers["content-length"]))
    else:
        body = reader.to_eof()
    return Response(int(code), headers, body)


def _describe(error: OSError) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    return f"{type(error).__name__}: {error.strerror or error}"


def _json_object(fields: dict[str, str]) -> bytes:
    """A flat JSON object of strings, without importing ``json`` (it may not be loaded yet)."""

    def quote(text: str) -> str:
        out = []
        for char in text:
            if char in '"\\':
                out.append("\\" + char)
            elif ord(char) < 0x20:
                out.append(f"\\u{ord(char):04x}")
            else:
                out.append(char)
        return '"' + "".join(out) + '"'

    items = ",".join(f"{quote(key)}:{quote(value)}" for key, value in fields.items())
    return ("{" + items + "}").encode("utf-8")
