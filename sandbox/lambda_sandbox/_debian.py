"""Programs from Debian's archive, unpacked into the sandbox's cache without installing anything.

The sandbox needs programs newer than the machine may have (CRIU 4.2, Python 3.14). Debian sid
has them. apt runs on a private state directory with an empty package status, so it fetches a
program with its whole library closure, the C library and its loader included, none of it from
the host; ``dpkg-deb -x`` unpacks that into the cache. Nothing on the machine is installed or
changed. Sid's binaries need a newer C library than the host's, so they run under the closure's
own loader: ``Unpacked.command`` for one command, or an ELF interpreter patched to point at it
(``_pythons``).

Also the cache itself (``cache_root``, ``cache_dir``, ``locked``): the runtime venvs live there
too. Standard library only, Python 3.11 syntax: ``_pythons`` imports this module when it runs as
a plain script on the machine's python3, before any venv exists.
"""

from __future__ import annotations

import fcntl
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "SUITE",
    "DownloadError",
    "Unpacked",
    "cache_dir",
    "cache_root",
    "fetch",
    "locked",
    "run",
]

SUITE = "sid"
_ARCHES = {"x86_64": ("amd64", "x86_64-linux-gnu"), "aarch64": ("arm64", "aarch64-linux-gnu")}
_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")


class DownloadError(RuntimeError):
    """A download from Debian's archive failed; the message says what and why, on one line."""


def cache_root() -> Path:
    """The sandbox's cache: Debian downloads and runtime venvs, kept across runs."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lambda-warmup" / "sandbox"


def cache_dir() -> Path:
    """``cache_root()``, created; under /tmp (per user) when the home is read-only (some CI)."""
    root = cache_root()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError:
        root = Path(tempfile.gettempdir()) / f"lambda-warmup-sandbox-{os.getuid()}"
        root.mkdir(parents=True, exist_ok=True)
    return root


@contextmanager
def locked(target: Path) -> Iterator[None]:
    """Hold the cache entry ``target``'s lock: concurrent builders of one entry take turns."""
    with (target.parent / f".{target.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def cached(target: Path, build: Callable[[Path], None]) -> Path:
    """The cache entry ``target``, made by ``build(target)`` once per machine and returned.

    Built where it will live (absolute paths written into it stay valid); concurrent callers
    wait on the entry's lock, and a ``.complete`` marker says it is whole. If ``build`` raises,
    the next call starts over.
    """
    if (target / ".complete").exists():
        return target
    with locked(target):
        if not (target / ".complete").exists():
            shutil.rmtree(target, ignore_errors=True)
            build(target)
            (target / ".complete").touch()
    return target


def run(
    command: Sequence[str | Path],
    *,
    what: str,
    timeout: float,
    error: type[Exception] = DownloadError,
    cwd: Path | None = None,
) -> str:
    """Run ``command`` (in ``cwd``); its stdout, or ``error`` saying on one line what failed."""
    try:
        done = subprocess.run(
            [str(part) for part in command],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise error(f"{what} took over {timeout:g} s; stopped") from None
    except OSError as exc:
        raise error(f"{what}: cannot run {command[0]}: {exc.strerror}") from None
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip()).splitlines()[-3:]
        raise error(f"{what} failed (exit {done.returncode}): {' / '.join(said)}")
    return done.stdout


@dataclass(frozen=True)
class Unpacked:
    """Debian packages unpacked under ``root`` (its ``usr/`` is what they install in ``/usr``)."""

    root: Path
    triplet: str
    """The multiarch directory name, e.g. ``x86_64-linux-gnu``."""

    @property
    def libdirs(self) -> tuple[Path, ...]:
        """Where the closure's shared libraries are (sid keeps them in usr/lib, older in lib)."""
        dirs = (self.root / "usr" / "lib" / self.triplet, self.root / "lib" / self.triplet)
        return tuple(d for d in dirs if d.is_dir())

    @property
    def loader(self) -> Path:
        """The closure's dynamic loader (``ld-linux*.so*``)."""
        for libdir in self.libdirs:
            found = sorted(libdir.glob("ld-linux*.so*"))
            if found:
                return found[0]
        raise DownloadError(f"the download in {self.root} has no dynamic loader")

    def command(self, program: Path) -> tuple[str, ...]:
        """How to run one of the download's programs: under its own loader and libraries."""
        path = ":".join(map(str, self.libdirs))
        return (str(self.loader), "--library-path", path, str(program))


def fetch(
    name: str,
    packages: Sequence[str],
    *,
    what: str,
    data: Sequence[str] = (),
    finish: Callable[[Unpacked], None] | None = None,
) -> Unpacked:
    """``packages`` and their closure from Debian sid, unpacked in the cache as ``NAME-sid-ARCH``.

    ``data`` are packages of files only, no programs (a wheel, say), fetched without their
    dependencies, which are for whoever installs them for real. Downloaded once per machine:
    concurrent callers wait on a file lock, and a ``.complete`` marker says the tree is whole.
    ``finish`` runs on the tree at its final place (so absolute paths written into it stay valid)
    before it is marked complete; if it raises, the next call starts over. ``what`` names the
    download in error messages.
    """
    machine = platform.machine()
    if machine not in _ARCHES:
        raise DownloadError(f"no {what} download for {machine} (x86_64, aarch64 only)")
    arch, triplet = _ARCHES[machine]
    target = cache_dir() / f"{name}-{SUITE}-{arch}"
    unpacked = Unpacked(target / "root", triplet)

    def download(target: Path) -> None:  # one download per machine, whoever comes first
        _download(target, arch, packages, data, what)
        if finish is not None:
            finish(unpacked)

    cached(target, download)
    return unpacked


def _download(
    target: Path, arch: str, packages: Sequence[str], data: Sequence[str], what: str
) -> None:
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise DownloadError(f"no {tool} to download {what} from Debian with")
    if not _KEYRING.exists():
        raise DownloadError(f"no {_KEYRING} to check Debian's archive with")
    work = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    work.chmod(0o755)  # mkdtemp's 0700 would keep other users from running what is in it
    try:
        debs = _apt_download(work / "apt", arch, packages, data, what)
        for deb in debs:
            run(
                ["dpkg-deb", "-x", deb, work / "root"],
                what=f"unpacking {deb.name}",
                timeout=120,
            )
        # What was fetched (name, size), for whoever wonders what the cache holds.
        (work / "packages").write_text("".join(f"{d.name} {d.stat().st_size}\n" for d in debs))
        shutil.rmtree(work / "apt")
        work.rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _apt_download(
    apt: Path, arch: str, packages: Sequence[str], data: Sequence[str], what: str
) -> list[Path]:
    """The .deb files of ``packages`` and everything they depend on, and of ``data`` alone."""
    for sub in ("lists/partial", "cache/archives/partial", "etc/parts"):
        (apt / sub).mkdir(parents=True)
    (apt / "status").touch()
    (apt / "etc" / "sources.list").write_text(
        f"deb [signed-by={_KEYRING}] http://deb.debian.org/debian {SUITE} main\n"
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
        "-oAcquire::Languages=none",  # no translated descriptions: less index to fetch
    ]
    # The status file is empty: apt fetches every library the packages need, none from the host.
    run(["apt-get", *options, "update"], what=f"downloading {what} (apt-get update)", timeout=600)
    install = ["--download-only", "--no-install-recommends", "-y", "install", *packages]
    run(["apt-get", *options, *install], what=f"downloading {what} (apt-get install)", timeout=600)
    archives = apt / "cache" / "archives"
    if data:  # `apt-get download` fetches the packages named, none of their dependencies
        download = ["apt-get", *options, "download", *data]
        run(download, what=f"downloading {what} (apt-get download)", timeout=600, cwd=archives)
    return sorted(archives.glob("*.deb"))
