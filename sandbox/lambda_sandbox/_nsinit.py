"""The init process of a sandbox's own pid namespace: the root of a tree CRIU can checkpoint.

Run as ``python _nsinit.py FD`` with a Unix stream socket on fd FD (standard library only; it
never imports the sandbox). It moves into a new pid namespace and forks; the child is pid 1
there and the sandbox talks to it over that socket. The parent stays in the caller's namespace
only to wait for it, so the caller has a child to wait on.

A pid namespace is what lets one checkpoint be restored again and again: the restored processes
get their pids back inside a new namespace each time, whatever the host's pids are by then, and
when the namespace's init dies the kernel kills and reaps everything in it (no orphans, no
zombies that would pin a pid).

Messages are JSON lines; file descriptors travel with them as ``SCM_RIGHTS``
(:func:`send_message`, :func:`receive`: both ends use them, ``_snapshot.py`` imports them).
- sandbox to init: ``{"op": "spawn", "name", "args", "env", "cwd"}`` with the write end of the
  process's output pipe; ``{"op": "hold", "tags"}`` with one socket per tag (kept across the
  checkpoint); ``{"op": "release"}`` (send them back).
- init to sandbox: ``{"op": "spawned", "name", "pid"}`` (pid in the namespace) or
  ``{"op": "spawn_failed", "name", "error"}``; ``{"op": "exit", "pid", "returncode"}``
  (negative: killed by that signal, as ``Popen.returncode``); ``{"op": "held", "tags"}``;
  ``{"op": "released", "tags"}`` with the sockets.
End of file on the socket (the sandbox is gone): kill everything in the namespace and exit.
"""

from __future__ import annotations

import array
import json
import os
import selectors
import signal
import socket
import sys
from collections.abc import Sequence
from typing import Any

MAX_FDS = 64


def main() -> None:
    control_fd = int(sys.argv[1])
    os.set_inheritable(control_fd, False)
    os.unshare(os.CLONE_NEWPID)
    child = os.fork()  # the first child after unshare is pid 1 of the new namespace
    if child:
        os.close(control_fd)
        _, status = os.waitpid(child, 0)
        code = os.waitstatus_to_exitcode(status)
        sys.exit(code if code >= 0 else 128 - code)
    os.setsid()  # session and group leader: the sandbox freezes and kills by this group
    _Init(socket.socket(fileno=control_fd)).run()


def send_message(sock: socket.socket, message: dict[str, Any], fds: Sequence[int] = ()) -> None:
    """One message: a JSON line, with ``fds`` as ``SCM_RIGHTS`` on its first byte."""
    data = json.dumps(message).encode() + b"\n"
    rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
    sent = sock.sendmsg([data], rights)
    if sent < len(data):
        sock.sendall(data[sent:])


def receive(sock: socket.socket) -> tuple[bytes, list[int]]:
    """What one read brings: bytes (empty at end of file) and the descriptors (close-on-exec)."""
    data, ancillary, _, _ = sock.recvmsg(
        65536, socket.CMSG_SPACE(MAX_FDS * 4), socket.MSG_CMSG_CLOEXEC
    )
    fds: list[int] = []
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            received = array.array("i")
            received.frombytes(payload[: len(payload) - len(payload) % received.itemsize])
            fds.extend(received)
    return data, fds


class _Init:
    def __init__(self, control: socket.socket) -> None:
        self.control = control
        self.children: set[int] = set()
        self.held: list[tuple[str, int]] = []
        self.buffer = b""

    def run(self) -> None:
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wakeup fd is written
        signal.set_wakeup_fd(wake_w)
        # poll, not epoll: no kernel object whose watch list CRIU would have to carry over.
        selector = selectors.PollSelector()
        selector.register(self.control, selectors.EVENT_READ, "control")
        selector.register(wake_r, selectors.EVENT_READ, "child")
        while True:
            for key, _ in selector.select():
                if key.data == "child":
                    os.read(wake_r, 4096)
                    self.reap()
                elif not self.receive():
                    os.kill(-1, signal.SIGKILL)  # as pid 1: every other process of the namespace
                    os._exit(0)

    def send(self, message: dict[str, Any], fds: Sequence[int] = ()) -> None:
        send_message(self.control, message, fds)

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in self.children:  # orphans re-parented to us are reaped, not reported
                self.children.discard(pid)
                self.send(
                    {"op": "exit", "pid": pid, "returncode": os.waitstatus_to_exitcode(status)}
                )

    def receive(self) -> bool:
        try:
            data, fds = receive(self.control)
        except OSError:
            return False
        if not data:
            return False
        self.buffer += data
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            self.handle(json.loads(line), fds)
        return True

    def handle(self, message: dict[str, Any], fds: list[int]) -> None:
        op = message["op"]
        if op == "spawn":
            self.spawn(message, fds.pop(0))
        elif op == "hold":
            tags: list[str] = message["tags"]
            self.held = list(zip(tags, fds[: len(tags)], strict=True))
            del fds[: len(tags)]
            self.send({"op": "held", "tags": tags})
        elif op == "release":
            held, self.held = self.held, []
            self.send({"op": "released", "tags": [tag for tag, _ in held]}, [fd for _, fd in held])
            for _, fd in held:
                os.close(fd)

    def spawn(self, message: dict[str, Any], output: int) -> None:
        name = message["name"]
        try:
            os.chdir(message["cwd"])
            pid = os.posix_spawn(
                message["args"][0],
                message["args"],
                message["env"],
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_DUP2, output, 1),
                    (os.POSIX_SPAWN_DUP2, output, 2),
                ],
            )
        except OSError as exc:
            self.send({"op": "spawn_failed", "name": name, "error": str(exc)})
        else:
            self.children.add(pid)
            self.send({"op": "spawned", "name": name, "pid": pid})
        finally:
            os.close(output)


if __name__ == "__main__":
    main()
