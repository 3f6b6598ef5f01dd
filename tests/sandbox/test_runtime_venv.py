"""The runtime's own venv: built on first use, awslambdaric and its dependencies only."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lambda_sandbox import runtime_venv

pytestmark = pytest.mark.e2e


def test_fresh_runtime_venv_holds_awslambdaric_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    venv = runtime_venv("3.13")
    assert venv.is_relative_to(tmp_path)
    assert (venv / ".complete").exists()
    assert runtime_venv("3.13") == venv  # cached
    site = venv / "lib" / "python3.13" / "site-packages"
    names = {
        p.name
        for p in site.iterdir()
        if p.name != "__pycache__" and not p.name.endswith(".dist-info")
    }
    assert {n.split(".")[0] for n in names} == {
        "awslambdaric",
        "runtime_client",
        "simplejson",
        "snapshot_restore_py",
    }
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sys, awslambdaric; print(sys.prefix)"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert out.stdout.strip() == str(venv)
    cfg = (venv / "pyvenv.cfg").read_text()
    assert "include-system-site-packages = false" in cfg
