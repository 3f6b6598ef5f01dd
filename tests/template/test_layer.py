"""Every layer we ship: what runs in Lambda, byte-compiled for its runtime, nothing else.

Each test runs on the layer `sam build` makes (template.yaml's, python3.13) and on each of
`make dist`'s zips as Lambda extracts them (one per runtime; test_dist.py checks the zips).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.support.dist import DIST_TEST_TIMEOUT
from tests.support.layers import RUNTIMES
from tests.support.paths import REPO
from tests.support.sam import PYTHON_VERSION

DEPENDENCIES = {"anyio", "certifi", "h11", "httpcore", "httpx", "idna"}
MAX_BYTES = 8 * 1024 * 1024


LAYERS = [
    pytest.param(("sam build", f"python{PYTHON_VERSION}"), id=f"sam-build-python{PYTHON_VERSION}"),
    *(pytest.param(("dist", r), id=f"dist-{r}", marks=DIST_TEST_TIMEOUT) for r in RUNTIMES),
]


@pytest.fixture(scope="module", params=LAYERS)
def layer_case(request: pytest.FixtureRequest) -> tuple[Path, str]:
    """``(the layer's /opt, its runtime)``."""
    source, runtime = request.param
    if source == "sam build":
        return request.getfixturevalue("built") / "WarmupLayer", runtime
    return request.getfixturevalue("dist").unzipped(runtime), runtime


@pytest.fixture(scope="module")
def layer(layer_case: tuple[Path, str]) -> Path:
    return layer_case[0]


@pytest.fixture(scope="module")
def tag(layer_case: tuple[Path, str]) -> str:
    """The runtime's cache tag, as in ``__pycache__/_warmup.cpython-313.pyc``."""
    return f"cpython-{layer_case[1].removeprefix('python').replace('.', '')}"


def test_layout(layer: Path) -> None:
    assert sorted(p.name for p in layer.iterdir()) == ["extension_entry", "extensions", "python"]
    assert [p.name for p in (layer / "extensions").iterdir()] == ["lambda-warmup"]
    python = {p.name for p in (layer / "python").iterdir()}
    packages = {n for n in python if not n.endswith(".dist-info") and n != "__pycache__"}
    assert packages == {"lambda_warmup", "typing_extensions.py", *DEPENDENCIES}
    assert (layer / "extension_entry" / "__main__.py").is_file()


def test_launcher_is_executable_with_lf_endings(layer: Path) -> None:
    launcher = layer / "extensions" / "lambda-warmup"
    mode = launcher.stat().st_mode
    assert stat.S_ISREG(mode)
    assert mode & 0o111 == 0o111, oct(mode)
    data = launcher.read_bytes()
    assert data.startswith(b"#!/bin/sh\n")
    assert b"\r" not in data


def test_no_tests_sandbox_or_dev_files(layer: Path) -> None:
    names = {part for path in layer.rglob("*") for part in path.relative_to(layer).parts}
    for unwanted in ["tests", "test", "lambda_sandbox", "samples", "demo", "bin", "Makefile"]:
        assert unwanted not in names


def test_every_module_is_byte_compiled_for_the_runtime(layer: Path, tag: str) -> None:
    sources = [p for p in layer.rglob("*.py")]
    assert len(sources) > 50
    for source in sources:
        pyc = Path(importlib.util.cache_from_source(str(source)))
        pyc = pyc.with_name(pyc.name.replace(pyc.name.split(".")[-2], tag))
        assert pyc.is_file(), source
        # unchecked-hash .pyc (PEP 552: flags 0b01): valid whatever the files' mtimes after a
        # copy or zip; a timestamp .pyc could be found stale, and /opt is read-only on Lambda.
        assert int.from_bytes(pyc.read_bytes()[4:8], "little") == 0b01, pyc
    for pyc in layer.rglob("*.pyc"):
        assert pyc.name.endswith(f".{tag}.pyc"), pyc  # no other interpreter's caches
        assert pyc.parent.name == "__pycache__"


def test_pure_python_so_one_layer_serves_both_architectures(layer: Path) -> None:
    assert not [p for p in layer.rglob("*") if p.suffix in {".so", ".pyd"} or ".so." in p.name]
    assert all(
        "Root-Is-Purelib: true" in wheel.read_text()
        for wheel in (layer / "python").glob("*.dist-info/WHEEL")
    )


def test_optional_parts_ship_whole(layer: Path) -> None:
    """The layer has every module of the library's subpackages (``lambda_warmup.asgi``)."""
    shipped = layer / "python" / "lambda_warmup"
    ours = REPO / "lambda_warmup"
    assert sorted(p.relative_to(shipped) for p in shipped.rglob("*.py")) == sorted(
        p.relative_to(ours) for p in ours.rglob("*.py") if "__pycache__" not in p.parts
    )
    assert (shipped / "asgi" / "__init__.py").is_file()


def test_pyc_name_the_paths_lambda_runs_them_from(layer: Path, tag: str) -> None:
    data = (layer / "python" / "lambda_warmup" / "__pycache__" / f"_warmup.{tag}.pyc").read_bytes()
    assert b"/opt/python/lambda_warmup/_warmup.py" in data


def test_size(layer: Path) -> None:
    size = sum(p.stat().st_size for p in layer.rglob("*") if p.is_file())
    assert size < MAX_BYTES, f"layer is {size / 1e6:.1f} MB"


def test_no_layer_is_built_from_two_protocols(tmp_path: Path) -> None:
    """``lambda_warmup/_protocol.py`` must be ``extension_entry/_protocol.py``'s copy, byte for
    byte (tests/unit/test_protocol.py); the build refuses a tree where it is not."""
    uv = REPO / ".venv-uv" / "bin" / "uv"
    if not uv.exists():
        pytest.skip("no uv at .venv-uv/bin/uv (make installs it)")
    root = tmp_path / "repo"
    (root / "layer").mkdir(parents=True)
    shutil.copy2(REPO / "layer" / "Makefile", root / "layer" / "Makefile")
    for package in ["lambda_warmup", "extension_entry"]:
        shutil.copytree(
            REPO / package, root / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    copy = root / "lambda_warmup" / "_protocol.py"
    copy.write_text(
        copy.read_text().replace("DEFAULT_PORT: Final = 9779", "DEFAULT_PORT: Final = 9780")
    )
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MAKELEVEL", "MFLAGS"}}
    proc = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-f",
            str(root / "layer" / "Makefile"),
            "build-WarmupLayer",
            f"ARTIFACTS_DIR={out}",
            f"UV={uv}",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0
    assert "lambda_warmup/_protocol.py differs from extension_entry/_protocol.py" in proc.stderr
    assert not out.exists()
