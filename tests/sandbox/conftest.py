"""Fixtures for the sandbox's tests: a factory that always shuts its sandboxes down."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lambda_sandbox import FunctionSpec, Sandbox, SnapshotUnavailableError, find_criu

HERE = Path(__file__).parent
FUNCTIONS = HERE / "functions"
LAYERS = HERE / "layers"

MakeSandbox = Callable[..., Sandbox]


def skip_without_snapshots() -> None:
    """Skip the test, with the reason, where the sandbox cannot take SnapStart snapshots."""
    try:
        find_criu()
    except SnapshotUnavailableError as exc:
        pytest.skip(f"SnapStart snapshots are not available here: {exc}")


@pytest.fixture
def make_sandbox() -> Iterator[MakeSandbox]:
    """``make_sandbox(handler, code="basic", layers=(), env={}, timeout_s=3, **sandbox_kwargs)``."""
    made: list[Sandbox] = []

    def make(
        handler: str,
        *,
        code: str = "basic",
        layers: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        timeout_s: float = 3.0,
        **kwargs: Any,
    ) -> Sandbox:
        kwargs.setdefault("shutdown_budget_s", 0.5)
        spec = FunctionSpec(
            code_dir=FUNCTIONS / code,
            handler=handler,
            layers=[LAYERS / name for name in layers],
            environment=env or {},
            name="sandbox-test",
            timeout_s=timeout_s,
        )
        sandbox = Sandbox(spec, **kwargs)
        made.append(sandbox)
        return sandbox

    yield make
    for sandbox in made:
        sandbox.shutdown()
