"""SnapStart snapshots: a sandbox's processes checkpointed by CRIU, restorable any number of times.

Lambda snapshots the whole initialised microVM and resumes every new execution environment from
that one snapshot (``../shared/docs/lambda-platform.md`` §8). The sandbox does the same with its
process tree: the runtime and the extensions run under the init of their own pid namespace
(``_nsinit.py``), and at the end of INIT CRIU writes the tree (memory, threads, file descriptors,
TCP connections) to an image directory and ends it. Each restore makes a new tree from those
images; what INIT left in memory (seeds, ids, a warm loop's state) is the same in every copy.

What crosses the checkpoint, and how:
- The requests the processes are blocked in (the runtime's ``restore/next``, each extension's
  ``event/next``) reach the sandbox's HTTP server over TCP. The server side of each connection
  is handed to the namespace init before the dump (``hold``), so both ends are in the images;
  after a restore the init hands them back (``release``) and the server answers them. A restore
  waits until the server has closed its ends of the previous copy's (the same addresses).
- Each process's output pipe and the control socket lead out of the tree: they are named
  external at the dump and replaced with new ones at each restore (CRIU's ``--inherit-fd``).
- A TCP connection to a peer outside the tree (a local moto, a database) is cut before the dump
  (``ss -K``: the peer gets a reset, the process finds the socket dead). On Lambda such a
  connection is dead after a restore anyway (hours pass between snapshot and restore), and here
  a second copy could not be restored at all while the peer still holds the same address pair.
  The tree is frozen first (SIGSTOP, until every thread is stopped), so that nothing (a pool
  keeping its minimum size) can connect again between the cut and the dump, and the cut is
  checked: a connection still there fails the checkpoint. CRIU restores a task dumped stopped
  stopped, so each restore resumes the new tree (SIGCONT) before handing it over.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ._criu import Criu
from ._nsinit import receive, send_message

__all__ = ["Checkpoint", "Namespace", "NsProcess", "SnapshotError"]

NSINIT = Path(__file__).with_name("_nsinit.py")
REPLY_TIMEOUT_S = 10.0
FREEZE_TIMEOUT_S = 5.0
"""How long the tree may take to stop (SIGSTOP) before a checkpoint, or to run again after a
restore (SIGCONT)."""


class SnapshotError(RuntimeError):
    """A checkpoint or a restore failed (the sandbox's own failure, not the function's)."""


class NsProcess:
    """A process of the namespace: the part of ``Popen``'s surface the sandbox uses.

    Signals go through a pidfd, so a pid the host has reused is never signalled.
    """

    def __init__(self, pidfd: int | None, pid: int, stdout: IO[bytes] | None) -> None:
        self._pidfd = pidfd
        self.pid = pid
        self.stdout = stdout
        self.returncode: int | None = None
        self._done = threading.Event()
        self._lock = threading.Lock()  # the pidfd is closed at exit, maybe while signalled

    def wait(self, timeout: float | None = None) -> int:
        if not self._done.wait(timeout):
            raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0.0)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        with self._lock:
            if self.returncode is None and self._pidfd is not None:
                with contextlib.suppress(ProcessLookupError, OSError):
                    signal.pidfd_send_signal(self._pidfd, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def exited(self, returncode: int) -> None:
        with self._lock:
            if self.returncode is not None:
                return
            self.returncode = returncode
            if self._pidfd is not None:
                os.close(self._pidfd)
                self._pidfd = None
        self._done.set()


@dataclass(frozen=True)
class Checkpoint:
    """The images of one checkpointed tree, and what a restore must plug back in."""

    image_dir: Path
    control_inode: int
    """The init's end of the control socket, as the images name it."""
    outputs: Mapping[str, int]
    """Per process name: the inode of its output pipe."""
    ns_pids: Mapping[str, int]
    dump_ms: float
    size_bytes: int
    freeze_ms: float = 0.0
    """How long the tree took to stop before the cut and the dump."""
    held: tuple[tuple[_Endpoint, _Endpoint], ...] = ()
    """The connections handed to the init: (its end, the process's end) of each. A restore
    recreates both ends with these addresses."""


class Namespace:
    """One live tree under a namespace init: fresh (:meth:`start`) or restored (:meth:`restore`)."""

    def __init__(
        self,
        control: socket.socket,
        root: NsProcess,
        *,
        launcher: subprocess.Popen[bytes] | None,
        init_control_inode: int | None = None,
    ) -> None:
        self._control = control
        self._init_control_inode = init_control_inode
        self.root = root
        self._launcher = launcher
        self._replies: queue.Queue[tuple[dict[str, Any], list[int]]] = queue.Queue()
        self._procs: dict[int, NsProcess] = {}
        self._names: dict[int, str] = {}
        self._send_lock = threading.Lock()
        # The init reports only children it spawned for us, but a quick one's exit can arrive
        # (reader thread) before spawn() has registered its handle: kept here until it is.
        self._procs_lock = threading.Lock()
        self._early_exits: dict[int, int] = {}
        self.cut_connections: dict[str, str] = {}
        """TCP connections to peers outside the tree, cut by the last checkpoint (local > peer),
        each with the process that held it."""
        self._reader = threading.Thread(target=self._read, name="sandbox-nsinit", daemon=True)
        self._reader.start()

    # ------------------------------------------------------------------------ lifecycle

    @classmethod
    def start(cls, cwd: Path) -> Namespace:
        """A new namespace init, as a grandchild: ``_nsinit.py``'s first process waits for it."""
        ours, theirs = socket.socketpair()
        init_control_inode = os.fstat(theirs.fileno()).st_ino
        try:
            launcher = subprocess.Popen(
                [sys.executable, "-I", "-S", str(NSINIT), str(theirs.fileno())],
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                process_group=0,
            )
        finally:
            theirs.close()
        root = NsProcess(None, 0, None)
        namespace = cls(ours, root, launcher=launcher, init_control_inode=init_control_inode)
        # The init's host pid: the launcher's only child.
        end = time.monotonic() + REPLY_TIMEOUT_S
        while time.monotonic() < end:
            children = child_pids(launcher.pid)
            if children:
                root.pid = children[0]
                root._pidfd = _pidfd(root.pid)
                break
            if launcher.poll() is not None:
                break
            time.sleep(0.001)
        if root.pid == 0:
            namespace.close()
            raise SnapshotError("the namespace init did not start")
        threading.Thread(
            target=lambda: root.exited(launcher.wait()), name="sandbox-nsinit-wait", daemon=True
        ).start()
        return namespace

    @classmethod
    def restore(
        cls, criu: Criu, checkpoint: Checkpoint, log_name: str
    ) -> tuple[Namespace, dict[str, NsProcess]]:
        """A new tree from ``checkpoint``'s images; returns it and its processes by name."""
        # The previous copy's ends of the held connections (the API server's, in this process)
        # are closed when its threads see the copy gone: CRIU cannot recreate an address pair a
        # socket still holds ("Can't connect inet socket back: Cannot assign requested address").
        busy = _wait_pairs_free(checkpoint.held, REPLY_TIMEOUT_S)
        if busy:
            raise SnapshotError(
                "connection(s) of the previous environment still open after "
                f"{REPLY_TIMEOUT_S:g} s, whose addresses the restore needs: {', '.join(busy)}"
            )
        ours, theirs = socket.socketpair()
        pipes = {name: os.pipe() for name in checkpoint.outputs}
        pidfile = checkpoint.image_dir / f"{log_name}.pid"
        pidfile.unlink(missing_ok=True)
        args = [
            "restore",
            "--images-dir",
            str(checkpoint.image_dir),
            "--tcp-established",
            "--file-locks",
            "--restore-detached",
            "--restore-sibling",  # the init comes back as our child, so we can wait for it
            "--pidfile",
            str(pidfile),
            "--log-file",
            f"{log_name}.log",
            "--inherit-fd",
            f"fd[{theirs.fileno()}]:socket:[{checkpoint.control_inode}]",
        ]
        for name, inode in checkpoint.outputs.items():
            args += ["--inherit-fd", f"fd[{pipes[name][1]}]:pipe:[{inode}]"]
        try:
            done = criu.run(args, pass_fds=[theirs.fileno(), *(w for _, w in pipes.values())])
        finally:
            theirs.close()
            for _, write_end in pipes.values():
                os.close(write_end)
        if done.returncode != 0:
            ours.close()
            for read_end, _ in pipes.values():
                os.close(read_end)
            raise SnapshotError(
                "criu restore failed: " + _log_tail(checkpoint.image_dir / f"{log_name}.log")
            )
        pid = int(pidfile.read_text().split()[0])
        try:
            # The tree was dumped stopped (see checkpoint), and CRIU restores it stopped.
            _resume_tree(pid)
        except SnapshotError:
            # The init is our child (not reaped yet): with it, the kernel ends the namespace.
            os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            ours.close()
            for read_end, _ in pipes.values():
                os.close(read_end)
            raise
        root = NsProcess(_pidfd(pid), pid, None)
        threading.Thread(
            target=_reap, args=(root,), name="sandbox-nsinit-wait", daemon=True
        ).start()
        namespace = cls(ours, root, launcher=None)
        procs = {
            name: namespace._process(name, ns_pid, pipes[name][0])
            for name, ns_pid in checkpoint.ns_pids.items()
        }
        return namespace, procs

    def close(self) -> None:
        """Drop the control socket: the init kills the whole namespace and exits."""
        with contextlib.suppress(OSError):
            self._control.shutdown(socket.SHUT_RDWR)
        self._control.close()
        if self._launcher is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._launcher.wait(timeout=5.0)

    # ----------------------------------------------------------------------- operations

    def spawn(self, name: str, args: list[str], env: Mapping[str, str], cwd: Path) -> NsProcess:
        """Start ``args`` in the namespace (stdout and stderr to one pipe), like ``Popen``."""
        read_end, write_end = os.pipe()
        try:
            reply, _ = self._call(
                {"op": "spawn", "name": name, "args": args, "env": dict(env), "cwd": str(cwd)},
                [write_end],
            )
        finally:
            os.close(write_end)
        if reply["op"] != "spawned":
            os.close(read_end)
            raise OSError(reply.get("error", "spawn failed"))
        return self._process(name, int(reply["pid"]), read_end)

    def _process(self, name: str, ns_pid: int, output: int) -> NsProcess:
        """The handle of the init's child ``ns_pid``, reading its output from ``output``.

        A child already gone has no host pid (0; nothing to signal): its exit comes from the init.
        """
        host_pid = _host_pid_of(self.root.pid, ns_pid)
        proc = NsProcess(_pidfd(host_pid) if host_pid else None, host_pid, None)
        proc.stdout = os.fdopen(output, "rb", buffering=0)
        self._names[ns_pid] = name
        with self._procs_lock:
            self._procs[ns_pid] = proc
            early = self._early_exits.pop(ns_pid, None)
        if early is not None:
            proc.exited(early)
        return proc

    def checkpoint(
        self, criu: Criu, image_dir: Path, connections: Mapping[str, socket.socket]
    ) -> Checkpoint:
        """Hand ``connections`` to the init, freeze the tree, cut its connections to peers
        outside it (and check they are gone), then dump it into ``image_dir``; the tree ends.

        On failure the tree is thawed and runs on; the connections come back with
        :meth:`release`.
        """
        if self._init_control_inode is None:
            raise SnapshotError("only a namespace made by start() can be checkpointed")
        init_inode = self._init_control_inode
        tags = list(connections)
        held = tuple(pair for conn in connections.values() if (pair := _pair(conn)) is not None)
        self._call({"op": "hold", "tags": tags}, [connections[t].fileno() for t in tags])
        image_dir.mkdir(parents=True, exist_ok=True)
        outputs: dict[str, int] = {}
        ns_pids: dict[str, int] = {}
        for ns_pid, proc in self._procs.items():
            if proc.returncode is None and proc.stdout is not None:
                outputs[self._names[ns_pid]] = os.fstat(proc.stdout.fileno()).st_ino
                ns_pids[self._names[ns_pid]] = ns_pid
        start = time.monotonic()
        stopped = _freeze_tree(self.root.pid)
        freeze_ms = round((time.monotonic() - start) * 1000, 3)
        try:
            self.cut_connections = _cut_external_tcp(self.root.pid)
            return self._dump(criu, image_dir, init_inode, outputs, ns_pids, freeze_ms, held)
        except BaseException:
            _thaw(stopped)  # CRIU leaves a tree it failed to dump as it found it: stopped
            raise

    def _dump(
        self,
        criu: Criu,
        image_dir: Path,
        init_inode: int,
        outputs: dict[str, int],
        ns_pids: dict[str, int],
        freeze_ms: float,
        held: tuple[tuple[_Endpoint, _Endpoint], ...],
    ) -> Checkpoint:
        start = time.monotonic()
        done = criu.run(
            [
                "dump",
                "--tree",
                str(self.root.pid),
                "--images-dir",
                str(image_dir),
                "--tcp-established",
                "--network-lock",
                "skip",  # loopback only, and every end of every connection is in the tree
                "--file-locks",
                "--skip-in-flight",
                "--external",
                f"unix[{init_inode}]",
                "--log-file",
                "dump.log",
            ]
        )
        dump_ms = round((time.monotonic() - start) * 1000, 3)
        if done.returncode != 0:
            raise SnapshotError("criu dump failed: " + _log_tail(image_dir / "dump.log"))
        size = sum(p.stat().st_size for p in image_dir.iterdir() if p.is_file())
        return Checkpoint(
            image_dir=image_dir,
            control_inode=init_inode,
            outputs=outputs,
            ns_pids=ns_pids,
            dump_ms=dump_ms,
            size_bytes=size,
            freeze_ms=freeze_ms,
            held=held,
        )

    def release(self) -> dict[str, socket.socket]:
        """The connections handed over before the checkpoint, by tag."""
        reply, fds = self._call({"op": "release"}, [])
        return {tag: socket.socket(fileno=fd) for tag, fd in zip(reply["tags"], fds, strict=True)}

    # ---------------------------------------------------------------------- the channel

    def _call(
        self, message: dict[str, Any], fds: Sequence[int]
    ) -> tuple[dict[str, Any], list[int]]:
        with self._send_lock:
            try:
                send_message(self._control, message, fds)
            except OSError as exc:
                raise SnapshotError(f"the namespace init is gone ({exc})") from None
            try:
                return self._replies.get(timeout=REPLY_TIMEOUT_S)
            except queue.Empty:
                raise SnapshotError(
                    f"the namespace init did not answer {message['op']!r} "
                    f"within {REPLY_TIMEOUT_S:.0f} s"
                ) from None

    def _read(self) -> None:
        buffer = b""
        fds: list[int] = []
        while True:
            try:
                data, received = receive(self._control)
            except OSError:
                data, received = b"", []
            fds.extend(received)
            if not data:
                # The init is gone, and with it every process of the namespace.
                for proc in list(self._procs.values()):
                    proc.exited(-signal.SIGKILL)
                return
            buffer += data
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                message = json.loads(line)
                if message["op"] == "exit":
                    self._exited(int(message["pid"]), int(message["returncode"]))
                else:
                    self._replies.put((message, fds))
                    fds = []

    def _exited(self, ns_pid: int, returncode: int) -> None:
        with self._procs_lock:
            proc = self._procs.get(ns_pid)
            if proc is None:
                self._early_exits[ns_pid] = returncode
        if proc is not None:
            proc.exited(returncode)


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except OSError:
        return None


def _reap(root: NsProcess) -> None:
    """The restored init is our child (``--restore-sibling``): wait for it ourselves."""
    try:
        _, status = os.waitpid(root.pid, 0)
        root.exited(os.waitstatus_to_exitcode(status))
    except ChildProcessError:
        root.exited(-signal.SIGKILL)


def child_pids(pid: int) -> list[int]:
    """The pids of ``pid``'s children, from /proc (none if it is gone)."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _host_pid_of(root_pid: int, ns_pid: int) -> int:
    """The host pid of the init's child ``ns_pid`` (0 if it is gone), from ``NSpid``."""
    for child in child_pids(root_pid):
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path(f"/proc/{child}/status").read_text().splitlines():
                if line.startswith("NSpid:") and int(line.split()[-1]) == ns_pid:
                    return child
    return 0


def _tree(root: int) -> list[int]:
    """``root`` and every process below it, parents before their children (the children of
    every thread, as CRIU takes them)."""
    out, todo, seen = [], [root], set()
    while todo:
        pid = todo.pop(0)
        if pid in seen:
            continue
        seen.add(pid)
        out.append(pid)
        for tid in _threads(pid):
            with contextlib.suppress(OSError, ValueError):
                todo.extend(
                    int(c) for c in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()
                )
    return out


def _threads(pid: int) -> list[str]:
    """The thread ids of ``pid`` (none if it is gone)."""
    try:
        return os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []


def _thread_states(pids: Sequence[int]) -> list[tuple[str, str]]:
    """Every thread of ``pids`` (``pid/tid``) with its one-letter state; a thread or process
    that is gone is left out."""
    out = []
    for pid in pids:
        for tid in _threads(pid):
            with contextlib.suppress(OSError, IndexError):
                stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
                out.append((f"{pid}/{tid}", stat.rsplit(")", 1)[1].split()[0]))
    return out


def _running_threads(pids: Sequence[int]) -> list[str]:
    """The threads of ``pids`` not stopped yet (``pid/tid:state``); a zombie counts as stopped."""
    return [f"{t}:{state}" for t, state in _thread_states(pids) if state not in "TZXx"]


def _freeze_tree(root: int, bound_s: float = FREEZE_TIMEOUT_S) -> list[int]:
    """Stop every process of the tree (SIGSTOP) and wait until every thread of each is stopped:
    from then on nothing in it runs until :func:`_thaw`. Returns the pids stopped. If they do not
    all stop within ``bound_s``, they are thawed and ``SnapshotError`` says which did not.

    The init is signalled first (``_tree`` lists parents first): stopped, it reaps nobody, so no
    pid of the tree is freed (and reused by the host) while the rest is being stopped.
    """
    end = time.monotonic() + bound_s
    stopped: list[int] = []
    while True:
        known = set(stopped)
        new = [pid for pid in _tree(root) if pid not in known]
        for pid in new:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
            stopped.append(pid)
        running = _running_threads(stopped)
        if not running and not new:
            return stopped  # every thread stopped, and nothing new in the tree since
        if time.monotonic() > end:
            _thaw(stopped)
            raise SnapshotError(
                f"the process tree did not stop within {bound_s:g} s for the checkpoint "
                f"(SIGSTOP); still running (pid/thread:state): {' '.join(running[:10])}"
            )
        if running:
            time.sleep(0.0002)


def _thaw(pids: Sequence[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


def _resume_tree(root: int, bound_s: float = FREEZE_TIMEOUT_S) -> None:
    """Run a restored tree: it was dumped stopped (:func:`_freeze_tree`), and CRIU restores a
    task dumped stopped stopped. SIGCONT to each process, as the sandbox's thaw does; raises
    ``SnapshotError`` if some thread is still stopped after ``bound_s``."""
    end = time.monotonic() + bound_s
    while True:
        pids = _tree(root)
        _thaw(pids)
        stopped = [t for t, state in _thread_states(pids) if state == "T"]
        if not stopped:
            return
        if time.monotonic() > end:
            raise SnapshotError(
                f"the restored process tree did not run again within {bound_s:g} s (SIGCONT); "
                f"still stopped (pid/thread): {' '.join(stopped[:10])}"
            )
        time.sleep(0.0002)


_Endpoint = tuple[str, int]


def _tcp_rows(
    ports: set[tuple[int, int]] | None = None,
) -> list[tuple[_Endpoint, _Endpoint, str, int]]:
    """Every TCP socket of this network namespace (only those whose (local, remote) ports are in
    ``ports``, if given): (local, remote, state in hex, inode), the inode 0 for one no process
    holds (in TIME_WAIT, or closed by its process and still closing)."""
    rows = []
    for table, width in (("tcp", 4), ("tcp6", 16)):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) <= 9:
                    continue
                if ports is not None:
                    pair = (int(fields[1][-4:], 16), int(fields[2][-4:], 16))
                    if pair not in ports:
                        continue
                local, remote = (_endpoint(fields[i], width) for i in (1, 2))
                rows.append((local, remote, fields[3], int(fields[9])))
    return rows


def _tcp_sockets() -> dict[int, tuple[_Endpoint, _Endpoint, str]]:
    """Every TCP socket a process holds, by inode: (local, remote, state in hex)."""
    return {inode: (local, remote, state) for local, remote, state, inode in _tcp_rows() if inode}


def _sockaddr(address: Any) -> _Endpoint:
    """``getsockname()``'s address as ``_endpoint`` gives it (an IPv4-mapped one as IPv4)."""
    ip = ipaddress.ip_address(address[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip), int(address[1])


def _pair(conn: socket.socket) -> tuple[_Endpoint, _Endpoint] | None:
    """A connection's (local, remote) address pair; None if it is not connected any more."""
    try:
        return _sockaddr(conn.getsockname()), _sockaddr(conn.getpeername())
    except OSError:
        return None


def _wait_pairs_free(pairs: Sequence[tuple[_Endpoint, _Endpoint]], bound_s: float) -> list[str]:
    """Wait (bounded) until no TCP socket holds one of ``pairs`` (either way round), but one in
    TIME_WAIT (which a restore may take over); returns those still held (local > remote)."""
    if not pairs:
        return []
    wanted = {pair for local, remote in pairs for pair in ((local, remote), (remote, local))}
    ports = {(local[1], remote[1]) for local, remote in wanted}
    end = time.monotonic() + bound_s
    while True:
        busy = sorted(
            {(local, remote) for local, remote, state, _ in _tcp_rows(ports) if state != "06"}
            & wanted  # 06: TIME_WAIT
        )
        if not busy or time.monotonic() > end:
            return [_name(local, remote) for local, remote in busy]
        time.sleep(0.002)


def _endpoint(text: str, width: int) -> _Endpoint:
    """``0100007F:B606`` (each 32-bit word of the address in host order) -> (address, port)."""
    address, port = text.split(":")
    return _address(address, width), int(port, 16)


@functools.lru_cache(maxsize=1024)
def _address(hex_address: str, width: int) -> str:
    """The address part of :func:`_endpoint` (cached: a table repeats a few addresses)."""
    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, width, 4))
    ip = ipaddress.ip_address(words)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip)


def _external_tcp(root: int) -> dict[tuple[_Endpoint, _Endpoint], int]:
    """The tree's TCP connections whose other end is not in the tree: (local, remote) each, with
    the pid of a process that holds it.

    A listening socket is none, nor is a connection whose two ends are both the tree's. A socket
    ``ss -K`` destroyed is out of the kernel's tables, so it is none either.
    """
    tcp = _tcp_sockets()
    ours: dict[int, tuple[_Endpoint, _Endpoint, str, int]] = {}
    for pid in _tree(root):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if link.startswith("socket:["):
                        inode = int(link[8:-1])
                        if inode in tcp:
                            ours[inode] = (*tcp[inode], pid)
    inside = {(local, remote) for local, remote, _, _ in ours.values()}
    return {
        (local, remote): pid
        for local, remote, state, pid in ours.values()
        if state != "0A" and (remote, local) not in inside  # 0A: LISTEN
    }


def _kill_tcp(local: _Endpoint, remote: _Endpoint) -> str | None:
    """Destroy the connection ``local`` > ``remote`` (``ss -K``: the kernel's SOCK_DESTROY; the
    peer gets a reset). Returns what ``ss`` complained of, if anything."""
    (lip, lport), (rip, rport) = local, remote
    done = subprocess.run(
        ["ss", "-K", "-t", "-n", "src", f"[{lip}]:{lport}", "dst", f"[{rip}]:{rport}"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    if done.returncode != 0 or done.stderr.strip():
        return f"exit {done.returncode}: {' '.join(done.stderr.split())}"
    return None


def _name(local: _Endpoint, remote: _Endpoint) -> str:
    return f"{local[0]}:{local[1]} > {remote[0]}:{remote[1]}"


def _cut_external_tcp(root: int) -> dict[str, str]:
    """Cut the tree's TCP connections whose other end is not in the tree (see the module doc),
    the tree being frozen, and check that none is left; returns them (local > peer), each with
    the process that held it (its command name and pid).

    Raises ``SnapshotError`` when one cannot be cut (no ``ss``) or is still there after the cut.
    """
    external = _external_tcp(root)
    if external and shutil.which("ss") is None:
        raise SnapshotError(
            f"{len(external)} TCP connection(s) to peers outside the sandbox, and no `ss` "
            "(iproute2) to cut them with: a second restore could not recreate them"
        )
    complaints = []
    for local, remote in external:
        complaint = _kill_tcp(local, remote)
        if complaint:
            complaints.append(f"{_name(local, remote)}: {complaint}")
    remaining = _external_tcp(root)
    if remaining:
        said = f" (ss: {'; '.join(complaints)})" if complaints else ""
        raise SnapshotError(
            f"{len(remaining)} TCP connection(s) to peers outside the sandbox survived the cut "
            f"(ss -K): {', '.join(_name(local, remote) for local, remote in remaining)}; "
            f"a restored copy would be served on them, which on Lambda are dead{said}"
        )
    return {_name(local, remote): _process_name(pid) for (local, remote), pid in external.items()}


def _process_name(pid: int) -> str:
    try:
        command = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        command = "?"
    return f"{command} (pid {pid})"


def _log_tail(path: Path, lines: int = 6) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return f"(no log at {path})"
    errors = [line for line in text if "Error" in line] or text
    return " | ".join(line.strip() for line in errors[-lines:]) + f" (log: {path})"
