"""TCP sockets from ``_socket``, the C module under ``socket.py``.

``import socket`` costs ~5 ms of wall time here (it builds ``IntEnum`` classes for every
constant, pulling in ``enum`` and ``selectors``), a quarter of the extension's time to
``register``; the extension needs only what ``_socket`` already has, plus the two helpers below
that ``socket.py`` would add (``create_connection`` and ``accept``). :func:`connect` also keeps
``getaddrinfo`` from loading the ``idna`` codec (another ~5 ms). ``_socket`` has been
CPython's socket implementation, with this interface, for as long as ``socket.py`` has wrapped
it; Lambda's Python runtimes are CPython.
"""

from __future__ import annotations

import _socket

Socket = _socket.socket
AF_INET = _socket.AF_INET
SOCK_STREAM = _socket.SOCK_STREAM
IPPROTO_TCP = _socket.IPPROTO_TCP
TCP_NODELAY = _socket.TCP_NODELAY
SOL_SOCKET = _socket.SOL_SOCKET
SO_REUSEADDR = _socket.SO_REUSEADDR
SHUT_WR = _socket.SHUT_WR
SHUT_RDWR = _socket.SHUT_RDWR


def connect(host: str, port: int, timeout: float) -> Socket:
    """A connected TCP socket, as ``socket.create_connection`` gives (first address that works)."""
    last: OSError | None = None
    # A str host makes getaddrinfo load the "idna" codec, and with it re, stringprep and
    # unicodedata (~5 ms, measured with strace); an ASCII host passed as bytes skips all that.
    name: str | bytes = host.encode("ascii") if host.isascii() else host
    for family, kind, proto, _, address in _socket.getaddrinfo(name, port, 0, SOCK_STREAM):
        sock = Socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(address)
        except OSError as error:
            sock.close()
            last = error
            continue
        sock.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)
        return sock
    raise last if last is not None else OSError(f"no address for {host}:{port}")


def listen(host: str, port: int, backlog: int) -> Socket:
    """A listening IPv4 TCP socket on ``host:port``; ``OSError`` if it cannot be bound."""
    sock = Socket(AF_INET, SOCK_STREAM)
    try:
        # Lets a restarted extension bind while old connections sit in TIME_WAIT; on Linux it
        # does not let two sockets listen on one port.
        sock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


def accept(sock: Socket) -> tuple[Socket, tuple[str, int]]:
    """``socket.socket.accept`` over ``_socket``: a blocking connection and the peer address."""
    fd, peer = sock._accept()  # type: ignore[attr-defined]  # not in typeshed; socket.py uses it
    conn = Socket(sock.family, sock.type, sock.proto, fileno=fd)
    conn.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)
    return conn, peer
