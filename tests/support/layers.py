"""The lambda-warmup layer as tests use it: built per runtime by layer/Makefile, as sam build does.

``built_layer("python3.14")`` is the real layer (uv.lock's pins, byte-compiled by that runtime's
own Python), built once per test process; ``layer_variant`` makes a layer without the extension
from it, for the tests where INIT is not held. ``source_layer`` is the python3.13 layer made of
symlinks to this checkout and the dev venv (the same locked versions): no build, and a test sees
the sources as they are now.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from pathlib import Path

from tests.support.commands import run_ok
from tests.support.paths import REPO

DEV_SITE = REPO / ".venv" / "lib" / "python3.13" / "site-packages"
_DEPENDENCIES = ["anyio", "httpx", "httpcore", "h11", "idna", "certifi", "typing_extensions.py"]
RUNTIMES = ("python3.12", "python3.13", "python3.14")
"""Lambda's Python runtimes the layer serves (3.12: the first with SnapStart)."""
BUILD_TIMEOUT_S = 600.0  # a first build may fetch python3.14 (scripts/find-python)


@functools.cache
def built_layer(runtime: str) -> Path:
    """The layer's /opt for ``runtime``, built once per test process (read-only: do not edit)."""
    version = runtime.removeprefix("python")
    out = Path(tempfile.mkdtemp(prefix=f"lambda-warmup-layer-{runtime}-"))
    atexit.register(shutil.rmtree, out, ignore_errors=True)
    make = ["make", "--no-print-directory", "-f", str(REPO / "layer" / "Makefile")]
    target = ["build-WarmupLayer", f"ARTIFACTS_DIR={out}", f"PYTHON_VERSION={version}"]
    run_ok([*make, *target], f"building the {runtime} layer", BUILD_TIMEOUT_S, cwd=out)
    return out


def layer_variant(root: Path, runtime: str, *, extension: bool) -> Path:
    """A layer at ``root`` with the built ``runtime`` layer's content, the extension optional."""
    built = built_layer(runtime)
    root.mkdir(parents=True)
    os.symlink(built / "python", root / "python")
    if extension:
        os.symlink(built / "extensions", root / "extensions")
        os.symlink(built / "extension_entry", root / "extension_entry")
    return root


def source_layer(root: Path, *, extension: bool) -> Path:
    """The python3.13 layer at ``root`` as symlinks: extensions/, extension_entry/, python/."""
    python = root / "python"
    python.mkdir(parents=True)
    (python / "lambda_warmup").symlink_to(REPO / "lambda_warmup")
    for name in _DEPENDENCIES:
        assert (DEV_SITE / name).exists(), f"{name} is not in {DEV_SITE}: run `make test` once"
        (python / name).symlink_to(DEV_SITE / name)
    if extension:
        (root / "extensions").mkdir()
        shutil.copy2(REPO / "extensions" / "lambda-warmup", root / "extensions")
        (root / "extension_entry").symlink_to(REPO / "extension_entry")
    return root


def warmup_layer(root: Path, *, extension: bool, runtime: str | None = None) -> Path:
    """``source_layer`` when no runtime is named, else the layer built for ``runtime``."""
    if runtime is None:
        return source_layer(root, extension=extension)
    return layer_variant(root, runtime, extension=extension)
