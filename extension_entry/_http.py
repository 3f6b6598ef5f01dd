"""Reading HTTP/1.1 from a socket, for both of the extension's peers: the Extensions API client
(:mod:`._api`, a response) and the report listener (:mod:`._listener`, a request).

Both speak one message per connection (``Connection: close``), so a :class:`Reader` reads one
message: a head, then a body by ``Content-Length``, chunked coding or to EOF. It needs only
``time``: the API client uses it before ``register``.
"""

from __future__ import annotations

import time

from . import _net

#: The most a reader buffers, whatever it reads (Extensions API answers are a few hundred bytes,
#: a report at most 64 KiB).
MAX_BUFFER_BYTES = 1024 * 1024
RECV_BYTES = 65536


class TooLarge(ValueError):
    """The message, or the part asked for, is over a limit."""


class Reader:
    """Buffered reads from one socket.

    ``what`` names the message in errors (``response``, ``request``). Without ``deadline``,
    every read waits as long as the socket's own timeout allows (the caller sets it). With one
    (a ``time.monotonic()`` instant), each read waits at most ``idle_s`` and never past the
    deadline; either running out raises ``TimeoutError``. A peer that closes before the message
    is complete raises ``ConnectionResetError``.
    """

    def __init__(
        self,
        sock: _net.Socket,
        what: str,
        deadline: float | None = None,
        idle_s: float | None = None,
    ) -> None:
        self._sock = sock
        self._what = what
        self._deadline = deadline
        self._idle_s = idle_s
        self._buffer = b""

    def _fill(self) -> None:
        if self._deadline is not None:
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("deadline passed")
            self._sock.settimeout(
                remaining if self._idle_s is None else min(self._idle_s, remaining)
            )
        data = self._sock.recv(RECV_BYTES)
        if not data:
            raise ConnectionResetError(f"connection closed before the {self._what} was complete")
        self._buffer += data
        if len(self._buffer) > MAX_BUFFER_BYTES:
            raise TooLarge(f"{self._what} too large")

    def head(self, max_bytes: int) -> str:
        """Everything up to the blank line that ends the head, without it (latin-1);
        :class:`TooLarge` when that is over ``max_bytes``."""
        while (end := self._buffer.find(b"\r\n\r\n")) < 0:
            if len(self._buffer) > max_bytes:
                raise TooLarge(f"head over {max_bytes} bytes")
            self._fill()
        if end > max_bytes:
            raise TooLarge(f"head over {max_bytes} bytes")
        head, self._buffer = self._buffer[:end], self._buffer[end + 4 :]
        return head.decode("latin-1")

    def line(self) -> str:
        """The next line, without its CRLF (latin-1)."""
        while (end := self._buffer.find(b"\r\n")) < 0:
            self._fill()
        line, self._buffer = self._buffer[:end], self._buffer[end + 2 :]
        return line.decode("latin-1")

    def exactly(self, size: int) -> bytes:
        """The next ``size`` bytes; ``ValueError`` for a size below 0 or over the buffer limit."""
        if not 0 <= size <= MAX_BUFFER_BYTES:
            raise ValueError(f"bad Content-Length {size}")
        while len(self._buffer) < size:
            self._fill()
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def chunked(self) -> bytes:
        """A chunked body, its trailers read and dropped."""
        body = b""
        while size := int(self.line().split(";", 1)[0].strip(), 16):
            body += self.exactly(size)
            self.exactly(2)  # CRLF after each chunk
            if len(body) > MAX_BUFFER_BYTES:
                raise TooLarge(f"{self._what} too large")
        while self.line():  # trailers, then the blank line
            pass
        return body

    def to_eof(self) -> bytes:
        """Everything until the peer closes."""
        try:
            while True:
                self._fill()
        except ConnectionResetError:
            return self._buffer
