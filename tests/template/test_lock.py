"""uv.lock is the one list of versions: the files made from it agree with it, and the layer ships
exactly the library's dependencies as locked, for every runtime it serves."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import Marker

from tests.support.layers import RUNTIMES
from tests.support.paths import REPO

EXPORTS = [
    "layer/requirements.txt",
    "samples/quotes/requirements.txt",
    "samples/orders/requirements.txt",
    "samples/web/requirements.txt",
    "sandbox/lambda_sandbox/runtime-requirements.txt",
]
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^ ;\\]+)(?: ; (.+?))? \\$", re.MULTILINE)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock() -> dict[str, Any]:
    return tomllib.loads((REPO / "uv.lock").read_text())


def _pins(path: Path) -> dict[str, tuple[str, str | None]]:
    """``{name: (version, marker)}`` of a hashed requirements file that uv exported."""
    return {_norm(m[1]): (m[2], m[3]) for m in PIN.finditer(path.read_text())}


def test_lock_is_current_with_pyproject() -> None:
    """What `make test` installs with ``uv sync --locked``: it refuses a stale lock."""
    proc = subprocess.run(
        ["make", "--no-print-directory", "-s", "lock-check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"uv.lock is stale; run `make lock`:\n{proc.stderr}"


def test_exported_files_equal_what_the_lock_exports(tmp_path: Path) -> None:
    proc = subprocess.run(
        ["make", "--no-print-directory", "-s", "exports", f"EXPORTS_TO={tmp_path}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    for name in EXPORTS:
        assert (tmp_path / name).read_text() == (REPO / name).read_text(), (
            f"{name} differs from uv.lock's export; run `make exports`"
        )
        assert "--hash=sha256:" in (REPO / name).read_text(), f"{name} has no hashes"


def _closure(packages: dict[str, Any], roots: list[dict[str, Any]], python: str) -> set[str]:
    env = {"python_version": python, "python_full_version": f"{python}.0", "extra": ""}
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        dep = todo.pop()
        marker = dep.get("marker")
        if marker and not Marker(marker).evaluate(env):
            continue
        name = _norm(dep["name"])
        if name not in seen:
            seen.add(name)
            todo += packages[name].get("dependencies", [])
    return seen


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_layer_ships_the_locked_dependency_closure_of_the_library(runtime: str) -> None:
    lock = _lock()
    packages = {_norm(p["name"]): p for p in lock["package"] if "source" in p}
    library = packages["lambda-warmup"]
    python = runtime.removeprefix("python")
    needed = _closure(packages, library["dependencies"], python)
    pins = _pins(REPO / "layer" / "requirements.txt")
    env = {"python_version": python, "python_full_version": f"{python}.0"}
    shipped = {n for n, (_v, m) in pins.items() if m is None or Marker(m).evaluate(env)}
    assert shipped == needed, f"{runtime}: layer pins {shipped}, the library needs {needed}"
    for name in shipped:
        assert pins[name][0] == packages[name]["version"], name
        wheels = [w["url"].rsplit("/", 1)[1] for w in packages[name].get("wheels", [])]
        # Pure Python: one layer serves x86_64 and arm64.
        assert any(w.endswith("-none-any.whl") for w in wheels), (name, wheels)


def test_the_tests_run_with_the_versions_the_layer_ships() -> None:
    import importlib.metadata as md

    for name, (version, marker) in _pins(REPO / "layer" / "requirements.txt").items():
        if marker and not Marker(marker).evaluate():
            continue
        assert md.version(name) == version, f"the dev venv has {name} {md.version(name)}"
