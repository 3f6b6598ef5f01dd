"""A function that opens a TCP connection at import (to ``PEER_PORT`` on 127.0.0.1) and uses it
in every invocation: what a pool made in INIT does."""

import os
import socket
from typing import Any

_conn = socket.create_connection(("127.0.0.1", int(os.environ["PEER_PORT"])), timeout=2)


def handler(event: Any, context: Any) -> Any:
    try:
        _conn.sendall(b"ping\n")
        return {"reply": _conn.recv(100).decode()}
    except OSError as exc:
        return {"error": type(exc).__name__}
