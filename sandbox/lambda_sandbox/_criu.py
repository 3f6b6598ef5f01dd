"""CRIU, the checkpoint/restore tool the sandbox's SnapStart snapshots are made with.

Which ``criu`` runs, first match:
1. ``LAMBDA_SANDBOX_CRIU``: a command to run (``off`` turns snapshots off);
2. ``criu`` on PATH, if it is version 4.2 or later;
3. a copy in the sandbox's cache, downloaded once per machine from Debian's archive.

Why 4.2 and a download (measured on these machines, kernel 6.18, Debian 12): bookworm's CRIU
3.17 stops at its vDSO check ("Unexpected rt vDSO area bounds", kernels 6.3 and later), trixie's
4.1 fails to dump a TCP socket (the kernel now refuses ``SO_PASSCRED`` on one). Debian sid's 4.2
works. It needs a newer C library than the host's, so the download holds criu with its whole
library closure (about 8 MB of packages, 29 MB unpacked) and runs it under that closure's own
dynamic loader. Nothing on the machine is installed or changed: apt runs on a private state
directory inside the cache (``_debian``).

CRIU needs root (it restores processes with the pids they had, and TCP sockets in repair mode).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from . import _debian

__all__ = ["Criu", "SnapshotUnavailableError", "find_criu"]

ENV_VAR = "LAMBDA_SANDBOX_CRIU"
MIN_VERSION = (4, 2)


class SnapshotUnavailableError(RuntimeError):
    """CRIU cannot be used here; the message says why and what would change it."""


@dataclass(frozen=True)
class Criu:
    command: tuple[str, ...]
    """What to run, arguments before criu's own (a loader and a library path, for the download)."""
    version: str

    def run(
        self, args: Sequence[str], *, pass_fds: Sequence[int] = (), timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.command, *args],
            pass_fds=tuple(pass_fds),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def find_criu() -> Criu:
    """The CRIU to use (installing the cached copy on first use), or SnapshotUnavailableError.

    Decided once per process: a failed download is not tried again by every sandbox.
    """
    found = _find_criu()
    if isinstance(found, SnapshotUnavailableError):
        raise found
    return found


@functools.cache
def _find_criu() -> Criu | SnapshotUnavailableError:
    try:
        return _locate()
    except SnapshotUnavailableError as exc:
        return exc


def _locate() -> Criu:
    chosen = os.environ.get(ENV_VAR, "").strip()
    if chosen.lower() in ("off", "0", "no", "false", "none"):
        raise SnapshotUnavailableError(f"{ENV_VAR}={chosen} turns snapshots off")
    if os.geteuid() != 0:
        raise SnapshotUnavailableError(
            "CRIU needs root (it restores processes with their own pids and TCP sockets in "
            "repair mode); run as root for SnapStart snapshots"
        )
    if chosen:
        return _checked((*chosen.split(),), f"{ENV_VAR}={chosen}")
    system = shutil.which("criu")
    if system:
        with contextlib.suppress(SnapshotUnavailableError):
            return _checked((system,), system)
    return _checked(_cached_download(), "the cached download")


def _checked(command: tuple[str, ...], origin: str) -> Criu:
    try:
        out = subprocess.run(
            [*command, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError as exc:
        raise SnapshotUnavailableError(f"{origin}: cannot run criu: {exc}") from None
    match = re.search(r"Version:\s*(\d+)\.(\d+)(?:\.(\d+))?", out.stdout)
    if out.returncode != 0 or match is None:
        raise SnapshotUnavailableError(f"{origin}: 'criu --version' failed: {out.stderr.strip()}")
    version = tuple(int(part or 0) for part in match.groups())
    if version[:2] < MIN_VERSION:
        raise SnapshotUnavailableError(
            f"{origin} is CRIU {'.'.join(map(str, version))}; 4.2 or later is needed "
            "(older ones fail on this kernel)"
        )
    check = subprocess.run(
        [*command, "check"], capture_output=True, text=True, timeout=60, check=False
    )
    if check.returncode != 0:
        tail = (check.stderr or check.stdout).strip().splitlines()[-1:]
        raise SnapshotUnavailableError(f"{origin}: 'criu check' failed: {' '.join(tail)}")
    return Criu(command=command, version=".".join(map(str, version)))


def _cached_download() -> tuple[str, ...]:
    try:
        criu = _debian.fetch("criu", ["criu"], what="CRIU 4.2")
        return criu.command(criu.root / "usr" / "sbin" / "criu")
    except _debian.DownloadError as exc:
        raise SnapshotUnavailableError(f"{exc}; or set {ENV_VAR} to a criu 4.2 command") from None
