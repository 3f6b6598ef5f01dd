"""Whether this machine can take SnapStart snapshots (CRIU), for tests that need them."""

from __future__ import annotations

import pytest

from lambda_sandbox import SnapshotUnavailableError, find_criu


def skip_without_snapshots() -> None:
    """Skip the test, with the reason, where the sandbox cannot take SnapStart snapshots."""
    try:
        find_criu()
    except SnapshotUnavailableError as exc:
        pytest.skip(f"SnapStart snapshots are not available here: {exc}")
