"""The hold: reports in (from the listener's threads), a release decision out (to the main
thread, which waits for the first of: every worker reported ok, any worker reported failed, the
deadline from :mod:`._budget`).

Loaded after ``register`` (``threading`` costs ~2 ms).
"""

from __future__ import annotations

import threading
import time

TYPE_CHECKING = False  # typing and collections.abc cost ms to import; mypy reads True
if TYPE_CHECKING:
    from collections.abc import Callable

    from ._report import Report


class Hold:
    """Reports in (from any thread), a release decision out (to the main thread).

    Reports may arrive before the hold starts (a function can report the instant the runtime
    starts, which can be before ``register`` has even returned to us; the kernel queues the
    connection until the listener's thread takes it): they are kept and counted when it starts.
    Reports after the release are "late" and only logged. A rejected request never reaches this
    class, so it changes nothing.
    """

    def __init__(self, log: Callable[[str], None]) -> None:
        self._log = log
        self._cond = threading.Condition()
        self._state = "pending"  # pending -> holding -> released
        self._ok_pids: dict[int, Report] = {}
        self._workers = 1
        self._failed: Report | None = None
        self._started_at = 0.0
        self._released_at = 0.0
        self._released_why = ""
        self._held = False

    def offer(self, report: Report) -> None:
        """Count one accepted report; releases the hold when that settles it."""
        with self._cond:
            received = time.monotonic()
            if self._state == "released":
                self._log_late(report, received)
                return
            self._workers = max(self._workers, report.workers)
            if report.status == "failed":
                self._failed = self._failed or report
            elif report.pid in self._ok_pids:
                self._log(
                    f"report ok from pid {report.pid} again: counted once "
                    f"({len(self._ok_pids)} of {self._workers} workers)"
                )
                return
            else:
                self._ok_pids[report.pid] = report
            if self._state == "holding":
                if self._settled():
                    self._release(received, self._settled_why())
                else:
                    self._log_progress(report)
            elif not self._settled():
                self._log_progress(report)

    def release_now(self, why: str) -> None:
        """No hold at all (``why``): reports, kept ones now and later ones as they come, are
        only logged."""
        with self._cond:
            self._state = "released"
            self._released_at = time.monotonic()
            self._released_why = why
            kept = [*self._ok_pids.values(), *([self._failed] if self._failed else [])]
            for report in kept:
                self._log_late(report, self._released_at)

    def wait(self, started_at: float, deadline: float, timeout_why: str) -> str:
        """Hold from ``started_at`` until settled by reports or until ``deadline`` (both
        ``time.monotonic()`` values); the release line."""
        with self._cond:
            self._state = "holding"
            self._held = True
            self._started_at = started_at
            if self._settled():
                self._release(time.monotonic(), self._settled_why())
            while self._state != "released":
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._release(time.monotonic(), f"{timeout_why}{self._progress()}")
                    break
                self._cond.wait(remaining)
            return self._released_why

    def _settled(self) -> bool:
        return self._failed is not None or len(self._ok_pids) >= self._workers

    def _settled_why(self) -> str:
        if self._failed is not None:
            report = self._failed
            return f"report failed from pid {report.pid}: {report.describe()}"
        last = list(self._ok_pids.values())
        if len(last) == 1:
            return f"report ok from pid {last[0].pid} ({last[0].describe()})"
        pids = ", ".join(str(pid) for pid in self._ok_pids)
        return f"reports ok from all {len(last)} workers (pids {pids}; last: {last[-1].describe()})"

    def _release(self, now: float, why: str) -> None:
        self._state = "released"
        self._released_at = now
        self._released_why = f"released after {(now - self._started_at) * 1000:.0f} ms: {why}"
        self._log(self._released_why)
        self._cond.notify_all()

    def _progress(self) -> str:
        if not self._ok_pids:
            return ""
        return f" ({len(self._ok_pids)} of {self._workers} workers reported ok)"

    def _log_progress(self, report: Report) -> None:
        self._log(
            f"report ok from pid {report.pid}: {len(self._ok_pids)} of {self._workers} workers "
            f"({report.describe()})"
        )

    def _log_late(self, report: Report, received: float) -> None:
        if not self._held:
            self._log(
                f"report {report.status} from pid {report.pid} (no hold: {self._released_why}): "
                f"{report.describe()}"
            )
            return
        late_ms = (received - self._released_at) * 1000
        self._log(
            f"late report {report.status} from pid {report.pid}, {late_ms:.0f} ms after the "
            f"release ({self._released_why}): {report.describe()}"
        )
