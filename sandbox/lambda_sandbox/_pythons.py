"""A ``pythonX.Y`` interpreter for every runtime, found or fetched: no hand install needed.

First match:
1. ``pythonX.Y`` on PATH, if it runs (pyenv's shims refuse versions installed but not selected);
2. pyenv's versions: ``$PYENV_ROOT/versions/X.Y*/bin/pythonX.Y`` (what ``pyenv root`` says),
   then ``~/.pyenv/versions/...``;
3. a copy in the sandbox's cache, downloaded once per machine from Debian sid (python3.14 is
   there, python3.13 too for now) with its library closure, by apt on a private state directory,
   as CRIU is (``_debian``).

Sid's binaries need a newer C library than the host's. The downloaded interpreter is patched with
patchelf (fetched with it, run under the download's own loader) so that it runs directly, and so
does the ``bin/python`` of any venv made from it: its ELF interpreter becomes the download's
loader and its search path the download's libraries, as DT_RPATH. Not DT_RUNPATH: an executable's
DT_RPATH is searched for the dependencies of every library loaded later without a DT_RUNPATH of
its own (the extension modules in lib-dynload, dlopen'ed at import: _ssl needs libssl), while
DT_RUNPATH serves the executable's direct dependencies only (seen: with it, ``import ssl`` found
the host's libcrypto 3.0 and failed, "version OPENSSL_3.3.0 not found").

Debian's pip comes with it, unpacked into its site directory (``_unpack_pip``): ``sam build`` of a
function with a requirements.txt needs ``pythonX.Y -m pip``.

Measured (x86_64, 2 cores, Debian 12 host): 28 packages, 16.8 MB; 11 s in all (apt's index
3.5 s, the packages 2.8 s, unpacking 1.9 s, byte-compiling the standard library and checking it
2.8 s); 74 MB in the cache. ``python3.14 -c pass`` takes 19 ms (pyenv's 3.13 side by side: 24 ms).
pip adds 1 package, 1.5 MB: 1.2 s to fetch (a second apt call), 0.3 s to unpack, about 1 s to
byte-compile; 14 MB in the cache. ``python3.14 -m pip --version`` takes 0.2 s.

Standard library only and Python 3.11 syntax: ``scripts/find-python`` runs this file as a plain
script on the machine's python3 before any venv exists. ``python3 _pythons.py 3.14`` prints the
interpreter's path; if there is none, exit status 1 and one line on stderr saying why.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING or __package__:
    from . import _debian
else:  # run as a plain script: no package, and this file's directory is sys.path[0]
    import _debian

__all__ = ["PythonNotFoundError", "find_python", "main"]

# What the sandbox's runtimes and the layer's build need of the standard library: the C
# extensions whose libraries come from the download (ssl, sqlite3, ctypes, zlib, decimal) and the
# modules that make and fill a venv; and pip, which the download has of its own (see _unpack_pip).
_STDLIB_CHECK = "import asyncio, compileall, ctypes, decimal, _json, sqlite3, ssl, venv, zlib, pip"

# In the cache entry's name: a new one whenever what is downloaded or how it is made runnable
# changes (2: pip), so that a machine's older entry is not taken for a whole one, and no entry is
# removed under a checkout that still uses it. An older entry stays until the cache is cleared.
_REVISION = 2


class PythonNotFoundError(RuntimeError):
    """No interpreter of the version asked for, and none could be downloaded; says why."""


def find_python(version: str) -> Path:
    """Path of a ``pythonX.Y`` interpreter that runs (see the module's docstring for where from).

    Decided once per process, like CRIU: a failed download is not tried again by every caller.
    """
    found = _find_python(version)
    if isinstance(found, PythonNotFoundError):
        raise found
    return found


@functools.cache
def _find_python(version: str) -> Path | PythonNotFoundError:
    try:
        return _locate(version)
    except PythonNotFoundError as exc:
        return exc


def _locate(version: str) -> Path:
    if not re.fullmatch(r"\d+\.\d+", version):
        raise PythonNotFoundError(f"not a Python version: {version!r} (want X.Y, e.g. 3.14)")
    for candidate in _installed(version):
        if _runs(candidate):
            return candidate
    try:
        return _download(version)
    except _debian.DownloadError as exc:
        roots = ", ".join(map(str, _pyenv_roots())) or "none"
        raise PythonNotFoundError(
            f"no python{version} that runs on PATH or in pyenv ({roots}), and {exc}"
        ) from None


def _installed(version: str) -> Iterator[Path]:
    """Every ``pythonX.Y`` on PATH, in PATH's order, then pyenv's (lowest patch version first)."""
    name = f"python{version}"
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(entry or ".") / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            yield candidate
    for root in _pyenv_roots():
        # Sorted by name as scripts/find-python's glob is, so both pick the same one.
        yield from sorted(root.glob(f"versions/{version}*/bin/{name}"))


def _pyenv_roots() -> list[Path]:
    # `pyenv root` prints $PYENV_ROOT, or ~/.pyenv when unset: read without running pyenv.
    roots = [Path(os.environ["PYENV_ROOT"])] if os.environ.get("PYENV_ROOT") else []
    roots.append(Path.home() / ".pyenv")
    return [root for i, root in enumerate(roots) if root.is_dir() and root not in roots[:i]]


def _runs(python: Path) -> bool:
    try:
        done = subprocess.run(
            [str(python), "-c", "pass"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _download(version: str) -> Path:
    """``pythonX.Y`` from Debian sid, made runnable here (see the module's docstring)."""
    name = f"python{version}"
    unpacked = _debian.fetch(
        f"{name}-r{_REVISION}",
        [f"{name}-minimal", f"lib{name}-stdlib", "patchelf"],
        what=name,
        data=["python3-pip-whl"],  # its one dependency, ca-certificates, is the host's to have
        finish=functools.partial(_make_runnable, version),
    )
    return unpacked.root / "usr" / "bin" / name


def _make_runnable(version: str, unpacked: _debian.Unpacked) -> None:
    python = unpacked.root / "usr" / "bin" / f"python{version}"
    patchelf = unpacked.command(unpacked.root / "usr" / "bin" / "patchelf")
    rpath = ":".join(map(str, unpacked.libdirs))
    # --no-sort: Debian's python is not position-independent, and patchelf 0.18 puts the grown
    # .dynamic in a new read-write segment overlapping the first read-only one. Sorted by address,
    # the read-only one is mapped last and the loader's first write to .dynamic is a SIGSEGV;
    # unsorted, the new segment is mapped last and wins.
    loader = str(unpacked.loader)
    patch = ["--set-interpreter", loader, "--set-rpath", rpath, "--force-rpath", "--no-sort"]
    _debian.run([*patchelf, *patch, python], what=f"patching {python}", timeout=60)
    site = _unpack_pip(unpacked)
    # Debian makes the .pyc files when it installs a package; without them every import reads
    # source, several times slower, and concurrent first runs race to write them.
    stdlib = unpacked.root / "usr" / "lib" / f"python{version}"
    run_it = f"running the downloaded {python}"
    compile_all: list[str | Path] = [python, "-m", "compileall", "-q", "-j0", stdlib, site]
    _debian.run(compile_all, what=run_it, timeout=300)
    _debian.run([python, "-c", _STDLIB_CHECK], what=run_it, timeout=60)
    _debian.run([python, "-m", "pip", "--version"], what=run_it, timeout=60)


def _unpack_pip(unpacked: _debian.Unpacked) -> Path:
    """Debian's pip wheel unpacked where the download's ``site`` looks; that directory.

    ``sam build`` of a function with a requirements.txt runs ``pythonX.Y -m pip`` with the first
    ``pythonX.Y`` on PATH that has pip (``pip download``, ``pip wheel``; it unpacks the wheels
    itself). Debian ships pip apart from Python, for venvs as a wheel of pure Python
    (``python3-pip-whl``, its own dependencies vendored; the certificates it trusts are the
    host's, /etc/ssl/certs/ca-certificates.crt, unless PIP_CERT says otherwise), unpacked here into
    the directory that Debian's site.py puts on sys.path: ``lib/python3/dist-packages`` under the
    prefix. No ``pip`` script: the download's bin directory may go first on PATH (for sam) and
    must not hide the machine's pip. The stdlib's EXTERNALLY-MANAGED refuses ``pip install`` into
    the interpreter itself; ``--target``, downloads and wheels are not refused.
    """
    wheels = sorted((unpacked.root / "usr" / "share" / "python-wheels").glob("pip-*.whl"))
    if len(wheels) != 1:
        found = ", ".join(w.name for w in wheels) or "none"
        raise _debian.DownloadError(f"want one pip wheel in the download, found {found}")
    site = unpacked.root / "usr" / "lib" / "python3" / "dist-packages"
    with zipfile.ZipFile(wheels[0]) as wheel:
        wheel.extractall(site)
    return site


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if len(args) != 1:
        sys.stderr.write("usage: _pythons.py X.Y  (prints the path of a pythonX.Y)\n")
        return 2
    try:
        found = find_python(args[0])
    except PythonNotFoundError as exc:
        sys.stderr.write(f"find-python: {exc}\n")
        return 1
    sys.stdout.write(f"{found}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
