"""The instant this process started, on the ``time.monotonic()`` scale.

The on-demand INIT budget is measured from the extension's own process start, not from when
Python got round to running our code (interpreter start-up is 10-50 ms, more on a small
function's share of a CPU). The launcher is the same process (it ``exec``s Python), so its start
is ours. Sources, most precise first:

1. the launcher's ``$EPOCHREALTIME`` (bash 5, which is ``/bin/sh`` on Amazon Linux 2023), passed as
   an argument: microsecond resolution, wall clock;
2. ``/proc/self/stat`` field 22 (start time in clock ticks since boot) against
   ``CLOCK_BOOTTIME``: 10 ms resolution, and it errs early, i.e. on the safe side;
3. the moment this module is imported.

A source whose answer is not between 0 and :data:`MAX_PLAUSIBLE_AGE_S` seconds ago is skipped.
"""

from __future__ import annotations

import posix  # os, without os's own import (see __main__._environ)
import time

#: A start further back than this is not believed (a clock jump, or a recycled launch argument).
MAX_PLAUSIBLE_AGE_S = 30.0


def process_start(launch_epoch: str | None) -> tuple[float, str]:
    """``(monotonic time of the process start, name of the source used)``."""
    now_monotonic = time.monotonic()
    for source, age in (
        ("launcher", _age_from_epoch(launch_epoch)),
        ("/proc", _age_from_proc()),
    ):
        if age is not None and 0.0 <= age <= MAX_PLAUSIBLE_AGE_S:
            return now_monotonic - age, source
    return now_monotonic, "import"


def _age_from_epoch(launch_epoch: str | None) -> float | None:
    if not launch_epoch:
        return None
    try:
        # EPOCHREALTIME uses the locale's decimal point.
        return time.time() - float(launch_epoch.strip().replace(",", "."))
    except ValueError:
        return None


def _age_from_proc() -> float | None:
    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        # Fields after "(comm)" start at field 3, so field 22 (starttime) is index 19.
        started_ticks = int(fields[19])
        ticks_per_second = posix.sysconf("SC_CLK_TCK")
        return time.clock_gettime(time.CLOCK_BOOTTIME) - started_ticks / ticks_per_second
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def ms_since(start: float) -> float:
    """Milliseconds from ``start`` (a ``time.monotonic()`` value) to now."""
    return (time.monotonic() - start) * 1000.0
