"""The runtime's own venv: built on first use, exactly the pinned packages, for 3.12 to 3.14.

python3.14 is on no machine here: ``find_python`` downloads it from Debian the first time (about
10 s, into the real cache, kept) and finds the cached copy after.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lambda_sandbox import _debian, _pythons, _runtime_venv, runtime_venv
from lambda_sandbox._pythons import find_python

pytestmark = pytest.mark.e2e

RUNTIMES = ["3.12", "3.13", "3.14"]
# What the downloaded interpreter must import, each C extension with its library.
STDLIB = "import asyncio, ctypes, decimal, _json, sqlite3, ssl, zlib"


@pytest.mark.timeout(300)  # the first run downloads python3.14 (~17 MB) with apt
def test_python_3_14_is_found_or_downloaded_and_runs_on_its_own_libraries() -> None:
    python = find_python("3.14")
    maps = "{line.split()[-1] for line in open('/proc/self/maps') if '.so' in line}"
    code = f"{STDLIB}; print(*sorted({maps}))"
    done = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, f"{python} could not import {STDLIB!r}: {done.stderr}"
    if not python.is_relative_to(_debian.cache_dir()):
        return  # python3.14 is installed on this machine: nothing of ours to check
    root = Path(str(python).split("/usr/bin/", 1)[0])
    # Every library comes from the download, none from the host (the host's C library is older).
    assert all(Path(lib).is_relative_to(root) for lib in done.stdout.split()), done.stdout
    marker = root.parent / ".complete"
    made = marker.stat().st_mtime_ns
    assert _pythons._download("3.14") == python  # the cached copy, not a new download
    assert marker.stat().st_mtime_ns == made


@pytest.mark.timeout(300)  # may download python3.14 first, see above
def test_python_3_14_has_pip_for_sam_build(tmp_path: Path) -> None:
    # `sam build` of a function with a requirements.txt runs `python3.14 -m pip` with the first
    # python3.14 on PATH that has pip; Debian's has none of its own, the download adds it.
    python = find_python("3.14")
    done = subprocess.run(
        [str(python), "-m", "pip", "--version"],
        cwd=tmp_path,  # no pip from the current directory
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"{python} -m pip: {done.stderr}"
    assert done.stdout.startswith("pip "), done.stdout
    assert done.stdout.rstrip().endswith("(python 3.14)"), done.stdout


@pytest.mark.timeout(300)  # may download python3.14 first, see above
@pytest.mark.parametrize("version", RUNTIMES)
def test_fresh_runtime_venv_holds_exactly_the_pinned_packages(
    version: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    find_python(version)  # decided once per process: the real cache's, before moving the cache
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    pins = _runtime_venv._pins()
    venv = runtime_venv(version)
    assert venv.is_relative_to(tmp_path)
    assert (venv / ".complete").exists()
    assert runtime_venv(version) == venv  # cached
    site = venv / "lib" / f"python{version}" / "site-packages"
    installed = {p.name.split("-")[0].lower().replace("_", "-") for p in site.glob("*.dist-info")}
    assert installed == set(pins)
    report = (
        "import sys, awslambdaric.bootstrap, runtime_client, importlib.metadata as m; "
        "print(m.version('awslambdaric'), '%d.%d' % sys.version_info[:2], sys.prefix)"
    )
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", report],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, f"the python{version} venv could not import: {done.stderr}"
    assert done.stdout.split() == [pins["awslambdaric"], version, str(venv)]
    assert "include-system-site-packages = false" in (venv / "pyvenv.cfg").read_text()


def test_new_pins_make_a_new_venv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    built: list[Path] = []

    def build(target: Path, *args: object) -> None:
        target.mkdir()
        built.append(target)

    monkeypatch.setattr(_runtime_venv, "find_python", lambda version: Path("python"))
    monkeypatch.setattr(_runtime_venv, "_build", build)
    requirements = tmp_path / "runtime-requirements.txt"
    requirements.write_text(_runtime_venv.REQUIREMENTS.read_text())
    monkeypatch.setattr(_runtime_venv, "REQUIREMENTS", requirements)
    first = runtime_venv("3.13")
    assert runtime_venv("3.13") == first  # cached
    assert built == [first]
    requirements.write_text(requirements.read_text().replace("==", "==0", 1))  # a lock refresh
    second = runtime_venv("3.13")
    assert second != first
    assert built == [first, second]
