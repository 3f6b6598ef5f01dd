"""The sandbox's processes: spawned into one process group, read, watched, frozen and thawed.

Each execution environment is one process group (or, for a SnapStart snapshot, one pid
namespace, see ``_snapshot.py``), so that SIGSTOP, SIGCONT and SIGKILL reach all of it at once.
Its first member is a keeper: if the Python process that made the sandbox dies without shutting
it down, the keeper kills the group.
"""

from __future__ import annotations

import atexit
import contextlib
import math
import os
import select
import signal
import socket
import subprocess
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ._phase import Lifecycle
from ._records import LineBuffer, Recorder
from ._snapshot import Namespace, NsProcess, SnapshotError
from ._spec import SandboxError

__all__ = ["LogSocket", "OutputReader", "Process", "ProcessGroup", "ProcessKind", "alive"]

ProcessKind = Literal["runtime", "extension", "keeper"]


@dataclass
class Process:
    name: str
    kind: ProcessKind
    popen: subprocess.Popen[bytes] | NsProcess
    started: float
    exited: float | None = None
    returncode: int | None = None
    output: OutputReader | None = None
    threads: list[threading.Thread] = field(default_factory=list)
    checkpointed: bool = False
    """Ended by the SnapStart checkpoint (its copies come back at each restore)."""


class ProcessGroup:
    """The live processes of one execution environment (``procs``), under ``lifecycle.cv``."""

    def __init__(self, lifecycle: Lifecycle, recorder: Recorder, cwd: Path) -> None:
        self._lifecycle = lifecycle
        self._cv = lifecycle.cv
        self._recorder = recorder
        self._cwd = cwd
        self.procs: list[Process] = []
        self.pgid: int | None = None
        self.namespace: Namespace | None = None
        """SnapStart with snapshots: the pid namespace the processes are spawned into."""

    # ------------------------------------------------------------------------------ starting

    def start_root(self, *, in_namespace: bool) -> None:
        """The group's first member, so that the group outlives any one process."""
        self.pgid = None
        if in_namespace:
            # The snapshot's INIT: under a namespace init, the root of the tree to checkpoint.
            # It is also the keeper: when this process dies, the init kills the namespace.
            try:
                self.namespace = Namespace.start(self._cwd)
            except (SnapshotError, OSError) as exc:
                raise SandboxError(f"starting the SnapStart namespace failed: {exc}") from None
            self.pgid = self.namespace.root.pid
            self.track("nsinit", "keeper", self.namespace.root)
        else:
            # If this Python process dies without shutting the sandbox down, the keeper kills
            # the whole group (and if the group is frozen then, the kernel's SIGHUP to orphaned
            # stopped groups does).
            keeper_cmd = [
                "/bin/sh",
                "-c",
                'while kill -0 "$1" 2>/dev/null; do sleep 1; done; kill -KILL 0',
                "lambda-sandbox-keeper",
                str(os.getpid()),
            ]
            self.spawn("keeper", "keeper", keeper_cmd, {"PATH": "/usr/bin:/bin"})
        _LIVE.add(self)

    def adopt_namespace(self, namespace: Namespace) -> None:
        """(cv held) A restored namespace becomes the group."""
        self.namespace = namespace
        self.pgid = namespace.root.pid

    def spawn(self, name: str, kind: ProcessKind, args: list[str], env: dict[str, str]) -> Process:
        popen: subprocess.Popen[bytes] | NsProcess
        if self.namespace is not None:
            popen = self.namespace.spawn(name, args, env, self._cwd)
        else:
            popen = subprocess.Popen(
                args,
                cwd=self._cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL if kind == "keeper" else subprocess.PIPE,
                stderr=subprocess.DEVNULL if kind == "keeper" else subprocess.STDOUT,
                process_group=0 if self.pgid is None else self.pgid,
            )
        if self.pgid is None:
            self.pgid = popen.pid
        return self.track(name, kind, popen)

    def track(
        self, name: str, kind: ProcessKind, popen: subprocess.Popen[bytes] | NsProcess
    ) -> Process:
        """Read the process's output and watch for its exit."""
        proc = Process(name=name, kind=kind, popen=popen, started=time.monotonic())
        if popen.stdout is not None:
            source = "function" if kind == "runtime" else name
            proc.output = OutputReader(
                popen.stdout.fileno(), source, self._recorder, frames=kind == "runtime"
            )
            reader = threading.Thread(
                target=proc.output.run, name=f"sandbox-out-{name}", daemon=True
            )
            reader.start()
            proc.threads.append(reader)
        waiter = threading.Thread(
            target=self._watch_exit, args=(proc,), name=f"sandbox-wait-{name}", daemon=True
        )
        waiter.start()
        proc.threads.append(waiter)
        with self._cv:
            self.procs.append(proc)
        self._recorder.record("process_start", name=name, kind=kind, pid=popen.pid)
        return proc

    # ------------------------------------------------------------------------------- output

    def drain_output(self) -> None:
        """Pass on every line the processes have already written (each reader's own bound)."""
        for proc in list(self.procs):
            if proc.output is not None:
                proc.output.drain()

    def _watch_exit(self, proc: Process) -> None:
        code = proc.popen.wait()
        with self._cv:
            proc.exited = time.monotonic()
            proc.returncode = code
            self._cv.notify_all()
        event = "process_checkpointed" if proc.checkpointed else "process_exit"
        self._recorder.record(event, name=proc.name, kind=proc.kind, returncode=code)

    # ------------------------------------------------------------------------ freeze and thaw

    def signal(self, sig: signal.Signals) -> None:
        if self.pgid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pgid, sig)

    def freeze(self) -> None:
        if self.pgid is not None and not self._lifecycle.frozen:
            self.signal(signal.SIGSTOP)
            self._lifecycle.frozen = True
            stopped = self._wait_stopped()
            self._recorder.record("freeze", all_stopped=stopped)

    def _wait_stopped(self, bound_s: float = 0.5) -> bool:
        """SIGSTOP is asynchronous: wait (bounded) until every live process is stopped."""
        end = time.monotonic() + bound_s
        pending = [p.popen.pid for p in self.procs if p.exited is None]
        while pending:
            pending = [pid for pid in pending if _proc_state(pid) not in "TtZX"]
            if not pending:
                break
            if time.monotonic() > end:
                return False
            time.sleep(0.0002)
        return True

    def thaw(self) -> None:
        if self._lifecycle.frozen:
            self.signal(signal.SIGCONT)
            self._lifecycle.frozen = False
            self._recorder.record("thaw")

    # ----------------------------------------------------------------------------- measures

    @property
    def pids(self) -> list[int]:
        """(cv held) Pids of the live runtime and extensions."""
        return [p.popen.pid for p in self.procs if p.kind != "keeper" and p.exited is None]

    def memory_used_mb(self) -> int:
        """The peak RSS of the live processes (REPORT's ``Max Memory Used``)."""
        total_kb = 0
        for proc in self.procs:
            if proc.kind == "keeper" or proc.exited is not None:
                continue
            with contextlib.suppress(OSError, ValueError):
                for line in Path(f"/proc/{proc.popen.pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        total_kb += int(line.split()[1])
        return math.ceil(total_kb / 1024)

    # ------------------------------------------------------------------------------- ending

    def reap(self) -> None:
        """Wait (bounded) for the ended processes and their readers; close the namespace."""
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=2.0)
            for thread in proc.threads:
                thread.join(timeout=2.0)
            if proc.popen.stdout is not None:
                proc.popen.stdout.close()
        if self.namespace is not None:
            self.namespace.close()
            self.namespace = None

    def forget(self) -> dict[str, int | None]:
        """(cv held) Drop the reaped processes; returns their exit codes by name."""
        exits = {p.name: p.returncode for p in self.procs if p.kind != "keeper"}
        self.procs = []
        self.pgid = None
        self._lifecycle.frozen = False
        return exits


class OutputReader:
    """One process's output (a pipe, or a worker's log socket), cut into lines and passed on to
    the records.

    The reader's thread and ``drain`` both read, under one lock and without blocking, so that
    when ``drain`` returns, every byte already in the pipe has reached the records. (A flag
    set after a blocking read left a window: the bytes out of the pipe, not yet in the records,
    and the flag not yet set. An invocation's last line was lost to it under load.)
    """

    _DRAIN_LOCK_BOUND_S = 1.0
    """How long ``drain`` waits for the thread to finish passing on what it read."""

    def __init__(self, fd: int, source: str, recorder: Recorder, *, frames: bool) -> None:
        self._fd = fd
        self._source = source
        self._recorder = recorder
        self._lines = LineBuffer(frames=frames)
        self._lock = threading.Lock()
        self._ended = False
        os.set_blocking(fd, False)

    def run(self) -> None:
        """The reader's thread: wait for output, pass it on, until the pipe ends."""
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        while not self._ended:
            poller.poll(500)  # a timeout, so that a pipe closed under it is noticed
            with self._lock:
                self._read_available()

    def drain(self) -> None:
        """Pass on what is in the pipe now (waits at most ``_DRAIN_LOCK_BOUND_S``)."""
        if self._lock.acquire(timeout=self._DRAIN_LOCK_BOUND_S):
            try:
                self._read_available()
            finally:
                self._lock.release()
        else:
            self._recorder.record("drain_timeout", source=self._source)

    def _read_available(self) -> None:
        """(lock held) Read until the pipe is empty or ends."""
        while not self._ended:
            try:
                chunk = os.read(self._fd, 65536)
            except BlockingIOError:
                return
            except OSError:  # closed by reap() after its bounded join
                chunk = b""
            if not chunk:
                self._ended = True
                last = self._lines.rest()
                if last is not None:
                    self._recorder.source_line(self._source, last)
                return
            for line in self._lines.feed(chunk):
                self._recorder.source_line(self._source, line)


class LogSocket:
    """Managed Instances: the Unix socket each worker connects its stdout and stderr to (named by
    ``_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET``); their lines come out as the function's."""

    def __init__(self, path: Path, recorder: Recorder) -> None:
        self.path = path
        self._recorder = recorder
        self._server: socket.socket | None = None

    def open(self) -> str | None:
        """The socket's path, listening (once); None if it cannot be bound here."""
        if self._server is not None:
            return str(self.path)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            server.bind(str(self.path))  # at most ~107 bytes: a long workdir falls back to the pipe
            server.listen(64)
        except OSError as exc:
            server.close()
            self._recorder.record("log_socket_error", path=str(self.path), error=str(exc))
            return None
        self._server = server
        threading.Thread(
            target=self._accept, args=(server,), name="sandbox-log-fd", daemon=True
        ).start()
        return str(self.path)

    def close(self) -> None:
        if self._server is not None:
            self._server.close()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return  # closed at shutdown
            self._recorder.record("log_stream_open")
            threading.Thread(
                target=self._read, args=(conn,), name="sandbox-log-in", daemon=True
            ).start()

    def _read(self, conn: socket.socket) -> None:
        with conn:
            OutputReader(conn.fileno(), "function", self._recorder, frames=False).run()


def alive(pid: int) -> bool:
    return _proc_state(pid) not in "ZX"


def _proc_state(pid: int) -> str:
    """The one-letter state of a process ("X" if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "X"
    return stat.rsplit(")", 1)[1].split()[0]


_LIVE: weakref.WeakSet[ProcessGroup] = weakref.WeakSet()


@atexit.register
def _kill_leftovers() -> None:
    """Never leave stopped processes behind when the interpreter exits without a shutdown()."""
    for group in list(_LIVE):
        group.signal(signal.SIGKILL)
