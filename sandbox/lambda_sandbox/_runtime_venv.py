"""The runtime's Python: a cached venv that holds awslambdaric and nothing else of ours.

Lambda's managed runtime has its own interpreter with awslambdaric (and boto3) under
``/var/runtime``; a function sees only that plus its own code and layers. Running the runtime on
our dev venv would hide a layer's missing dependency, so the sandbox builds, once per machine and
cached, a venv for the runtime's Python version holding only awslambdaric and its dependencies
(simplejson, snapshot-restore-py). boto3 is left out: nothing here needs it, and it is ~80 MB.

The packages are copied from an installed awslambdaric of the same Python version when the
current interpreter has one (offline, a few ms), else installed with pip.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["find_python", "runtime_venv"]

RUNTIME_DISTRIBUTIONS = ("awslambdaric", "simplejson", "snapshot-restore-py")
_REPO_ROOT = Path(__file__).resolve().parents[2]


class RuntimeSetupError(RuntimeError):
    """The runtime's Python or its venv could not be prepared."""


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lambda-warmup" / "sandbox"


def find_python(version: str) -> Path:
    """Path of a ``pythonX.Y`` interpreter, via ``scripts/find-python`` (PATH, then pyenv)."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return Path(sys.executable)
    script = _REPO_ROOT / "scripts" / "find-python"
    candidates = [shutil.which(f"python{version}")]
    if script.exists():
        proc = subprocess.run(
            [str(script), version], capture_output=True, text=True, timeout=30, check=False
        )
        if proc.returncode == 0:
            candidates.insert(0, proc.stdout.strip())
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return Path(candidate)
    raise RuntimeSetupError(
        f"no python{version} found (PATH, pyenv); install it to run python{version} functions"
    )


def runtime_venv(version: str = "3.13") -> Path:
    """Directory of the cached runtime venv for ``pythonX.Y``; built on first use."""
    ric = importlib.metadata.version("awslambdaric") if _have_local_ric(version) else "pip"
    target = cache_root() / f"runtime-py{version}-awslambdaric-{ric}"
    if (target / ".complete").exists():
        return target
    python = find_python(version)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only home (some CI runners): cache per machine under /tmp instead
        target = Path(tempfile.gettempdir()) / f"lambda-warmup-sandbox-{os.getuid()}" / target.name
        if (target / ".complete").exists():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        subprocess.run(
            [str(python), "-m", "venv", "--without-pip", str(work)],
            check=True,
            capture_output=True,
            timeout=120,
        )
        site = work / "lib" / f"python{version}" / "site-packages"
        if ric != "pip":
            _copy_distributions(site)
        else:
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", "--target", str(site), "awslambdaric"],
                check=True,
                capture_output=True,
                timeout=600,
            )
        subprocess.run(
            [str(work / "bin" / "python"), "-m", "compileall", "-q", str(site)],
            check=True,
            capture_output=True,
            timeout=120,
        )
        check = subprocess.run(
            [str(work / "bin" / "python"), "-c", "import awslambdaric.bootstrap, runtime_client"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if check.returncode != 0:
            raise RuntimeSetupError(
                f"runtime venv {work} cannot import awslambdaric: {check.stderr}"
            )
        (work / ".complete").touch()
        # The venv's scripts hold absolute paths, so build where it will live: rename in place.
        try:
            work.rename(target)
        except OSError:
            # Someone else finished first; theirs is as good as ours.
            if not (target / ".complete").exists():
                raise
    except subprocess.CalledProcessError as exc:
        raise RuntimeSetupError(
            f"building the runtime venv failed: {exc.cmd}: {exc.stderr!r}"
        ) from exc
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    _fix_venv_paths(target, work)
    return target


def _have_local_ric(version: str) -> bool:
    if f"{sys.version_info.major}.{sys.version_info.minor}" != version:
        return False
    try:
        for name in RUNTIME_DISTRIBUTIONS:
            importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _copy_distributions(site: Path) -> None:
    for name in RUNTIME_DISTRIBUTIONS:
        dist = importlib.metadata.distribution(name)
        for file in dist.files or ():
            if "__pycache__" in file.parts:
                continue
            source = Path(str(dist.locate_file(file)))
            if not source.is_file():
                continue
            dest = site / file
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest)


def _fix_venv_paths(target: Path, built_at: Path) -> None:
    """Rewrite the build directory's name in the venv's text files after the rename."""
    for path in [target / "pyvenv.cfg", *(target / "bin").glob("activate*")]:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            text = path.read_text()
            if str(built_at) in text:
                path.write_text(text.replace(str(built_at), str(target)))
