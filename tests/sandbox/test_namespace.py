"""The sandbox's pid namespace for SnapStart (``_snapshot.Namespace``), without CRIU: processes
start in it, their output and exit codes come back, and nothing outlives it."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from lambda_sandbox._snapshot import Namespace, NsProcess

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="a pid namespace needs root")


def _output(proc: NsProcess) -> bytes:
    assert proc.stdout is not None
    with proc.stdout:
        return proc.stdout.read()


def _close(*procs: NsProcess) -> None:
    for proc in procs:
        if proc.stdout is not None:
            proc.stdout.close()


def test_a_process_runs_as_in_popen_with_its_output_and_exit_code(tmp_path: Path) -> None:
    namespace = Namespace.start(tmp_path)
    try:
        # It lives a moment: the host pid is read from /proc after the spawn (0 once it is gone),
        # and a busy runner once let the shell exit first.
        script = 'echo "pid $$ in $(pwd)"; sleep 1; exit 3'
        proc = namespace.spawn("echo", ["/bin/sh", "-c", script], {}, tmp_path)
        assert proc.wait(timeout=10) == 3
        assert _output(proc) == f"pid 2 in {tmp_path}\n".encode(), "pid 2: the init is 1"
        assert proc.pid not in (0, 2), "pid is the host's"
    finally:
        namespace.close()


def test_a_signal_goes_to_the_process_and_comes_back_as_its_exit(tmp_path: Path) -> None:
    namespace = Namespace.start(tmp_path)
    try:
        proc = namespace.spawn("sleeper", ["/bin/sleep", "30"], {}, tmp_path)
        proc.terminate()
        assert proc.wait(timeout=10) == -signal.SIGTERM
        _close(proc)
    finally:
        namespace.close()


def test_a_program_that_cannot_start_is_an_oserror(tmp_path: Path) -> None:
    namespace = Namespace.start(tmp_path)
    try:
        with pytest.raises(OSError, match="No such file"):
            namespace.spawn("missing", [str(tmp_path / "no-such-program")], {}, tmp_path)
    finally:
        namespace.close()


def test_closing_the_namespace_ends_everything_in_it(tmp_path: Path) -> None:
    namespace = Namespace.start(tmp_path)
    proc = namespace.spawn("sleeper", ["/bin/sleep", "30"], {}, tmp_path)
    # A grandchild too, which the init adopts when its parent is gone.
    orphan = namespace.spawn("parent", ["/bin/sh", "-c", "sleep 30 & echo $!"], {}, tmp_path)
    assert orphan.wait(timeout=10) == 0
    root = namespace.root.pid
    namespace.close()
    assert proc.wait(timeout=10) == -signal.SIGKILL
    _close(proc, orphan)
    end = time.monotonic() + 10
    while Path(f"/proc/{root}").exists() and time.monotonic() < end:
        time.sleep(0.01)
    assert not Path(f"/proc/{root}").exists(), "the namespace init is gone, and with it the rest"
