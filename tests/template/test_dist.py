"""`make dist`'s release artifacts as a user gets them, and layers.yaml, which deploys the layers.

What is inside each layer (layout, .pyc per runtime, pure Python) is test_layer.py's, run on
every zip as Lambda extracts it; here: the files, their checksums, the zips themselves (entries,
modes, times, reproducible), the wheels and sdists, and the template.
"""

from __future__ import annotations

import re
import stat
import subprocess
import tarfile
import time
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest

from lambda_sandbox import load_template
from tests.support.dist import (
    DIST_TEST_TIMEOUT,
    Dist,
    layer_zip_name,
    project_version,
    run_make_dist,
)
from tests.support.layers import RUNTIMES
from tests.support.paths import REPO
from tests.support.sam import cfn_lint, sam_validate

pytestmark = DIST_TEST_TIMEOUT
LAYERS_TEMPLATE = REPO / "layers.yaml"
SANDBOX_VERSION = project_version(REPO / "sandbox" / "pyproject.toml")
MAX_ZIP_BYTES = 3 * 1024 * 1024  # ~1.6 MB today: a guard against growth (Lambda allows 50 MB)
LAUNCHER = "extensions/lambda-warmup"


def _layer_entries(dist: Dist, runtime: str) -> list[zipfile.ZipInfo]:
    with zipfile.ZipFile(dist.layer_zip(runtime)) as zf:
        return zf.infolist()


def test_files(dist: Dist) -> None:
    v, sv = dist.version, SANDBOX_VERSION
    assert sorted(p.name for p in dist.root.iterdir()) == sorted(
        [
            f"lambda_warmup-{v}-py3-none-any.whl",
            f"lambda_warmup-{v}.tar.gz",
            f"lambda_sandbox-{sv}-py3-none-any.whl",
            f"lambda_sandbox-{sv}.tar.gz",
            *(dist.layer_name(r) for r in dist.runtimes),
            "SHA256SUMS",
        ]
    )


def test_sha256sums_verify_every_file(dist: Dist) -> None:
    proc = subprocess.run(
        ["sha256sum", "--check", "--strict", "SHA256SUMS"],
        cwd=dist.root,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    listed = sorted(
        line.split("  ", 1)[1] for line in (dist.root / "SHA256SUMS").read_text().splitlines()
    )
    assert listed == sorted(p.name for p in dist.root.iterdir() if p.name != "SHA256SUMS")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_layer_zip_entries(dist: Dist, runtime: str) -> None:
    """Sorted, every directory an entry of its own before its contents, one fixed time."""
    entries = _layer_entries(dist, runtime)
    names = [e.filename for e in entries]
    assert names == sorted(names, key=lambda n: n.rstrip("/").split("/"))
    assert sorted({n.split("/", 1)[0] for n in names}) == [
        "extension_entry",
        "extensions",
        "python",
    ]
    assert {"extension_entry/", "extensions/", "python/", "python/lambda_warmup/"} <= set(names)
    seen: set[str] = set()
    for name in names:
        parent = name.rstrip("/").rpartition("/")[0]
        assert not parent or f"{parent}/" in seen, f"{name} comes before its directory"
        seen.add(name)
    assert len(seen) == len(names), "duplicate entries"
    year, month, day, hour, minute, second = time.gmtime(dist.epoch)[:6]
    # The commit's time; zip stores seconds in 2 s steps.
    assert {e.date_time for e in entries} == {(year, month, day, hour, minute, second // 2 * 2)}
    assert not any(e.extra for e in entries)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_layer_zip_modes(dist: Dist, runtime: str) -> None:
    """Lambda applies the zip's Unix modes: the launcher must be executable, the rest need not."""
    for entry in _layer_entries(dist, runtime):
        assert entry.create_system == 3, entry.filename  # Unix, so the modes count
        mode = entry.external_attr >> 16
        if entry.is_dir():
            assert mode == stat.S_IFDIR | 0o755, (entry.filename, oct(mode))
        elif entry.filename == LAUNCHER:
            assert mode == stat.S_IFREG | 0o755, oct(mode)
        else:
            assert mode == stat.S_IFREG | 0o644, (entry.filename, oct(mode))
    with zipfile.ZipFile(dist.layer_zip(runtime)) as zf:
        launcher = zf.read(LAUNCHER)
    assert launcher.startswith(b"#!/bin/sh\n")
    assert b"\r" not in launcher


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_layer_zip_size(dist: Dist, runtime: str) -> None:
    size = dist.layer_zip(runtime).stat().st_size
    assert size < MAX_ZIP_BYTES, f"{runtime} layer zip is {size / 1e6:.1f} MB"


def test_a_second_run_gives_the_same_bytes(dist: Dist, tmp_path: Path) -> None:
    """Another DIST_DIR, another scratch dir, other files' times: the same layer zip and wheel."""
    runtime = dist.runtimes[0]
    again = tmp_path / "again"
    # The first run's time, given: a commit made in between must not count as a difference.
    run_make_dist(again, [runtime], epoch=dist.epoch)
    for name in [dist.layer_name(runtime), f"lambda_warmup-{dist.version}-py3-none-any.whl"]:
        assert (again / name).read_bytes() == (dist.root / name).read_bytes(), name


def test_wheel_is_the_library_only(dist: Dist) -> None:
    wheel = dist.root / f"lambda_warmup-{dist.version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        metadata = zf.read(f"lambda_warmup-{dist.version}.dist-info/METADATA").decode()
    sources = sorted(
        p.relative_to(REPO).as_posix()
        for p in (REPO / "lambda_warmup").rglob("*.py")
        if "__pycache__" not in p.parts
    )
    assert sorted(n for n in names if n.endswith(".py")) == sources  # with lambda_warmup/asgi/
    assert "lambda_warmup/py.typed" in names
    assert {n.split("/")[0] for n in names} == {
        "lambda_warmup",
        f"lambda_warmup-{dist.version}.dist-info",
    }
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert "Requires-Python: >=3.12" in metadata
    assert re.search(r"^Requires-Dist: anyio", metadata, re.M)
    assert re.search(r"^Requires-Dist: httpx", metadata, re.M)


def _sdist_names(dist: Dist, name: str, version: str) -> list[str]:
    with tarfile.open(dist.root / f"{name}-{version}.tar.gz") as tf:
        members = tf.getnames()
    prefix = f"{name}-{version}/"
    assert all(m.startswith(prefix) for m in members), members
    return [m.removeprefix(prefix) for m in members]


JUNK = re.compile(
    r"(^|/)(\.venv[^/]*|__pycache__|\.mypy_cache|\.ruff_cache|\.aws-sam|dist|build|\.git)/|\.pyc$"
)


def test_sdist_builds_the_library_and_holds_no_junk(dist: Dist) -> None:
    names = _sdist_names(dist, "lambda_warmup", dist.version)
    for needed in ["pyproject.toml", "PKG-INFO", "README.md", "lambda_warmup/py.typed"]:
        assert needed in names
    assert {f"lambda_warmup/{p.name}" for p in (REPO / "lambda_warmup").glob("*.py")} <= set(names)
    assert not [n for n in names if JUNK.search(n)]


def test_sdist_holds_the_library_only(dist: Dist) -> None:
    names = _sdist_names(dist, "lambda_warmup", dist.version)
    assert {n.split("/")[0] for n in names} <= {
        "lambda_warmup",
        "pyproject.toml",
        "PKG-INFO",
        "README.md",
        ".gitignore",
    }


def test_sandbox_distribution(dist: Dist) -> None:
    wheel = dist.root / f"lambda_sandbox-{SANDBOX_VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        entry_points = zf.read(f"lambda_sandbox-{SANDBOX_VERSION}.dist-info/entry_points.txt")
    assert {n.split("/")[0] for n in names} == {
        "lambda_sandbox",
        f"lambda_sandbox-{SANDBOX_VERSION}.dist-info",
    }
    assert "lambda_sandbox/runtime-requirements.txt" in names  # read at run time
    assert b"lambda-sandbox = lambda_sandbox._cli:main" in entry_points
    sdist = _sdist_names(dist, "lambda_sandbox", SANDBOX_VERSION)
    assert "lambda_sandbox/__init__.py" in sdist
    assert not [n for n in sdist if JUNK.search(n)]


# -- layers.yaml ------------------------------------------------------------------------------
def _layers_template() -> dict[str, Any]:
    return load_template(LAYERS_TEMPLATE).document


def test_layers_template_sam_validate_lint(sam_bin: Path) -> None:
    sam_validate(sam_bin, LAYERS_TEMPLATE)


def test_layers_template_cfn_lint(sam_bin: Path) -> None:
    cfn_lint(sam_bin, LAYERS_TEMPLATE)


def test_layers_template_deploys_one_layer_per_runtime_from_the_dist_zips() -> None:
    doc = _layers_template()
    version = project_version()
    license_ = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["license"]
    layers = doc["Resources"]
    assert {r["Type"] for r in layers.values()} == {"AWS::Serverless::LayerVersion"}
    by_runtime = {
        tuple(r["Properties"]["CompatibleRuntimes"]): r["Properties"] for r in layers.values()
    }
    assert sorted(by_runtime) == [(r,) for r in RUNTIMES]
    for (runtime,), props in by_runtime.items():
        # The file `make dist` writes, at its default DIST_DIR, beside the template.
        assert props["ContentUri"] == f"dist/{layer_zip_name(version, runtime)}"
        assert props["CompatibleArchitectures"] == ["x86_64", "arm64"]
        assert props["LicenseInfo"] == license_
        assert props["RetentionPolicy"] == "Retain"
        assert f"{version} for {runtime}" in props["Description"]
        tag = runtime.removeprefix("python").replace(".", "")
        assert props["LayerName"] == {"Fn::Sub": f"${{LayerNamePrefix}}-python{tag}"}
    assert doc["Parameters"]["LayerNamePrefix"]["Default"] == "lambda-warmup"


def test_layers_template_outputs_every_layer_arn_exported() -> None:
    doc = _layers_template()
    outputs = doc["Outputs"]
    assert sorted(outputs) == sorted(f"{logical_id}Arn" for logical_id in doc["Resources"])
    for logical_id in doc["Resources"]:
        output = outputs[f"{logical_id}Arn"]
        assert output["Value"] == {"Ref": logical_id}  # a LayerVersion's Ref is its version ARN
        assert output["Export"]["Name"] == {"Fn::Sub": f"${{AWS::StackName}}-{logical_id}Arn"}


def test_make_dist_builds_every_runtime_by_default() -> None:
    """A release has a layer for every runtime the tests run on."""
    makefile = (REPO / "Makefile").read_text()
    assert f"DIST_RUNTIMES ?= {' '.join(RUNTIMES)}\n" in makefile
