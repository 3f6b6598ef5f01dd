"""The ASGI types the adapter speaks, and the request and response it passes between an event
format and the app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Literal

type Scope = MutableMapping[str, Any]
type Message = MutableMapping[str, Any]
type Receive = Callable[[], Awaitable[Message]]
type Send = Callable[[Message], Awaitable[None]]
#: An ASGI 3 application: FastAPI, Starlette, Quart, Litestar, or a bare ``async def``.
type ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: ``"auto"``: run the lifespan if the app supports it; ``"on"``: the app must; ``"off"``: never.
type LifespanMode = Literal["auto", "on", "off"]

#: ``[name, value]`` pairs as ASGI gives them: names lowercase, repeats kept in order.
type HeaderList = list[tuple[bytes, bytes]]


@dataclass(frozen=True)
class HttpRequest:
    """One request as read from an event, before it becomes an ASGI ``http`` scope."""

    method: str
    #: Decoded, and including ``root_path`` (ASGI: the full path the client asked for).
    path: str
    raw_path: bytes
    root_path: str
    query_string: bytes
    headers: HeaderList
    body: bytes
    scheme: str
    server: tuple[str, int] | None
    client: tuple[str, int] | None


@dataclass
class HttpResponse:
    """What the app sent: its status, headers (in order, repeats kept) and whole body."""

    status: int
    headers: HeaderList = field(default_factory=list)
    body: bytes = b""

    def header_items(self) -> list[tuple[str, str]]:
        """The headers as text, names lowercase (values UTF-8, as Lambda's JSON carries them;
        bytes that are not UTF-8 read as latin-1, HTTP's historical header charset)."""
        return [(_text(name).lower(), _text(value)) for name, value in self.headers]

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (lowercase), if the app sent it."""
        return next((value for key, value in self.header_items() if key == name), None)


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")
