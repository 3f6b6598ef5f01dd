"""SnapStart snapshots in the sandbox: one INIT, checkpointed by CRIU, restored again and again.

Each restore is a new execution environment made from the same images, as Lambda resumes every
environment of a SnapStart version from one snapshot. The tests assert what a user would see on
Lambda: INIT ran once, every copy starts with what INIT left (the same pid, the same finished
init, the same ``random`` state), after-restore hooks run once in each copy, /tmp is the
snapshot's, a failed restore is thrown away and the next one starts clean.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from lambda_sandbox import Sandbox, SandboxError, find_criu
from lambda_sandbox._criu import Criu
from tests.support.sandboxes import MakeSandbox, modes_sandbox, skip_without_snapshots

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _criu() -> None:
    skip_without_snapshots()


def _snapstart(tmp_path: Path, lines: list[str], **kwargs: Any) -> Sandbox:
    sandbox = modes_sandbox(tmp_path, lines, init_type="snap-start", snapshots=True, **kwargs)
    assert sandbox.snapshots
    return sandbox


def _restore_copies(sandbox: Sandbox, copies: int, event: Any = None) -> list[dict[str, Any]]:
    """The first answer of each of ``copies`` environments restored from the snapshot."""
    answers = []
    for i in range(copies):
        if i:
            sandbox.discard_environment()
        result = sandbox.invoke(event or {})
        assert result.status == "success", result.payload
        assert result.restore_duration_ms is not None, f"copy {i + 1} was not restored"
        answers.append(result.json())
    return answers


def test_every_restore_is_a_new_environment_from_one_init(tmp_path: Path) -> None:
    lines: list[str] = []
    sandbox = _snapstart(tmp_path, lines, env={"INIT_MS": "200"})
    with sandbox:
        assert sandbox.start().status == "success", lines
        host_pids = []
        answers = []
        for i in range(3):
            if i:
                sandbox.discard_environment()
            answers += _restore_copies(sandbox, 1)
            host_pids.append(tuple(sandbox.pids))
            warm = sandbox.invoke({})  # the same environment again: no restore, no hook
            assert warm.restore_duration_ms is None
            assert warm.json()["restores"] == 1
    # INIT (and the init) ran once; every copy starts from what it left.
    assert sum(line.startswith("INIT_START") for line in lines) == 1
    assert sum("before snapshot: 1 init(s) done" in line for line in lines) == 1
    assert len({a["finished_at"] for a in answers}) == 1, "the init's result is the snapshot's"
    assert all(a["done_on_entry"] for a in answers)
    # The same process inside (pid in its namespace), a new one outside, for each copy.
    assert len({a["pid"] for a in answers}) == 1
    assert len(set(host_pids)) == 3, host_pids
    # Each copy ran its after-restore hook once, and its shutdown cleanup at its end.
    assert [a["restores"] for a in answers] == [1, 1, 1]
    assert sum("after-restore resource: reconnected (1)" in line for line in lines) == 3
    assert sum("shutdown hook: flushed" in line for line in lines) == 3
    assert sum("teardown resource: closed" in line for line in lines) == 3
    exits = [r for r in sandbox.records if r["event"] == "process_exit" and r["kind"] != "keeper"]
    assert (
        sorted((r["name"], r["returncode"]) for r in exits if r["name"] != "runtime")
        == [("lambda-warmup", 0)] * 3
    ), "the extension got SHUTDOWN in every copy and exited 0"
    reports = [line for line in lines if line.startswith("REPORT")]
    assert sum("Restore Duration" in line for line in reports) == 3
    assert not any("Init Duration" in line for line in reports)


def test_the_snapshots_random_state_is_the_same_in_every_copy_until_reseeded(
    tmp_path: Path,
) -> None:
    lines: list[str] = []
    with _snapstart(tmp_path / "same", lines, env={"INIT_MS": "50"}) as sandbox:
        sandbox.start()
        same = [a["seed"] for a in _restore_copies(sandbox, 2)]
    with _snapstart(tmp_path / "reseeded", lines, env={"INIT_MS": "50", "RESEED": "1"}) as sandbox:
        sandbox.start()
        reseeded = [a["seed"] for a in _restore_copies(sandbox, 2)]
    assert same[0] == same[1], "random.random() after a restore repeats in every copy"
    assert reseeded[0] != reseeded[1], "random.seed() in the after-restore hook makes them differ"


def test_every_restore_starts_with_the_snapshots_tmp(tmp_path: Path) -> None:
    lines: list[str] = []
    with _snapstart(tmp_path, lines, env={"INIT_MS": "50"}) as sandbox:
        sandbox.start()
        first = sandbox.invoke({"tmp_write": "written-by-copy-1"})
        assert "written-by-copy-1" in first.json()["tmp"]
        sandbox.discard_environment()
        second = sandbox.invoke({})
    assert second.restore_duration_ms is not None
    assert "written-by-copy-1" not in second.json()["tmp"]
    assert second.json()["tmp"] == [n for n in first.json()["tmp"] if n != "written-by-copy-1"]


def test_a_failed_restore_is_discarded_and_the_next_restore_starts_clean(tmp_path: Path) -> None:
    lines: list[str] = []
    flag = tmp_path / "fail-restore"
    flag.touch()
    with _snapstart(tmp_path, lines, env={"INIT_MS": "50", "FAIL_RESTORE": str(flag)}) as sandbox:
        sandbox.start()
        failed = sandbox.invoke({})
        assert failed.status == "error"
        assert failed.error_type == "Runtime.AfterRestoreError"
        flag.unlink()
        served = sandbox.invoke({})  # Lambda: a new environment, from the same snapshot
    assert served.status == "success", (served.payload, lines)
    assert served.restore_duration_ms is not None
    assert served.json()["restores"] == 1, "the failed copy's hook run did not leak into this one"
    assert sum(line.startswith("INIT_START") for line in lines) == 1, "no INIT after the failure"


def test_a_damaged_snapshot_fails_the_restore_with_criu_s_reason(tmp_path: Path) -> None:
    lines: list[str] = []
    with _snapstart(tmp_path, lines, env={"INIT_MS": "50"}) as sandbox:
        sandbox.start()
        snapshot = next(r for r in sandbox.records if r["event"] == "snapshot")
        assert snapshot["size_bytes"] > 1_000_000, snapshot
        images = sandbox._root / "snapshot"
        for pages in images.glob("pages-*.img"):
            pages.unlink()
        with pytest.raises(SandboxError, match="criu restore failed"):
            sandbox.invoke({})
        assert not sandbox.pids, "nothing is left running"
        with pytest.raises(SandboxError, match="criu restore failed"):
            sandbox.invoke({})  # each invocation tries a new restore (and none hangs)
    assert [r["restore"] for r in sandbox.records if r["event"] == "snapshot_restore_error"] == [
        1,
        2,
    ]


def test_without_snapshots_discard_environment_says_why(tmp_path: Path) -> None:
    lines: list[str] = []
    with modes_sandbox(
        tmp_path, lines, init_type="snap-start", snapshots=False, env={"INIT_MS": "50"}
    ) as sandbox:
        assert not sandbox.snapshots
        sandbox.start()
        assert sandbox.invoke({}).status == "success"
        with pytest.raises(SandboxError, match="needs SnapStart snapshots"):
            sandbox.discard_environment()


def test_a_failed_checkpoint_leaves_init_running_for_one_restore(tmp_path: Path) -> None:
    criu = find_criu()
    failing = tmp_path / "criu-failing-dump"
    real = " ".join(f"'{part}'" for part in criu.command)
    failing.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = dump ]; then echo "Error (simulated): cannot dump" >&2; exit 1; fi\n'
        f'exec {real} "$@"\n'
    )
    failing.chmod(0o755)
    lines: list[str] = []
    with _snapstart(tmp_path, lines, env={"INIT_MS": "50"}) as sandbox:
        sandbox._criu = Criu(command=(str(failing),), version=criu.version)
        assert sandbox.start().status == "success", lines
        assert not sandbox.snapshots
        assert sandbox.snapshot_unavailable is not None
        assert sandbox.snapshot_unavailable.startswith("the checkpoint failed: criu dump failed")
        served = sandbox.invoke({})  # INIT's own processes, restored the one time
        assert served.status == "success", (served.payload, lines)
        assert served.json()["restores"] == 1
        assert sandbox.invoke({}).status == "success"
        with pytest.raises(SandboxError, match="the checkpoint failed"):
            sandbox.discard_environment()
    assert sum("shutdown hook: flushed" in line for line in lines) == 1


def test_connections_to_peers_outside_are_dead_in_every_restored_copy(
    make_sandbox: MakeSandbox,
) -> None:
    peer = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(peer.accept()[0]), daemon=True).start()
    sandbox = make_sandbox(
        "conn_app.handler",
        code="snapconn",
        env={"PEER_PORT": str(peer.getsockname()[1])},
        init_type="snap-start",
        snapshots=True,
    )
    try:
        sandbox.start()
        snapshot = next(r for r in sandbox.records if r["event"] == "snapshot")
        assert len(snapshot["cut_connections"]) == 1, snapshot
        assert snapshot["cut_connections"][0].endswith(f"> 127.0.0.1:{peer.getsockname()[1]}")
        answers = _restore_copies(sandbox, 2)
    finally:
        peer.close()
    # As on Lambda, where hours pass between the snapshot and a restore: reconnect after one.
    dead = {"BrokenPipeError", "ConnectionAbortedError", "ConnectionResetError"}
    assert [a.get("error") in dead for a in answers] == [True, True], answers
    assert len(accepted) == 1
    accepted[0].settimeout(5)
    with pytest.raises(ConnectionResetError):
        accepted[0].recv(10)
    accepted[0].close()
