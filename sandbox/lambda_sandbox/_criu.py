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
directory inside the cache.

CRIU needs root (it restores processes with the pids they had, and TCP sockets in repair mode).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import platform
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ._runtime_venv import cache_root

__all__ = ["Criu", "SnapshotUnavailableError", "find_criu"]

ENV_VAR = "LAMBDA_SANDBOX_CRIU"
MIN_VERSION = (4, 2)
DEBIAN_SUITE = "sid"
_ARCHES = {"x86_64": ("amd64", "x86_64-linux-gnu"), "aarch64": ("arm64", "aarch64-linux-gnu")}


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
    machine = platform.machine()
    if machine not in _ARCHES:
        raise SnapshotUnavailableError(f"no CRIU download for {machine} (x86_64, aarch64 only)")
    arch, triplet = _ARCHES[machine]
    target = cache_root() / f"criu-{DEBIAN_SUITE}-{arch}"
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / f".{target.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one download per machine, whoever comes first
        if not (target / ".complete").exists():
            _download(target, arch)
    libdir = target / "root" / "usr" / "lib" / triplet
    loaders = sorted(libdir.glob("ld-linux*.so*"))
    if not loaders:
        raise SnapshotUnavailableError(f"the CRIU download in {target} has no dynamic loader")
    return (
        str(loaders[0]),
        "--library-path",
        str(libdir),
        str(target / "root" / "usr" / "sbin" / "criu"),
    )


def _download(target: Path, arch: str) -> None:
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise SnapshotUnavailableError(
                f"no {tool} to download CRIU 4.2 with; set {ENV_VAR} to a criu 4.2 command"
            )
    keyring = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
    if not keyring.exists():
        raise SnapshotUnavailableError(f"no {keyring} to check Debian's archive with")
    shutil.rmtree(target, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        apt = work / "apt"
        for sub in ("lists/partial", "cache/archives/partial", "etc/parts"):
            (apt / sub).mkdir(parents=True)
        (apt / "status").touch()
        (apt / "etc" / "sources.list").write_text(
            f"deb [signed-by={keyring}] http://deb.debian.org/debian {DEBIAN_SUITE} main\n"
        )
        options = [
            f"-oDir::Etc::SourceList={apt / 'etc' / 'sources.list'}",
            f"-oDir::Etc::SourceParts={apt / 'etc' / 'parts'}",
            f"-oDir::Etc::Preferences={apt / 'etc' / 'preferences'}",
            f"-oDir::Etc::PreferencesParts={apt / 'etc' / 'parts'}",
            f"-oDir::State::Lists={apt / 'lists'}",
            f"-oDir::State::Status={apt / 'status'}",
            f"-oDir::Cache={apt / 'cache'}",
            f"-oAPT::Architecture={arch}",
            f"-oAPT::Architectures={arch}",
            "-oDebug::NoLocking=1",
            "-oAcquire::Retries=3",
        ]
        # An empty status file: apt fetches criu with every library it needs, none from the host.
        for step in (
            ["update"],
            ["--download-only", "--no-install-recommends", "-y", "install", "criu"],
        ):
            done = subprocess.run(
                ["apt-get", *options, *step],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if done.returncode != 0:
                tail = " / ".join(done.stderr.strip().splitlines()[-3:])
                raise SnapshotUnavailableError(
                    f"downloading CRIU failed (apt-get {step[0]}): {tail}"
                )
        for deb in sorted((apt / "cache" / "archives").glob("*.deb")):
            subprocess.run(
                ["dpkg-deb", "-x", str(deb), str(work / "root")],
                capture_output=True,
                timeout=120,
                check=True,
            )
        shutil.rmtree(apt)
        (work / ".complete").touch()
        work.rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
