"""The runtime's Python: a cached venv that holds awslambdaric and nothing else of ours.

Lambda's managed runtime has its own interpreter with awslambdaric (and boto3) under
``/var/runtime``; a function sees only that plus its own code and layers. Running the runtime on
our dev venv would hide a layer's missing dependency, so the sandbox builds, once per machine and
cached, a venv for the runtime's Python version holding only what ``runtime-requirements.txt``
pins (awslambdaric and its dependencies, exactly as uv.lock has them; ``make exports`` writes the
file, and it ships in the package). boto3 is left out: nothing here needs it, and it is ~80 MB.

The interpreter comes from ``_pythons`` (PATH, pyenv, else a download from Debian). The packages
are installed by the current interpreter's pip for the runtime's version and platform
(``--target``, hashes required, wheels only), so python3.12, 3.13 and 3.14 venvs are made the
same way, even from an interpreter without pip (Debian's). When the current interpreter is of the
runtime's version and has the pinned versions installed, they are copied instead (offline, a few
ms). The cache entry's name holds a hash of the pins: a lock refresh builds a new venv.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import platform
import re
import shutil
import sys
from pathlib import Path

from . import _debian, _pythons

__all__ = ["RuntimeSetupError", "dependencies_layer", "find_python", "runtime_venv"]

REQUIREMENTS = Path(__file__).with_name("runtime-requirements.txt")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


class RuntimeSetupError(RuntimeError):
    """The runtime's Python or its venv could not be prepared."""


def find_python(version: str) -> Path:
    """Path of a ``pythonX.Y`` interpreter: on PATH, in pyenv, else a cached download."""
    try:
        return _pythons.find_python(version)
    except _pythons.PythonNotFoundError as exc:
        raise RuntimeSetupError(str(exc)) from None


def runtime_venv(version: str = "3.13") -> Path:
    """Directory of the cached runtime venv for ``pythonX.Y``; built on first use."""
    pins = _pins()
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    target = _debian.cache_dir() / f"runtime-py{version}-{digest}"
    if (target / ".complete").exists():
        return target  # without looking for the interpreter
    python = find_python(version)
    # Built where it will live: its scripts and pyvenv.cfg hold absolute paths.
    return _debian.cached(target, lambda venv: _build(venv, python, version, pins))


def _pins() -> dict[str, str]:
    """``name: version`` of every package ``runtime-requirements.txt`` pins."""
    try:
        text = REQUIREMENTS.read_text()
    except OSError as exc:
        raise RuntimeSetupError(f"cannot read the runtime's pins: {exc}") from None
    pins = dict(_PIN.findall(text))
    if "awslambdaric" not in pins:
        raise RuntimeSetupError(f"{REQUIREMENTS} pins no awslambdaric; run 'make exports'")
    return pins


def _build(target: Path, python: Path, version: str, pins: dict[str, str]) -> None:
    def run(command: list[str | Path], what: str, timeout: float = 120) -> str:
        what = f"building the python{version} runtime venv: {what}"
        return _debian.run(command, what=what, timeout=timeout, error=RuntimeSetupError)

    run([python, "-m", "venv", "--without-pip", target], f"{python} -m venv")
    venv_python = target / "bin" / "python"
    site = target / "lib" / f"python{version}" / "site-packages"
    if _installed_here(version, pins):
        _copy_distributions(site, pins)
    else:
        run(_pip_install(site, version), "pip install -r runtime-requirements.txt", timeout=600)
    run([venv_python, "-m", "compileall", "-q", site], "compileall")
    check = "import awslambdaric.bootstrap, runtime_client, importlib.metadata as m;"
    said = run([venv_python, "-c", f"{check} print(m.version('awslambdaric'))"], "import")
    if said.strip() != pins["awslambdaric"]:
        raise RuntimeSetupError(
            f"the python{version} runtime venv has awslambdaric {said.strip()}, "
            f"not the pinned {pins['awslambdaric']}"
        )


def _installed_here(version: str, pins: dict[str, str]) -> bool:
    """Whether the current interpreter is ``version`` and has exactly the pinned packages."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" != version:
        return False
    try:
        return all(importlib.metadata.version(name) == pin for name, pin in pins.items())
    except importlib.metadata.PackageNotFoundError:
        return False


def _copy_distributions(site: Path, pins: dict[str, str]) -> None:
    for name in pins:
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


def _pip_install(site: Path, version: str, requirements: Path = REQUIREMENTS) -> list[str | Path]:
    """The pip command that installs exactly the hashed pins of ``requirements`` into ``site``,
    for ``version`` on Linux."""
    if importlib.util.find_spec("pip") is None:
        raise RuntimeSetupError(
            f"no pip in {sys.executable} to install the runtime's packages with; "
            "run the sandbox from a venv that has pip (the dev venv does)"
        )
    abi = "cp" + version.replace(".", "")
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        "--no-compile",  # .pyc files come from the runtime's own Python, by compileall
        "--target",
        site,
        "--python-version",
        version,
        "--implementation",
        "cp",
        "--abi",
        abi,
        "--platform",
        f"manylinux2014_{platform.machine()}",
        "--platform",  # Lambda's python3.12+ runs on Amazon Linux 2023 (glibc 2.34)
        f"manylinux_2_28_{platform.machine()}",
        "--only-binary",
        ":all:",
        "--no-deps",
        "--require-hashes",
        "-r",
        requirements,
    ]


def dependencies_layer(requirements: Path | str, runtime: str = "python3.13") -> Path:
    """A layer directory (``python/`` inside) holding the hashed pins of ``requirements``, as
    ``sam build`` would install a function's requirements for ``runtime``; cached by content.

    For functions whose dependencies are not in the sandbox's runtime (database drivers, SDKs):
    pass it in ``FunctionSpec.layers``.
    """
    requirements = Path(requirements)
    version = runtime.removeprefix("python")
    try:
        digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]
    except OSError as exc:
        raise RuntimeSetupError(f"cannot read the function's requirements: {exc}") from None
    what = f"installing {requirements.name} for python{version}"

    def install(layer: Path) -> None:
        command = _pip_install(layer / "python", version, requirements)
        _debian.run(command, what=what, timeout=600, error=RuntimeSetupError)

    return _debian.cached(_debian.cache_dir() / f"dependencies-py{version}-{digest}", install)
