"""Fixtures for the sandbox's tests: a factory that always shuts its sandboxes down."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lambda_sandbox import FunctionSpec, Sandbox
from tests.support.sandboxes import FUNCTIONS, LAYERS, MakeSandbox


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
