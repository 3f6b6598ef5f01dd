"""Fixtures for the SAM template tests: the SAM CLI's venv, one `sam build` and one `make dist`
per session."""

from __future__ import annotations

import os
import subprocess
import tomllib
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.layers import RUNTIMES

REPO = Path(__file__).resolve().parent.parent.parent
SAM_VENV = REPO / ".venv-sam"
PYTHON_VERSION = "3.13"


def sam_env(version: str = PYTHON_VERSION) -> dict[str, str]:
    """sam needs ``pythonX.Y`` itself on PATH (pyenv's shims refuse unselected versions)."""
    python = subprocess.run(
        [REPO / "scripts" / "find-python", version],
        capture_output=True,
        text=True,
        check=True,
        timeout=DIST_TIMEOUT_S,
    ).stdout.strip()
    return {
        **os.environ,
        "PATH": f"{Path(python).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "SAM_CLI_TELEMETRY": "0",
    }


@pytest.fixture(scope="session")
def sam_bin() -> Path:
    """``.venv-sam/bin``, made through the Makefile when missing (``make test`` makes it first)."""
    if not (SAM_VENV / ".installed").exists():
        subprocess.run(["make", ".venv-sam/.installed"], cwd=REPO, check=True, timeout=900)
    return SAM_VENV / "bin"


@pytest.fixture(scope="session")
def built(sam_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``sam build`` of the repo's template, once per session, into a temporary build dir."""
    work = tmp_path_factory.mktemp("sam")
    build_dir = work / "build"
    proc = subprocess.run(
        [
            sam_bin / "sam",
            "build",
            "--template-file",
            REPO / "template.yaml",
            "--build-dir",
            build_dir,
            "--cache-dir",
            work / "cache",
        ],
        cwd=work,  # anything sam leaves in its working directory stays out of the repo
        env=sam_env(),
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return build_dir


def sam_validate(sam_bin: Path, template: Path) -> None:
    """``sam validate --lint`` passes on ``template``."""
    proc = subprocess.run(
        [sam_bin / "sam", "validate", "--lint", "--template-file", template],
        cwd=REPO,
        env=sam_env(),
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "is a valid SAM Template" in proc.stdout


def cfn_lint(sam_bin: Path, template: Path) -> None:
    """``cfn-lint`` passes on ``template``."""
    proc = subprocess.run(
        [sam_bin / "cfn-lint", template], capture_output=True, text=True, timeout=50
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- make dist --------------------------------------------------------------------------------
DIST_TIMEOUT_S = 600.0  # a first run may fetch python3.14 (scripts/find-python)
DIST_TEST_TIMEOUT = pytest.mark.timeout(DIST_TIMEOUT_S + 60)
"""For the tests that may be the first to use ``dist``: pytest-timeout counts fixture set-up."""


def project_version(pyproject: Path = REPO / "pyproject.toml") -> str:
    version: str = tomllib.loads(pyproject.read_text())["project"]["version"]
    return version


def layer_zip_name(version: str, runtime: str) -> str:
    return f"lambda-warmup-layer-{version}-{runtime}.zip"


def run_make_dist(out: Path, runtimes: Sequence[str], epoch: int | None = None) -> None:
    """``make dist DIST_DIR=out``; every runtime of ``RUNTIMES`` is the Makefile's default, and
    the last commit's time its SOURCE_DATE_EPOCH's."""
    args = [f"DIST_DIR={out}"]
    if tuple(runtimes) != RUNTIMES:
        args.append(f"DIST_RUNTIMES={' '.join(runtimes)}")
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    if epoch is not None:
        env["SOURCE_DATE_EPOCH"] = str(epoch)
    try:
        proc = subprocess.run(
            ["make", "--no-print-directory", "dist", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=DIST_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"make dist took over {exc.timeout} s") from None
    assert proc.returncode == 0, f"make dist failed:\n{proc.stdout[-2000:]}{proc.stderr[-4000:]}"


def unzip_layer(archive: Path, dest: Path) -> Path:
    """What Lambda does with a layer's zip: extract it, with the modes the zip gives."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            path = Path(zf.extract(info, dest))
            if info.create_system == 3 and info.external_attr >> 16:
                path.chmod(info.external_attr >> 16 & 0o7777)
    return dest


@dataclass
class Dist:
    """``make dist``'s output: ``root`` holds it, for every runtime (scripts/find-python fetches
    a Python that is not on the machine, so none is left out)."""

    root: Path
    version: str
    epoch: int
    """SOURCE_DATE_EPOCH: the commit's time, every time stored in the archives."""
    scratch: Path
    _unzipped: dict[str, Path] = field(default_factory=dict)

    runtimes: tuple[str, ...] = RUNTIMES

    def layer_name(self, runtime: str) -> str:
        return layer_zip_name(self.version, runtime)

    def layer_zip(self, runtime: str) -> Path:
        """The zip of ``runtime``'s layer."""
        return self.root / self.layer_name(runtime)

    def unzipped(self, runtime: str) -> Path:
        """``runtime``'s layer as Lambda extracts it into /opt (read-only: do not edit)."""
        if runtime not in self._unzipped:
            self._unzipped[runtime] = unzip_layer(self.layer_zip(runtime), self.scratch / runtime)
        return self._unzipped[runtime]


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    """``make dist`` once per session, into a temporary DIST_DIR, for every runtime."""
    work = tmp_path_factory.mktemp("dist")
    epoch = subprocess.run(
        ["git", "log", "-1", "--format=%ct"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    result = Dist(work / "dist", project_version(), int(epoch), work / "unzipped")
    run_make_dist(result.root, result.runtimes)
    return result
