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

    def __init__(self, log: Callable[..., None]) -> None:
        self._log = log
        #: JSON lines: each report gets a ``report_received`` line of its own, also the one
        #: whose release line (text) already names it.
        self._each_report = bool(getattr(log, "json", False))
        self._cond = threading.Condition()
        self._state = "pending"  # pending -> holding -> released
        self._ok_pids: dict[int, Report] = {}
        self._workers = 1
        self._failed: Report | None = None
        self._started_at = 0.0
        self._released_at = 0.0
        self._released_why = ""
        self._held = False
        #: Once released: how long the hold lasted, and why it ended (``report``, ``timeout``,
        #: ``budget``; ``no_hold`` without a hold).
        self.held_ms = 0.0
        self.cause = "no_hold"

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
                    f"({len(self._ok_pids)} of {self._workers} workers)",
                    **_received(report),
                )
                return
            else:
                self._ok_pids[report.pid] = report
            if not self._settled():
                self._log_progress(report)
                return
            # The report that settles the hold: the release line names it (text); JSON lines
            # give it a report_received line of its own too.
            if self._each_report:
                self._log(
                    f"report {report.status} from pid {report.pid}: {report.describe()}",
                    **_received(report),
                )
            if self._state == "holding":
                self._release(received, self._settled_why(), "report")

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

    def wait(
        self, started_at: float, deadline: float, timeout_why: str, cause: str = "timeout"
    ) -> str:
        """Hold from ``started_at`` until settled by reports or until ``deadline`` (both
        ``time.monotonic()`` values; ``cause``: ``timeout`` or ``budget``, which one the deadline
        is); the release line."""
        with self._cond:
            self._state = "holding"
            self._held = True
            self._started_at = started_at
            if self._settled():
                self._release(time.monotonic(), self._settled_why(), "report")
            while self._state != "released":
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._release(time.monotonic(), f"{timeout_why}{self._progress()}", cause)
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

    def _release(self, now: float, why: str, cause: str) -> None:
        self._state = "released"
        self._released_at = now
        self.held_ms = (now - self._started_at) * 1000
        self.cause = cause
        self._released_why = f"released after {self.held_ms:.0f} ms: {why}"
        level = "INFO" if cause == "report" else "WARN"
        self._log(self._released_why, level, event="hold_ended", held_ms=self.held_ms, why=cause)
        self._cond.notify_all()

    def _progress(self) -> str:
        if not self._ok_pids:
            return ""
        return f" ({len(self._ok_pids)} of {self._workers} workers reported ok)"

    def _log_progress(self, report: Report) -> None:
        self._log(
            f"report ok from pid {report.pid}: {len(self._ok_pids)} of {self._workers} workers "
            f"({report.describe()})",
            **_received(report),
        )

    def _log_late(self, report: Report, received: float) -> None:
        if not self._held:
            self._log(
                f"report {report.status} from pid {report.pid} (no hold: {self._released_why}): "
                f"{report.describe()}",
                **_received(report),
            )
            return
        late_ms = (received - self._released_at) * 1000
        self._log(
            f"late report {report.status} from pid {report.pid}, {late_ms:.0f} ms after the "
            f"release ({self._released_why}): {report.describe()}",
            **_received(report, late_ms=late_ms),
        )


def _received(report: Report, **more: object) -> dict[str, object]:
    """The fields of a line about a report received (JSON lines: ``event: report_received``)."""
    return {
        "event": "report_received",
        "status": report.status,
        "pid": report.pid,
        "workers": report.workers,
        **more,
    }
