"""Run the extension as Lambda does: the layer's launcher, as a real process, with a clean env."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.extension import LAUNCHER, REPORT_APP, Harness
from tests.support.extensions_api import FakeExtensionsApi
from tests.support.paths import REPO


@pytest.fixture(scope="session")
def python_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory whose ``python3`` is this interpreter (3.13), to put first on PATH."""
    directory = tmp_path_factory.mktemp("bin")
    (directory / "python3").symlink_to(os.path.realpath(sys.executable))
    return directory


@pytest.fixture
def harness(python_bin: Path) -> Iterator[Harness]:
    with FakeExtensionsApi() as api:
        h = Harness(api, python_bin)
        try:
            yield h
        finally:
            for process in h.processes:
                process.stop()


@pytest.fixture
def layer_copy(tmp_path: Path) -> Path:
    """The layer as shipped (``extensions/`` beside ``extension_entry/``), somewhere else."""
    root = tmp_path / "some where" / "opt"
    (root / "extensions").mkdir(parents=True)
    shutil.copy2(LAUNCHER, root / "extensions" / "lambda-warmup")
    shutil.copytree(
        REPO / "extension_entry",
        root / "extension_entry",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return root


@pytest.fixture
def report_app(tmp_path: Path) -> Path:
    """Function code whose import reports to the extension after ``REPORT_AFTER_MS`` (stdlib)."""
    directory = tmp_path / "code"
    directory.mkdir()
    (directory / "app.py").write_text(REPORT_APP)
    return directory
