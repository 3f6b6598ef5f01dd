"""Unit tests of the process start instant."""

from __future__ import annotations

import time

import pytest

from extension_entry._clock import process_start


def test_launch_time_from_the_launcher() -> None:
    started, source = process_start(f"{time.time() - 1.5:.6f}")
    assert source == "launcher"
    assert 1.4 < time.monotonic() - started < 2.5


def test_launch_time_with_a_decimal_comma() -> None:
    started, source = process_start(f"{time.time() - 1.0:.6f}".replace(".", ","))
    assert source == "launcher"
    assert 0.9 < time.monotonic() - started < 2.0


@pytest.mark.parametrize("launch", [None, "", "soon", "in 60 s", "1.0"])
def test_unusable_launch_time_is_not_used(launch: str | None) -> None:
    if launch == "in 60 s":  # computed now: at collection it would be stale after a long run
        launch = f"{time.time() + 60:.6f}"
    started, source = process_start(launch)
    # This process (pytest) may have started more than 30 s ago: then "import" is the answer.
    assert source in ("/proc", "import")
    assert 0.0 <= time.monotonic() - started <= 30.0
