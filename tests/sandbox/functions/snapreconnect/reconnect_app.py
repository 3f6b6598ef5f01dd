"""A function whose INIT opens ``CONNECTIONS`` (default 2) TCP connections to ``PEER_PORT`` on
127.0.0.1 and keeps them open, as a database pool with ``min_size=2`` does: each one is a thread
that connects, says ``hello <index> <generation>``, waits in ``recv``, and when the connection
ends (end of file, a reset, any error) connects again at once.

The handler says, per connection, which one it is on now (its generation and local port) and
how each earlier one ended (its local port and the error). With ``{"wait_replaced": true}`` it
first waits (bounded) until every connection has been lost once and replaced: what a restored
copy must do when the connection it had at the snapshot is dead.
"""

import os
import socket
import threading
import time
from typing import Any

PEER = ("127.0.0.1", int(os.environ["PEER_PORT"]))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "2"))
CONNECT_WITHIN_S = 2.0
REPLACED_WITHIN_S = 3.0


class Connection:
    def __init__(self, index: int) -> None:
        self.index = index
        self.generation = 0
        """How many connections this slot has opened."""
        self.local_port = 0
        self.lost: list[dict[str, Any]] = []
        """How each earlier connection ended: its local port and the error (or ``EOF``)."""
        self.changed = threading.Condition()
        threading.Thread(target=self._keep, name=f"conn-{index}", daemon=True).start()

    def state(self) -> dict[str, Any]:
        with self.changed:
            return {
                "index": self.index,
                "generation": self.generation,
                "local_port": self.local_port,
                "lost": list(self.lost),
            }

    def _keep(self) -> None:
        while True:
            try:
                sock = socket.create_connection(PEER, timeout=CONNECT_WITHIN_S)
            except OSError:
                time.sleep(0.005)  # the peer is not there (the test is over): try again soon
                continue
            sock.settimeout(None)
            port = sock.getsockname()[1]
            with self.changed:
                self.generation += 1
                self.local_port = port
                generation = self.generation
                self.changed.notify_all()
            try:
                sock.sendall(f"hello {self.index} {generation}\n".encode())
                while sock.recv(4096):
                    pass
                ended = "EOF"
            except OSError as exc:
                ended = type(exc).__name__
            finally:
                sock.close()
            with self.changed:
                self.lost.append({"local_port": port, "error": ended})
                self.changed.notify_all()
            # ...and connect again at once, as a pool keeping its minimum size does.

    def connected(self) -> bool:
        return self.generation >= 1

    def replaced(self) -> bool:
        """The connection it had was lost, and it is connected again."""
        return len(self.lost) >= 1 and self.generation == len(self.lost) + 1


POOL = [Connection(i) for i in range(CONNECTIONS)]
for _conn in POOL:
    with _conn.changed:
        if not _conn.changed.wait_for(_conn.connected, CONNECT_WITHIN_S):
            raise RuntimeError(f"connection {_conn.index} to {PEER} not made within 2 s")


def handler(event: Any, context: Any) -> Any:
    replaced = []
    if event.get("wait_replaced"):
        for conn in POOL:
            with conn.changed:
                replaced.append(conn.changed.wait_for(conn.replaced, REPLACED_WITHIN_S))
    return {"pid": os.getpid(), "replaced": replaced, "pool": [c.state() for c in POOL]}
