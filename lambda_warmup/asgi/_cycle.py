"""One HTTP request through the app: the ASGI ``http`` scope, ``receive``, ``send``, and the
buffered response (Lambda answers with one JSON document, so nothing streams)."""

from __future__ import annotations

import logging
from typing import Any

import anyio

from ..exceptions import describe
from ._types import ASGIApp, HttpRequest, HttpResponse, Message

logger = logging.getLogger("lambda_warmup.asgi")

_SERVER_ERROR = HttpResponse(
    500, [(b"content-type", b"text/plain; charset=utf-8")], b"Internal Server Error"
)


def http_scope(
    request: HttpRequest, state: dict[str, Any], event: Any, context: Any
) -> dict[str, Any]:
    """The ASGI ``http`` scope of ``request``, with a copy of the lifespan's state (the ASGI
    spec: each request gets a shallow copy) and the Lambda event and context."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": request.scheme,
        "path": request.path,
        "raw_path": request.raw_path,
        "query_string": request.query_string,
        "root_path": request.root_path,
        "headers": request.headers,
        "client": request.client,
        "server": request.server,
        "state": dict(state),
        "aws.event": event,
        "aws.context": context,
    }


async def run_request(app: ASGIApp, scope: dict[str, Any], body: bytes) -> HttpResponse:
    """Call the app once; its response, or a 500 when it raises before finishing one.

    An exception the app lets out is logged once, with its traceback. If the app had already
    sent a whole response (Starlette sends its own 500, then re-raises), that response stands.
    """
    cycle = _Cycle(body)
    try:
        await app(scope, cycle.receive, cycle.send)
    except anyio.get_cancelled_exc_class():
        raise
    except BaseException as error:  # the app's own, even SystemExit: never the loop's
        logger.error(
            "lambda-warmup: the ASGI app raised on %s %s: %s",
            scope["method"],
            scope["path"],
            describe(error),
            exc_info=error,
        )
        return cycle.response if cycle.complete else _server_error()
    finally:
        cycle.finish()
    if not cycle.complete:
        logger.error(
            "lambda-warmup: the ASGI app returned without a complete response to %s %s",
            scope["method"],
            scope["path"],
        )
        return _server_error()
    return cycle.response


def _server_error() -> HttpResponse:
    return HttpResponse(_SERVER_ERROR.status, list(_SERVER_ERROR.headers), _SERVER_ERROR.body)


class _Cycle:
    """``receive`` gives the body once, then waits for the response to end (``http.disconnect``);
    ``send`` collects the response."""

    def __init__(self, body: bytes) -> None:
        self._body: bytes | None = body
        self._chunks: list[bytes] = []
        self._started = False
        self.complete = False
        self.response = HttpResponse(500)
        self._ended = anyio.Event()

    async def receive(self) -> Message:
        if self._body is not None:
            body, self._body = self._body, None
            return {"type": "http.request", "body": body, "more_body": False}
        await self._ended.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        kind = message.get("type")
        if kind == "http.response.start" and not self._started:
            self._started = True
            self.response.status = int(message["status"])
            self.response.headers = [
                (bytes(name).lower(), bytes(value)) for name, value in message.get("headers", ())
            ]
            return
        if kind == "http.response.body" and self._started and not self.complete:
            self._chunks.append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                self.response.body = b"".join(self._chunks)
                self.complete = True
                self._ended.set()
            return
        state = "after the response ended" if self.complete else "here"
        raise RuntimeError(f"unexpected ASGI message {kind!r} {state}")

    def finish(self) -> None:
        """The app returned: a task still waiting in ``receive`` gets ``http.disconnect``."""
        self._ended.set()
