"""What the sandbox's tests share: their functions and layers, the factory type, the modes sandbox.

``modes_sandbox`` runs ``tests/sandbox/functions/modes`` (an init with a teardown, an
after-restore hook, a shutdown hook) with the lambda-warmup layer, the extension's hold on.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lambda_sandbox import FunctionSpec, Sandbox, SnapshotUnavailableError, find_criu
from tests.support.layers import warmup_layer
from tests.support.paths import REPO
from tests.support.ports import free_port

FUNCTIONS = REPO / "tests" / "sandbox" / "functions"
LAYERS = REPO / "tests" / "sandbox" / "layers"

MakeSandbox = Callable[..., Sandbox]


def skip_without_snapshots() -> None:
    """Skip the test, with the reason, where the sandbox cannot take SnapStart snapshots."""
    try:
        find_criu()
    except SnapshotUnavailableError as exc:
        pytest.skip(f"SnapStart snapshots are not available here: {exc}")


def modes_sandbox(
    tmp_path: Path,
    lines: list[str],
    *,
    extension: bool = True,
    env: dict[str, str] | None = None,
    code: str = "modes",
    handler: str = "modes_app.handler",
    runtime: str | None = None,
    **kwargs: Any,
) -> Sandbox:
    layer = warmup_layer(tmp_path / "layer", extension=extension, runtime=runtime)
    environment = {
        "WARMUP_PORT": str(free_port()),
        "AWS_LAMBDA_LOG_LEVEL": "INFO",  # the library's INFO lines, as a user would set it
        **({"WARMING_TIMEOUT": "5s"} if extension else {}),
        **(env or {}),
    }
    spec = FunctionSpec(
        code_dir=FUNCTIONS / code,
        handler=handler,
        layers=[layer],
        environment=environment,
        name="modes-e2e",
        timeout_s=5.0,
        runtime=runtime or "python3.13",
    )
    kwargs.setdefault("shutdown_budget_s", 2.0)
    return Sandbox(spec, log=lines.append, **kwargs)
