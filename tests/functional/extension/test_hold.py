"""Unit tests of the hold's decisions (in-process: reports offered directly, short deadlines)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from extension_entry._hold import Hold
from extension_entry._report import Report, parse_report
from tests.support.extension import LogLines, make_report


def report(**fields: Any) -> Report:
    return parse_report(json.dumps(make_report(**fields)).encode())


def new_hold() -> tuple[Hold, LogLines]:
    lines = LogLines()
    return Hold(lines), lines


def test_report_before_the_hold_starts_releases_it_at_once() -> None:
    hold, lines = new_hold()
    hold.offer(report(pid=7))
    now = time.monotonic()
    why = hold.wait(now, now + 5.0, "timeout")
    assert time.monotonic() - now < 1.0
    assert why.startswith("released after 0 ms: report ok from pid 7 (")
    assert lines == [why]


def test_failed_report_before_the_hold_starts_releases_it_at_once() -> None:
    hold, _ = new_hold()
    hold.offer(report(pid=7, workers=3))
    hold.offer(report(pid=8, status="failed", workers=3))
    now = time.monotonic()
    assert "report failed from pid 8" in hold.wait(now, now + 5.0, "timeout")


def test_release_from_another_thread_wakes_the_waiter() -> None:
    hold, _ = new_hold()
    timer = threading.Timer(0.05, hold.offer, args=(report(),))
    timer.start()
    now = time.monotonic()
    why = hold.wait(now, now + 5.0, "timeout")
    timer.join()
    assert "report ok from pid 4242" in why
    assert time.monotonic() - now < 1.0


def test_deadline_releases_with_the_reason_and_progress() -> None:
    hold, _ = new_hold()
    hold.offer(report(pid=1, workers=2))
    now = time.monotonic()
    why = hold.wait(now, now + 0.05, "no report within WARMING_TIMEOUT=50ms")
    assert why.endswith("no report within WARMING_TIMEOUT=50ms (1 of 2 workers reported ok)")


def test_workers_is_the_largest_announced() -> None:
    hold, lines = new_hold()
    hold.offer(report(pid=1, workers=1))  # pending: settled for now, nothing logged yet
    hold.offer(report(pid=2, workers=3))
    assert lines == ["report ok from pid 2: 2 of 3 workers (settings 12 ms, db_pool 800 ms)"]
    hold.offer(report(pid=3, workers=1))
    now = time.monotonic()
    assert "reports ok from all 3 workers (pids 1, 2, 3;" in hold.wait(now, now + 5, "t")


def test_late_and_no_hold_reports_are_only_logged() -> None:
    hold, lines = new_hold()
    now = time.monotonic()
    hold.wait(now, now, "no report within WARMING_TIMEOUT=1ms")
    hold.offer(report(status="failed"))
    assert lines[-1].startswith("late report failed from pid 4242, ")
    assert "ms after the release (released after" in lines[-1]

    hold, lines = new_hold()
    hold.offer(report(pid=5))  # before register
    hold.release_now("WARMING_TIMEOUT is unset")
    hold.offer(report(pid=6))
    assert lines == [
        "report ok from pid 5 (no hold: WARMING_TIMEOUT is unset): settings 12 ms, db_pool 800 ms",
        "report ok from pid 6 (no hold: WARMING_TIMEOUT is unset): settings 12 ms, db_pool 800 ms",
    ]
