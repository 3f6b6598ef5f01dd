"""Headless Chromium from Debian's archive, to open what the sandbox draws (its timelines).

Debian sid's ``chromium-headless-shell`` with its whole library closure, fetched once into the
cache by apt on a private state directory (``_debian.fetch``), as CRIU and the Pythons are:
nothing on the machine is installed or changed. Chromium starts its helpers (zygote, renderer,
GPU process) by running its own executable again (``/proc/self/exe``), so it cannot run as an
argument of the download's loader (``Unpacked.command``): the binary is patched with patchelf
instead, as ``_pythons`` patches Python (ELF interpreter: the download's loader; DT_RPATH: its
library directories). libpulse names its private directory in a DT_RUNPATH of its own
(``/usr/lib/<triplet>/pulseaudio``), which hides the executable's DT_RPATH from its lookups, so
that path is pointed into the download too. Fonts and their configuration are the download's
(DejaVu), through ``FONTCONFIG_SYSROOT``, whatever the host has.

``LAMBDA_SANDBOX_CHROMIUM`` names another Chromium (a ``chromium`` or ``chromium-headless-shell``
command) to use instead.

Measured (x86_64, 2 cores, Debian 12 host): 128 packages (patchelf included), 180 MB, fetched,
unpacked and patched in 19-50 s (the network varies); 600 MB in the cache. A page's
``--dump-dom`` takes about 0.4 s.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import _debian

__all__ = ["BrowserError", "Chromium", "find_chromium"]

ENV_VAR = "LAMBDA_SANDBOX_CHROMIUM"
_REVISION = 1
"""In the cache entry's name: a new one whenever what is fetched or how it is patched changes."""
_FLAGS = (
    "--headless",
    "--no-sandbox",  # root, and no user namespaces to count on
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--hide-scrollbars",
)


class BrowserError(RuntimeError):
    """Chromium could not be had or could not open a page; the message says why, on one line."""


@dataclass(frozen=True)
class Chromium:
    """A headless Chromium that runs here: ``command`` and the ``env`` it needs."""

    command: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)

    def version(self) -> str:
        return self._run(["--version"], timeout_s=30).strip()

    def dump_dom(self, page: Path, *, timeout_s: float = 60.0) -> str:
        """The page's DOM once it has loaded and its scripts have run, as HTML."""
        return self._run(["--dump-dom", page.resolve().as_uri()], timeout_s=timeout_s)

    def screenshot(
        self, page: Path, png: Path, *, width: int = 1300, height: int = 900, timeout_s: float = 60
    ) -> Path:
        """A PNG of the page in a ``width`` x ``height`` window."""
        args = [f"--screenshot={png}", f"--window-size={width},{height}", page.resolve().as_uri()]
        self._run(args, timeout_s=timeout_s)
        if not png.is_file():
            raise BrowserError(f"Chromium wrote no screenshot of {page} to {png}")
        return png

    def _run(self, args: Sequence[str], *, timeout_s: float) -> str:
        """Chromium with ``args`` in a profile of its own (removed after), bounded; stdout."""
        profile = Path(tempfile.mkdtemp(prefix="lambda-sandbox-chromium-"))
        command = [*self.command, *_FLAGS, f"--user-data-dir={profile}", *args]
        try:
            proc = subprocess.Popen(
                command,
                env={**os.environ, **self.env},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,  # its helpers with it: one group to end on a timeout
            )
        except OSError as exc:
            shutil.rmtree(profile, ignore_errors=True)
            raise BrowserError(f"cannot run {command[0]}: {exc.strerror}") from None
        try:
            out, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            said = f"Chromium took over {timeout_s:g} s on {args[-1]}; killed"
            raise BrowserError(said) from None
        finally:
            shutil.rmtree(profile, ignore_errors=True)
        if proc.returncode != 0:
            said = " / ".join(err.strip().splitlines()[-3:])
            raise BrowserError(f"Chromium failed (exit {proc.returncode}) on {args[-1]}: {said}")
        return out


def find_chromium() -> Chromium:
    """``LAMBDA_SANDBOX_CHROMIUM``'s Chromium, or Debian's, downloaded once (see the module's
    docstring). Decided once per process: a failed download is not tried again by every caller.
    """
    found = _find_chromium()
    if isinstance(found, BrowserError):
        raise found
    return found


@functools.cache
def _find_chromium() -> Chromium | BrowserError:
    given = os.environ.get(ENV_VAR)
    if given:
        return Chromium((given,))
    try:
        unpacked = _debian.fetch(
            f"chromium-r{_REVISION}",
            ["chromium-headless-shell", "patchelf"],
            what="Chromium",
            finish=_make_runnable,
        )
    except _debian.DownloadError as exc:
        return BrowserError(f"no headless Chromium: {exc} (or set {ENV_VAR} to one)")
    root = unpacked.root
    env = {
        "FONTCONFIG_SYSROOT": str(root),
        "FONTCONFIG_FILE": str(root / "etc" / "fonts" / "fonts.conf"),
    }
    return Chromium((str(_binary(root)),), env)


def _binary(root: Path) -> Path:
    return root / "usr" / "lib" / "chromium" / "chromium-headless-shell"


def _make_runnable(unpacked: _debian.Unpacked) -> None:
    patchelf = unpacked.command(unpacked.root / "usr" / "bin" / "patchelf")
    binary = _binary(unpacked.root)
    if not binary.is_file():
        raise _debian.DownloadError(f"the Chromium download has no {binary}")
    rpath = ":".join(map(str, unpacked.libdirs))
    patch = ["--set-interpreter", str(unpacked.loader), "--set-rpath", rpath, "--force-rpath"]
    _debian.run([*patchelf, *patch, binary], what=f"patching {binary}", timeout=120)
    for libdir in unpacked.libdirs:
        private = libdir / "pulseaudio"
        for lib in sorted(libdir.glob("libpulse*.so.*")):
            if lib.is_symlink() or not private.is_dir():
                continue
            point: list[str | Path] = [*patchelf, "--set-rpath", str(private), lib]
            _debian.run(point, what=f"patching {lib}", timeout=60)
    version = Chromium((str(binary),)).version()
    if "Chromium" not in version:
        raise _debian.DownloadError(f"the downloaded Chromium says {version!r} to --version")
