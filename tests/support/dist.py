"""``make dist`` as the tests run it, and its output: the layer zips, unzipped as Lambda does."""

from __future__ import annotations

import os
import tomllib
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.commands import run_ok
from tests.support.layers import RUNTIMES
from tests.support.paths import REPO

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
    make = ["make", "--no-print-directory", "dist", *args]
    run_ok(make, "make dist", DIST_TIMEOUT_S, cwd=REPO, env=env)


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
