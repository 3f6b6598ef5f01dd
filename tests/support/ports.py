"""Ports for tests: no test listens on, or points a process at, a fixed port of the host.

:func:`free_port` is for a listener the test starts (an extension's report port, a fake API);
:func:`own_network_namespace` is for the few tests whose point is the default port itself
(``WARMUP_PORT`` unset or invalid means 9779), which another process on the machine may hold.
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

# <linux/sockios.h>, <net/if.h>: read and set an interface's flags; struct ifreq is 40 bytes.
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_IFREQ_SIZE = 40


def free_port() -> int:
    """A port nothing listens on right now (bind port 0, read it, release it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def own_network_namespace() -> Iterator[None]:
    """Run the block in a new network namespace, with only ``lo`` (up): every port is free there.

    ``unshare(CLONE_NEWNET)`` moves the calling thread only. What the block makes stays in the
    new namespace after the thread moves back: sockets (a sandbox's API server), threads it
    starts (they serve those sockets, spawn processes) and processes it spawns (with their
    children). A sandbox made in the block is therefore wholly inside it, and can be shut down
    after it. Skips the test where a namespace cannot be made (it needs root, CAP_SYS_ADMIN).
    """
    host = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        try:
            os.unshare(os.CLONE_NEWNET)
        except PermissionError as exc:
            pytest.skip(
                "needs a network namespace of its own, where the default port is free "
                f"(root or CAP_SYS_ADMIN): unshare(CLONE_NEWNET): {exc}"
            )
        try:
            _loopback_up()
            yield
        finally:
            os.setns(host, os.CLONE_NEWNET)
    finally:
        os.close(host)


def _loopback_up() -> None:
    """``ip link set lo up``, without needing iproute2: a new namespace's ``lo`` is down."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh", b"lo", 0).ljust(_IFREQ_SIZE, b"\0")
        name, flags = struct.unpack_from("16sh", fcntl.ioctl(sock, _SIOCGIFFLAGS, request))
        request = struct.pack("16sh", name, flags | _IFF_UP).ljust(_IFREQ_SIZE, b"\0")
        fcntl.ioctl(sock, _SIOCSIFFLAGS, request)
