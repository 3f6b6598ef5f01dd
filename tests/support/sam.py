"""The SAM CLI as the template tests run it: from ``.venv-sam``, with the Python it needs on
PATH."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.dist import DIST_TIMEOUT_S
from tests.support.paths import REPO

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
