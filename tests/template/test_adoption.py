"""The README's recipe "Use it in your own function", run as a user would, outside this repository:
a throwaway project with its own template, logical ids, handler and dependency; the layer from
``make dist`` (a zip, the same unzipped, and by ARN); ``sam build`` with the runtime's Python on
PATH; ``lambda-sandbox`` installed from its wheel into a venv of its own. On every runtime."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.commands import run_ok
from tests.support.dist import DIST_TEST_TIMEOUT, Dist, unzip_layer
from tests.support.layers import RUNTIMES
from tests.support.ports import own_network_namespace
from tests.support.sam import cfn_lint, sam_env

pytestmark = [pytest.mark.e2e, DIST_TEST_TIMEOUT]

OWN_FUNCTION = Path(__file__).parent / "own_function"
FUNCTIONS = ["OrdersFromZip", "OrdersFromDirectory", "OrdersFromArn"]
DEPENDENCY = "26.0"  # src/requirements.txt's packaging: not the version anything of ours uses


@pytest.fixture(scope="module")
def lambda_sandbox_cli(dist: Dist, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip install`` of make dist's lambda-sandbox wheel into a new venv, outside the repo."""
    venv = tmp_path_factory.mktemp("user-tools") / "venv"
    run_ok([sys.executable, "-m", "venv", venv], "python -m venv", 120)
    (wheel,) = dist.root.glob("lambda_sandbox-*.whl")
    run_ok([venv / "bin" / "python", "-m", "pip", "install", "-q", wheel], "pip install", 300)
    return venv / "bin" / "lambda-sandbox"


def _project(root: Path, dist: Dist, runtime: str) -> Path:
    """The throwaway project: the template with this runtime, the layer vendored twice."""
    shutil.copytree(OWN_FUNCTION, root)
    layer_zip = dist.layer_zip(runtime)
    template = (root / "template.yaml").read_text()
    for key, value in {
        "@RUNTIME@": runtime,
        "@RUNTIME_ID@": runtime.replace(".", "-"),
        "@LAYER_ZIP@": layer_zip.name,
    }.items():
        template = template.replace(key, value)
    (root / "template.yaml").write_text(template)
    (root / "vendor").mkdir()
    shutil.copy2(layer_zip, root / "vendor")
    unzip_layer(layer_zip, root / "vendor" / "lambda-warmup")
    return root


def _sam_build(project: Path, sam_bin: Path, runtime: str) -> None:
    """``sam build`` as the README says: the runtime's ``pythonX.Y`` first on PATH."""
    env = sam_env(runtime.removeprefix("python"))
    run_ok([sam_bin / "sam", "build"], f"sam build ({runtime})", 300, cwd=project, env=env)


def _invoke(
    cli: Path, project: Path, function: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    # The function uses the default report port, 9779: a network namespace of its own keeps
    # anything else on this machine off it.
    with own_network_namespace():
        return subprocess.run(
            [cli, "local", "invoke", function, *extra],
            cwd=project,
            input="{}",
            capture_output=True,
            text=True,
            timeout=120,
        )


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_own_function_uses_the_layer_from_zip_directory_and_arn(
    runtime: str,
    dist: Dist,
    sam_bin: Path,
    lambda_sandbox_cli: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    project = _project(tmp_path_factory.mktemp("own") / "orders-service", dist, runtime)
    cfn_lint(sam_bin, project / "template.yaml")
    _sam_build(project, sam_bin, runtime)
    built = (project / ".aws-sam" / "build" / "OrdersFromZip" / "packaging").is_dir()
    assert built, "sam build did not install the function's own requirements"
    arn = f"arn:aws:lambda:us-east-1:123456789012:layer:lambda-warmup-{runtime.replace('.', '-')}"
    layer_option = ["--layer", f"{arn}={project / 'vendor' / dist.layer_name(runtime)}"]
    for function in FUNCTIONS:
        extra = layer_option if function == "OrdersFromArn" else []
        proc = _invoke(lambda_sandbox_cli, project, function, "-e", "-", *extra)
        assert proc.returncode == 0, f"{function} on {runtime}:\n{proc.stderr[-4000:]}"
        out = json.loads(proc.stdout.splitlines()[-1])
        assert out["python"].startswith(runtime.removeprefix("python") + "."), out
        # INIT was held until the init was done: the first invocation did not wait for it.
        assert out["done_on_entry"] is True, (function, out, proc.stderr[-3000:])
        assert out["finished_at"] <= out["entered_at"]
        assert out["loop"] == "lambda-warmup-loop", out
        assert out["packaging"] == DEPENDENCY, "the function's own dependency"
        assert "report ok from pid" in proc.stderr, proc.stderr[-3000:]


def test_an_arn_without_local_content_is_one_clear_error(
    dist: Dist,
    sam_bin: Path,
    lambda_sandbox_cli: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    project = _project(tmp_path_factory.mktemp("own") / "orders-service", dist, "python3.13")
    proc = _invoke(lambda_sandbox_cli, project, "OrdersFromArn", "-t", "template.yaml")
    assert proc.returncode == 2, proc.stderr
    error = proc.stderr.strip().splitlines()[-1]
    for part in ["OrdersFromArn", "no local content", "--layer"]:
        assert part in error, error
