"""Fixtures for the SAM template tests: the SAM CLI's venv, and one `sam build` per session."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
SAM_VENV = REPO / ".venv-sam"
PYTHON_VERSION = "3.13"


def sam_env() -> dict[str, str]:
    """sam needs ``python3.13`` itself on PATH (pyenv's shims refuse unselected versions)."""
    python = subprocess.run(
        [REPO / "scripts" / "find-python", PYTHON_VERSION],
        capture_output=True,
        text=True,
        check=True,
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
