"""Local content for a function or a layer: a directory, an extracted ``.zip``, a ``make`` build.

Zips are extracted once into the cache (``<cache>/artifacts/<sha256 of the zip>``): the same
bytes always give the same tree, so a second run, or a second function using the layer, finds it
there. Makefile builds cannot be keyed that way (a Makefile may read anything), so each build goes
to a directory of its own that lives until this process exits, long enough for every
``Sandbox`` made from the spec to have copied it.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

from ._debian import cache_dir
from ._sandbox import SandboxError

__all__ = ["ArtifactError", "extract_zip", "make_build", "unpacked"]

_OUTPUT_TAIL_LINES = 40
_build_root: Path | None = None


class ArtifactError(SandboxError):
    """A directory, zip or build that cannot give a function's or layer's content."""


def unpacked(path: Path) -> Path:
    """``path`` itself if it is a directory, its extracted tree if it is a zip file."""
    if path.is_dir():
        return path
    if path.is_file() and zipfile.is_zipfile(path):
        return extract_zip(path)
    if not path.exists():
        raise ArtifactError(f"{path} does not exist")
    raise ArtifactError(f"{path} is neither a directory nor a .zip file")


def extract_zip(path: Path) -> Path:
    """The zip's tree in the cache, extracted on first use (atomically: a rename)."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    final = _zip_cache() / digest.hexdigest()
    if final.is_dir():
        return final
    scratch = Path(tempfile.mkdtemp(prefix=".extracting-", dir=final.parent))
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                _extract_member(archive, info, scratch, path)
        scratch.chmod(0o755)  # not mkdtemp's 0700: the sandbox copies a tree's modes onto /opt
        try:
            scratch.rename(final)
        except OSError:  # another process extracted the same zip first: keep its tree
            if not final.is_dir():
                raise
    except (OSError, zipfile.BadZipFile) as exc:
        raise ArtifactError(f"cannot extract {path}: {exc}") from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return final


def _extract_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, root: Path, zip_path: Path
) -> None:
    """One entry, with its Unix mode (an extension's launcher must stay executable); an entry
    whose path, or whose symlink's target, would land outside ``root`` is refused."""
    parts = Path(info.filename).parts
    if info.filename.startswith("/") or ".." in parts:
        raise ArtifactError(f"{zip_path}: entry {info.filename!r} escapes the archive's root")
    dest = root.joinpath(*parts) if parts else root
    real_root = os.path.realpath(root)
    if os.path.commonpath([real_root, os.path.realpath(dest.parent)]) != real_root:
        raise ArtifactError(f"{zip_path}: entry {info.filename!r} goes through a symlink")
    mode = info.external_attr >> 16
    if info.is_dir():
        dest.mkdir(parents=True, exist_ok=True)
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    if stat.S_ISLNK(mode):
        target = archive.read(info).decode()
        landing = os.path.normpath(os.path.join(os.path.dirname(dest), target))
        if os.path.isabs(target) or os.path.commonpath([str(root), landing]) != str(root):
            raise ArtifactError(f"{zip_path}: symlink {info.filename!r} -> {target!r} escapes")
        os.symlink(target, dest)
        if os.path.commonpath([real_root, os.path.realpath(dest)]) != real_root:
            raise ArtifactError(f"{zip_path}: symlink {info.filename!r} -> {target!r} escapes")
        return
    if dest.is_symlink():  # an entry of the same name before: never write through it
        dest.unlink()
    with archive.open(info) as src, dest.open("wb") as out:
        shutil.copyfileobj(src, out)
    # A zip made without Unix modes (on Windows, say) has none: a plain readable file then.
    dest.chmod(mode & 0o777 or 0o644)


def make_build(
    source: Path, makefile: Path, logical_id: str, *, timeout_s: float
) -> tuple[Path, float]:
    """Build as ``sam build`` does for ``BuildMethod: makefile``; returns (artifacts, seconds).

    Like SAM: ``source`` is copied to a scratch directory (without ``.aws-sam`` and ``.git``),
    and ``make --makefile <makefile> build-<LogicalId>`` runs there with ``ARTIFACTS_DIR`` set.
    The makefile is the original, not the scratch copy: a Makefile may find its project through
    its own path (this repository's ``layer/Makefile`` does).
    """
    make = shutil.which("make")
    if make is None:
        raise ArtifactError("BuildMethod: makefile needs `make` on PATH")
    if not makefile.is_file():
        raise ArtifactError(f"no Makefile at {makefile}")
    artifacts = Path(tempfile.mkdtemp(prefix=f"{logical_id}-", dir=_builds()))
    artifacts.chmod(0o755)  # not mkdtemp's 0700: the sandbox copies a tree's modes onto /opt
    with tempfile.TemporaryDirectory(prefix="lambda-sandbox-scratch-") as scratch:
        ignore = shutil.ignore_patterns(".aws-sam", ".git")
        shutil.copytree(source, scratch, symlinks=True, ignore=ignore, dirs_exist_ok=True)
        argv = [make, "--makefile", str(makefile), f"build-{logical_id}"]
        # A build of the user's own, as sam build runs it: nothing of a make we may be running
        # under (its flags and variable overrides travel in MAKEFLAGS) leaks into it.
        env = {k: v for k, v in os.environ.items() if k not in _OUTER_MAKE}
        env["ARTIFACTS_DIR"] = str(artifacts)
        return artifacts, _run(argv, Path(scratch), env, timeout_s)


_OUTER_MAKE = frozenset({"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "MAKE_TERMOUT"})


def _run(argv: list[str], cwd: Path, env: dict[str, str], timeout_s: float) -> float:
    """Run ``argv`` in a session of its own (so a timeout ends make's children too); its output
    is shown only when it fails."""
    started = time.monotonic()
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        output = _kill(proc)
        raise ArtifactError(
            f"`{' '.join(argv[1:])}` did not finish in {timeout_s:g} s; "
            f"its output:\n{_tail(output)}"
        ) from None
    except BaseException:  # Ctrl-C never reaches make in its own session: end it here
        _kill(proc)
        raise
    if proc.returncode != 0:
        raise ArtifactError(
            f"`{' '.join(argv[1:])}` failed (exit {proc.returncode}); its output:\n{_tail(output)}"
        )
    return time.monotonic() - started


def _kill(proc: subprocess.Popen[bytes]) -> bytes:
    """End the build's whole session; what it wrote so far, unless a process of it that left
    the session still holds the pipe."""
    with contextlib.suppress(ProcessLookupError):  # the session may be gone already
        os.killpg(proc.pid, signal.SIGKILL)
    try:
        return proc.communicate(timeout=5)[0]
    except subprocess.TimeoutExpired:
        proc.wait()
        return b"(its output is held by a process that left the build's session)"


def _tail(output: bytes) -> str:
    lines = output.decode(errors="replace").rstrip().splitlines()
    skipped = len(lines) - _OUTPUT_TAIL_LINES
    shown = "\n".join(f"  {line}" for line in lines[-_OUTPUT_TAIL_LINES:])
    return f"  ... ({skipped} lines before)\n{shown}" if skipped > 0 else shown or "  (none)"


def _zip_cache() -> Path:
    root = cache_dir() / "artifacts"  # cache_dir() falls back to /tmp when the home is read-only
    root.mkdir(exist_ok=True)
    return root


def _builds() -> Path:
    """This process's directory of builds, removed when it exits."""
    global _build_root
    if _build_root is None:
        _build_root = Path(tempfile.mkdtemp(prefix="lambda-sandbox-builds-"))
        atexit.register(shutil.rmtree, _build_root, ignore_errors=True)
    return _build_root
