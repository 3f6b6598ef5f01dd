"""Running a command a test needs to succeed: bounded, and a failure says what was run and why."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from typing import Any


def run_ok(
    args: Sequence[Any], what: str, timeout: float, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """``args`` run to the end within ``timeout`` s and exiting 0, else an AssertionError naming
    ``what`` (with the tail of its output)."""
    try:
        proc = subprocess.run(
            args, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
        )
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{what} took over {timeout} s") from None
    assert proc.returncode == 0, (
        f"{what} failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-4000:]}"
    )
    return proc
