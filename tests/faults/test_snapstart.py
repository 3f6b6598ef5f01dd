"""SnapStart faults: restores from one snapshot (CRIU) that go wrong, and what a user sees.

Each restore is a new execution environment made from the same snapshot, as on Lambda; the
sandbox needs CRIU for that (``lambda_sandbox/README.md``), and these tests skip without it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.faults import MakeRun
from tests.support.sandboxes import skip_without_snapshots

from .matrix import row

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _criu() -> None:
    skip_without_snapshots()


#: An init that opens a connection to PEER_PORT (a pool, in short) and an after-restore hook that
#: reconnects it, unless RECONNECT is unset; FAIL_RESTORE (a path): the hook raises while that
#: file exists; RESTORE_SLEEP: the hook takes that long.
POOL_APP = """
    import os, socket
    import anyio
    from lambda_warmup import warm_handler, warm_init

    def connect():
        return socket.create_connection(("127.0.0.1", int(os.environ["PEER_PORT"])), timeout=2)

    @warm_init
    async def pool():
        return {"conn": connect(), "token": os.environ["SECRET"]}

    @pool.after_restore
    async def reconnect(pool):
        await anyio.sleep(float(os.environ.get("RESTORE_SLEEP", "0")))
        if await anyio.Path(os.environ.get("FAIL_RESTORE", "/nonexistent")).exists():
            raise ConnectionError("database not reachable after restore")
        if os.environ.get("RECONNECT"):
            pool["conn"].close()
            pool["conn"] = connect()

    @warm_handler
    async def handler(event, context):
        try:
            pool.value["conn"].sendall(b"ping")
            return {"reply": pool.value["conn"].recv(16).decode()}
        except OSError as exc:
            return {"error": type(exc).__name__}
"""


@pytest.fixture
def peer() -> Iterator[int]:
    """A TCP server outside the sandbox (a database, say) that answers ``pong``.

    At the end it is shut down, not only closed, and its threads are waited for: a thread left
    blocked in ``accept`` on a closed socket would, once its call is restarted, wait on the socket
    that took the descriptor's number since (a later test's API server) and take its connections.
    """
    server = socket.create_server(("127.0.0.1", 0))
    conns: list[socket.socket] = []
    threads: list[threading.Thread] = []

    def serve(conn: socket.socket) -> None:
        with conn:
            try:
                while conn.recv(16):
                    conn.sendall(b"pong")
            except OSError:
                pass

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conns.append(conn)
            threads.append(threading.Thread(target=serve, args=(conn,), daemon=True))
            threads[-1].start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    yield server.getsockname()[1]
    with contextlib.suppress(OSError):
        server.shutdown(socket.SHUT_RDWR)
    acceptor.join(5.0)
    for conn in conns:
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_RDWR)
    for thread in [acceptor, *threads]:
        thread.join(5.0)
    server.close()
    assert not acceptor.is_alive(), "the peer's accept thread still runs 5 s after shutdown"


@row(
    "SnapStart",
    "a connection an init opened (a pool), used in environments restored from the snapshot",
    "without an after-restore hook it is dead in every copy (`BrokenPipeError`: the sandbox cuts "
    "it at the snapshot, as hours between snapshot and restore would); with `@pool.after_restore` "
    "reconnecting, every copy is served on a new connection",
    "nothing; the sandbox's `snapshot` record lists the cut connection",
)
def test_a_pool_from_init_is_dead_after_a_restore_until_reconnected(
    fault: MakeRun, peer: int
) -> None:
    answers = {}
    for reconnect in (False, True):
        env = {"PEER_PORT": str(peer), **({"RECONNECT": "1"} if reconnect else {})}
        run = fault(POOL_APP, env=env, init_type="snap-start", snapshots=True)
        assert run.start().status == "success", run.output()
        assert len(run.records("snapshot")[0]["cut_connections"]) == 1
        copies = []
        for i in range(2):
            if i:
                run.sandbox.discard_environment()
            result = run.invoke()
            assert result.restore_duration_ms is not None
            copies.append(result.json())
        answers[reconnect] = copies
    dead = {"BrokenPipeError", "ConnectionAbortedError", "ConnectionResetError"}
    assert [copy.get("error") in dead for copy in answers[False]] == [True, True], answers
    assert answers[True] == [{"reply": "pong"}] * 2


@row(
    "SnapStart",
    "an after-restore hook raises in one restored environment",
    "that request gets `Runtime.AfterRestoreError` (`after-restore hook(s) failed: 'pool': "
    "ConnectionError: ...`); the next one is served from a new environment restored from the "
    "same snapshot, and INIT does not run again",
    "function: `lambda-warmup: after-restore hook of init 'pool' failed: ConnectionError: "
    "database not reachable after restore` with its traceback",
)
def test_a_failed_restore_is_replaced_by_a_new_one(
    fault: MakeRun, peer: int, tmp_path: Path
) -> None:
    flag = tmp_path / "fail"
    flag.touch()
    env = {"PEER_PORT": str(peer), "RECONNECT": "1", "FAIL_RESTORE": str(flag)}
    run = fault(POOL_APP, env=env, init_type="snap-start", snapshots=True)
    run.start()
    failed = run.invoke()
    assert failed.error_type == "Runtime.AfterRestoreError", (failed, run.output())
    assert "after-restore hook(s) failed: 'pool': ConnectionError" in failed.json()["errorMessage"]
    assert run.fn("after-restore hook of init 'pool' failed: ConnectionError: database not")
    flag.unlink()
    served = run.invoke()
    assert served.json() == {"reply": "pong"}, (served, run.output())
    assert served.restore_duration_ms is not None
    assert sum(line.startswith("INIT_START") for line in run.lines) == 1


@row(
    "SnapStart",
    "an after-restore hook outlasts `WARMUP_RESTORE_TIMEOUT` (300ms here; default 9 s of "
    "Lambda's 10 s)",
    "`Runtime.AfterRestoreError`: `after-restore hooks of init(s) 'pool' still running after "
    "0.3 s (WARMUP_RESTORE_TIMEOUT); Lambda allows 10 s for the whole restore`; the next request "
    "restores a new environment",
    "function: the error, from the runtime",
)
def test_an_after_restore_hook_past_its_timeout(fault: MakeRun, peer: int) -> None:
    env = {"PEER_PORT": str(peer), "RESTORE_SLEEP": "5", "WARMUP_RESTORE_TIMEOUT": "300ms"}
    run = fault(POOL_APP, env=env, init_type="snap-start", snapshots=True)
    run.start()
    result = run.invoke()
    assert result.error_type == "Runtime.AfterRestoreError", (result, run.output())
    assert result.json()["errorMessage"] == (
        "after-restore hooks of init(s) 'pool' still running after 0.3 s "
        "(WARMUP_RESTORE_TIMEOUT); Lambda allows 10 s for the whole restore"
    )
    assert result.restore_duration_ms is not None
    assert 300 <= result.restore_duration_ms < 3000, result


@row(
    "SnapStart",
    "a required init fails before the snapshot",
    "INIT (the version's publication) fails with `Runtime.BeforeSnapshotError`: `required init(s) "
    "failed before the snapshot: 'pool': ConnectionRefusedError: ...`; no snapshot is taken",
    "function: `lambda-warmup: required init 'pool' failed ...` with its traceback; platform: "
    "`INIT_REPORT ... Status: error Error Type: Runtime.BeforeSnapshotError`",
)
def test_an_init_failing_before_the_snapshot(fault: MakeRun) -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    run = fault(POOL_APP, env={"PEER_PORT": str(port)}, init_type="snap-start", snapshots=True)
    init = run.start()
    assert init.error_type == "Runtime.BeforeSnapshotError", (init, run.output())
    assert init.error is not None
    message = init.error["errorMessage"]
    assert "failed before the snapshot: 'pool': ConnectionRefusedError" in message
    assert run.has("Status: error\tError Type: Runtime.BeforeSnapshotError")
    assert not run.records("snapshot")
