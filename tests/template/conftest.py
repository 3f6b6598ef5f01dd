"""Fixtures for the SAM template tests: the SAM CLI's venv, one `sam build` and one `make dist`
per session."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.dist import Dist, project_version, run_make_dist
from tests.support.paths import REPO
from tests.support.sam import SAM_VENV, sam_env

#: ``sam build`` of the three functions and the layer: ~30 s here, nearer 60 s on a busy 2-core
#: runner (SAM's pip builder runs ``pip wheel`` per dependency of the orders sample).
SAM_BUILD_TIMEOUT_S = 180


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that may be the first to use ``built`` is bounded by the build's time too."""
    for item in items:
        if (
            "built" in getattr(item, "fixturenames", ())
            and item.get_closest_marker("timeout") is None
        ):
            item.add_marker(pytest.mark.timeout(SAM_BUILD_TIMEOUT_S + 60))


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
        timeout=SAM_BUILD_TIMEOUT_S,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return build_dir


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
