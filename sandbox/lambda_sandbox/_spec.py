"""What the caller gives and gets back: the function's spec, INIT's and INVOKE's results."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "INIT_TYPES",
    "LMI",
    "FunctionSpec",
    "InitResult",
    "InitType",
    "InvokeResult",
    "SandboxError",
]

InitType = Literal["on-demand", "provisioned-concurrency", "snap-start", "lambda-managed-instances"]
INIT_TYPES: tuple[InitType, ...] = (
    "on-demand",
    "provisioned-concurrency",
    "snap-start",
    "lambda-managed-instances",
)
LMI: InitType = "lambda-managed-instances"


class SandboxError(RuntimeError):
    """The sandbox itself failed (not the function): bad layout, closed sandbox, setup errors."""


@dataclass(frozen=True)
class FunctionSpec:
    """What a SAM template says about one function, with paths on this machine."""

    code_dir: Path
    handler: str
    layers: Sequence[Path] = ()
    """Layer contents directories (each like ``/opt``), merged in order; later ones win."""
    environment: Mapping[str, str] = field(default_factory=dict)
    name: str = "function"
    timeout_s: float = 3.0
    memory_mb: int = 128
    runtime: str = "python3.13"
    region: str = "us-east-1"
    version: str = "$LATEST"

    @property
    def python_version(self) -> str:
        if not self.runtime.startswith("python"):
            raise SandboxError(f"runtime {self.runtime!r} is not supported (python3.X only)")
        return self.runtime.removeprefix("python")


@dataclass
class InitResult:
    phase: Literal["init", "invoke"]
    """``invoke`` for an INIT redone inside an invocation (suppressed init, or after a reset)."""
    status: Literal["success", "error", "timeout"]
    error_type: str | None
    duration_ms: float
    extensions_registered_ms: dict[str, float]
    """Per extension name: when it registered, ms after INIT start."""
    runtime_started_ms: float | None
    runtime_next_ms: float | None
    """When the runtime first called ``next`` (or ``restore/next`` for SnapStart)."""
    extensions_next_ms: dict[str, float]
    """Per extension name: when it first called ``event/next``, ms after INIT start."""
    error: dict[str, Any] | None = None
    waiting_for: list[str] = field(default_factory=list)
    """What INIT was still waiting for when it ended without success (e.g. ``holder: next``)."""


@dataclass
class InvokeResult:
    request_id: str
    status: Literal["success", "error", "timeout", "crash"]
    """``error``: the function reported an error; ``timeout``/``crash``: the sandbox was reset."""
    payload: bytes
    """The response body, or the error document for every other status."""
    error_type: str | None
    duration_ms: float
    billed_duration_ms: int
    max_memory_used_mb: int
    init_duration_ms: float | None
    """First invocation after a successful INIT: its duration (REPORT's ``Init Duration``)."""
    restore_duration_ms: float | None
    suppressed_init: InitResult | None
    """The INIT this invocation had to do itself (after an INIT failure or a reset), if any."""
    response_ms: float | None
    """When the response (or error) arrived, ms after the event was handed to the runtime."""
    runtime_done_ms: float | None
    """When the runtime called ``next`` again, ms after the event was handed to it."""
    extensions_done_ms: dict[str, float]
    """Per INVOKE-subscribed extension: when it called ``next`` again (its post-processing)."""
    logs: list[str]
    """Lines the runtime and extensions wrote during this invocation."""
    waiting_for: list[str] = field(default_factory=list)
    """On a timeout: what the invocation was still waiting for (``runtime: response``, ...)."""

    def json(self) -> Any:
        return json.loads(self.payload)
