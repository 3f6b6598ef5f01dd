"""SnapStart snapshots and TCP connections to peers outside the sandbox (a database, say).

On Lambda every environment restored from a snapshot finds each connection made before the
snapshot dead. The sandbox cuts them at the checkpoint, with the tree frozen first: a pool that
reconnects at once when a connection drops (asyncpg's, with ``min_size=2``) must not get a new
connection in between the cut and the dump, or the snapshot would hold a live connection that
the first copy is served on, and that a later restore cannot even recreate (issue 15). The
tests assert what a user sees, with a listener of their own standing in for the database. The
connections inside the tree (the requests parked in ``next``) come back with the same addresses
in every copy: a restore waits until the previous copy's are closed.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from lambda_sandbox import _snapshot
from tests.support.ports import free_port
from tests.support.sandboxes import MakeSandbox, skip_without_snapshots

pytestmark = pytest.mark.e2e

WAIT_S = 5.0
#: How a connection the snapshot held ends in a restored copy (it was cut at the snapshot): a
#: thread blocked in ``recv`` on it finds the end of the stream, a ``send`` gets an error.
DEAD = {"EOF", "ConnectionAbortedError", "ConnectionResetError", "BrokenPipeError", "OSError"}
TCP_REPAIR = getattr(socket, "TCP_REPAIR", 19)  # <linux/tcp.h>


@pytest.fixture(autouse=True)
def _criu() -> None:
    skip_without_snapshots()


@dataclass
class Accepted:
    """One connection the listener accepted: the client's port, its hello, how it ended."""

    port: int
    hello: str = ""
    ended: str | None = None


class Listener:
    """A TCP server on 127.0.0.1 outside the sandbox: it accepts every connection, reads its
    ``hello`` line, and notes how it ends (``EOF`` or the error, ``ConnectionResetError`` for
    the reset a cut sends)."""

    def __init__(self) -> None:
        self.port = free_port()
        self._server = socket.create_server(("127.0.0.1", self.port))
        self.accepted: list[Accepted] = []
        self._cv = threading.Condition()
        self._conns: set[socket.socket] = set()
        self._threads = [threading.Thread(target=self._accept, name="test-listener", daemon=True)]
        self._threads[0].start()

    def close(self) -> None:
        """Stop accepting, end every connection, and wait (bounded) until its threads are done.

        ``shutdown`` first: a thread blocked in ``accept`` on a socket that is only closed stays
        blocked, and once its call is restarted it waits on whatever socket has taken the
        descriptor's number since (a later test's API server), taking its connections.
        """
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        self._threads[0].join(WAIT_S)
        with self._cv:
            conns, threads = list(self._conns), list(self._threads)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(WAIT_S)
        self._server.close()
        alive = [thread.name for thread in threads if thread.is_alive()]
        assert not alive, f"the listener's threads still run {WAIT_S} s after close: {alive}"

    def address(self, entry: Accepted) -> str:
        """The connection as the sandbox names it: local > peer, seen from the function."""
        return f"127.0.0.1:{entry.port} > 127.0.0.1:{self.port}"

    def wait_for(self, what: str, predicate: Callable[[], bool], timeout: float = WAIT_S) -> None:
        with self._cv:
            if not self._cv.wait_for(predicate, timeout):
                raise AssertionError(
                    f"the listener waited {timeout} s for {what}; accepted: {self.accepted}"
                )

    def wait_accepted(self, count: int, what: str) -> None:
        """Until ``count`` connections in all have been accepted, and each has said hello."""
        self.wait_for(
            f"{what} ({count} accepted in all, each with its hello)",
            lambda: len(self.accepted) >= count and all(a.hello for a in self.accepted),
        )

    def happens(self, predicate: Callable[[], bool], within: float) -> bool:
        """Whether ``predicate`` comes true within ``within`` seconds."""
        with self._cv:
            return self._cv.wait_for(predicate, within)

    def snapshot(self) -> list[Accepted]:
        with self._cv:
            return [Accepted(a.port, a.hello, a.ended) for a in self.accepted]

    def _accept(self) -> None:
        while True:
            try:
                conn, (_, port) = self._server.accept()
            except OSError:
                return  # shut down
            entry = Accepted(port)
            reader = threading.Thread(
                target=self._read, args=(conn, entry), name="test-listener-conn", daemon=True
            )
            with self._cv:
                self.accepted.append(entry)
                self._conns.add(conn)
                self._threads.append(reader)
                self._cv.notify_all()
            reader.start()

    def _read(self, conn: socket.socket, entry: Accepted) -> None:
        data = b""
        with conn:
            try:
                while chunk := conn.recv(4096):
                    data += chunk
                    if b"\n" in data and not entry.hello:
                        with self._cv:
                            entry.hello = data.split(b"\n", 1)[0].decode()
                            self._cv.notify_all()
                ended = "EOF"
            except OSError as exc:
                ended = type(exc).__name__
        with self._cv:
            self._conns.discard(conn)
            entry.ended = ended
            self._cv.notify_all()


@pytest.fixture
def listener() -> Iterator[Listener]:
    """The listener; tests ask for it before ``make_sandbox``, so that their sandboxes are shut
    down (the function's connections ended) before it closes."""
    server = Listener()
    yield server
    server.close()


def _pool_sandbox(make_sandbox: MakeSandbox, listener: Listener) -> Any:
    sandbox = make_sandbox(
        "reconnect_app.handler",
        code="snapreconnect",
        env={"PEER_PORT": str(listener.port), "CONNECTIONS": "2"},
        init_type="snap-start",
        snapshots=True,
    )
    assert sandbox.snapshots, sandbox.snapshot_unavailable
    return sandbox


def test_a_pool_reconnecting_at_once_gets_no_connection_into_the_snapshot(
    listener: Listener, make_sandbox: MakeSandbox
) -> None:
    sandbox = _pool_sandbox(make_sandbox, listener)
    init = sandbox.start()
    assert init.status == "success", init
    assert sandbox.snapshots, sandbox.snapshot_unavailable

    # The cut reached the listener as a reset of INIT's two connections...
    listener.wait_accepted(2, "INIT's 2 connections")
    listener.wait_for(
        "the resets of INIT's 2 connections (cut at the snapshot)",
        lambda: all(a.ended for a in listener.accepted[:2]),
    )
    # ...and the pool, frozen, could not connect again before the dump (it tries at once).
    reconnected = listener.happens(lambda: len(listener.accepted) > 2, within=0.3)
    in_init = listener.snapshot()
    assert not reconnected, f"a connection was made between the cut and the dump: {in_init}"
    assert sorted(a.hello for a in in_init) == ["hello 0 1", "hello 1 1"], in_init
    assert [a.ended for a in in_init] == ["ConnectionResetError"] * 2, in_init
    snapshot = next(r for r in sandbox.records if r["event"] == "snapshot")
    assert sorted(snapshot["cut_connections"]) == sorted(listener.address(a) for a in in_init)
    init_port = {int(a.hello.split()[1]): a.port for a in in_init}

    # Three environments from the one snapshot, two invocations each.
    copies: list[dict[str, Any]] = []
    for copy in range(1, 4):
        if copy > 1:
            sandbox.discard_environment()
        known = len(listener.snapshot())
        first = sandbox.invoke({"wait_replaced": True})
        assert first.status == "success", (copy, first.payload)
        assert first.restore_duration_ms is not None, f"copy {copy} was not restored"
        answer = first.json()
        assert answer["replaced"] == [True, True], (copy, answer)
        # The connection each slot had at the snapshot is dead in this copy, and replaced.
        for slot in answer["pool"]:
            assert slot["generation"] == 2, (copy, answer)
            assert [lost["local_port"] for lost in slot["lost"]] == [init_port[slot["index"]]]
            assert slot["lost"][0]["error"] in DEAD, (copy, answer)
        warm = sandbox.invoke({})
        assert warm.status == "success", (copy, warm.payload)
        assert warm.restore_duration_ms is None
        assert warm.json()["pool"] == answer["pool"], "the copy's new connections hold"
        # The listener saw this copy's two new connections, and no others.
        listener.wait_accepted(known + 2, f"copy {copy}'s 2 new connections")
        new = listener.snapshot()[known:]
        assert sorted(a.hello for a in new) == ["hello 0 2", "hello 1 2"], (copy, new)
        assert sorted(a.port for a in new) == sorted(s["local_port"] for s in answer["pool"])
        copies.append(answer)
    assert len({c["pid"] for c in copies}) == 1, "each copy is the snapshot's process"
    restored = [r for r in sandbox.records if r["event"] == "snapshot_restored"]
    assert [r["restore"] for r in restored] == [1, 2, 3]
    assert not [r for r in sandbox.records if r["event"] == "snapshot_restore_error"]


def test_a_connection_the_cut_left_alive_fails_the_checkpoint_naming_it(
    listener: Listener, make_sandbox: MakeSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The one fake: cutting does nothing (as `ss -K` on a kernel without SOCK_DESTROY).
    monkeypatch.setattr(_snapshot, "_kill_tcp", lambda local, remote: None)
    sandbox = _pool_sandbox(make_sandbox, listener)
    started = time.monotonic()
    init = sandbox.start()
    assert init.status == "success", init
    # Thawed at once: a namespace init left stopped would hold the requests' return 10 s.
    assert time.monotonic() - started < _snapshot.REPLY_TIMEOUT_S, sandbox.records
    listener.wait_accepted(2, "INIT's 2 connections")
    in_init = listener.snapshot()
    assert len(in_init) == 2, in_init
    errors = [r["error"] for r in sandbox.records if r["event"] == "snapshot_error"]
    assert len(errors) == 1, sandbox.records
    assert "\n" not in errors[0]
    assert errors[0].startswith("2 TCP connection(s) to peers outside the sandbox survived"), (
        errors[0]
    )
    for entry in in_init:
        assert listener.address(entry) in errors[0], (entry, errors[0])
    assert not sandbox.snapshots
    assert sandbox.snapshot_unavailable == f"the checkpoint failed: {errors[0]}"
    assert not [r for r in sandbox.records if r["event"] == "snapshot"]

    # The tree was thawed and runs on: its one restore is INIT's own processes, connections and all.
    served = sandbox.invoke({})
    assert served.status == "success", served.payload
    assert served.restore_duration_ms is not None
    pool = served.json()["pool"]
    assert [(s["generation"], s["lost"]) for s in pool] == [(1, []), (1, [])], pool
    assert sorted(s["local_port"] for s in pool) == sorted(a.port for a in in_init)
    assert [a.ended for a in listener.snapshot()] == [None, None], "nothing was cut"


def test_without_ss_a_connection_to_a_peer_outside_fails_the_checkpoint(
    listener: Listener, make_sandbox: MakeSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = _pool_sandbox(make_sandbox, listener)
    monkeypatch.setenv("PATH", "/nonexistent")  # a machine without iproute2
    started = time.monotonic()
    init = sandbox.start()
    monkeypatch.undo()
    assert init.status == "success", init
    assert time.monotonic() - started < _snapshot.REPLY_TIMEOUT_S, sandbox.records
    errors = [r["error"] for r in sandbox.records if r["event"] == "snapshot_error"]
    assert errors == [
        "2 TCP connection(s) to peers outside the sandbox, and no `ss` (iproute2) to cut them "
        "with: a second restore could not recreate them"
    ], sandbox.records
    served = sandbox.invoke({})  # the tree was thawed: INIT's processes serve the one restore
    assert served.status == "success", served.payload
    assert [s["generation"] for s in served.json()["pool"]] == [1, 1]


def test_a_restore_waits_until_the_previous_environments_connections_are_closed(
    make_sandbox: MakeSandbox,
) -> None:
    sandbox = make_sandbox("snap.handler", code="snapstart", init_type="snap-start", snapshots=True)
    assert sandbox.start().status == "success"
    assert sandbox.invoke({}).status == "success"
    sandbox.discard_environment()
    snapshot = sandbox._snapshots.snapshot
    assert snapshot is not None
    (server_end, runtime_end), *_ = snapshot.checkpoint.held
    # A socket holding the API server's end of the runtime's restore/next connection, as the
    # server's socket of the previous copy does until its thread has seen that copy gone; CRIU
    # cannot recreate the address pair while it is held. TCP repair mode (root) makes one without
    # a handshake; it closes 0.3 s into the restore.
    squatter = socket.socket()
    squatter.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, 1)
    squatter.bind(server_end)
    squatter.connect(runtime_end)
    closer = threading.Timer(0.3, squatter.close)
    closer.start()
    try:
        restored = sandbox.invoke({})
    finally:
        closer.join(WAIT_S)
        squatter.close()
    assert restored.status == "success", restored.payload
    assert restored.restore_duration_ms is not None
    assert restored.restore_duration_ms >= 300, "the restore waited for the pair to be free"
    assert not [r for r in sandbox.records if r["event"] == "snapshot_restore_error"]
