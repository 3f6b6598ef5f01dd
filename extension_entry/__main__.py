"""The extension's lifecycle, one function per step::

    settings -> listen for reports (127.0.0.1, before register) -> register for SHUTDOWN
      -> serve reports -> hold (until every worker reported ok, any reported failed, or the
      timeout/budget) -> event/next loop -> exit 0 on SHUTDOWN

Before ``register`` the report socket is only bound and listening: the kernel queues a report
that comes early, and ``threading`` and ``json`` (~5 ms together) load after ``register``,
where they no longer delay the runtime's start.

Exit codes: 0 after SHUTDOWN; 1 when the Extensions API cannot be used (unset, register refused
or unreachable, ``event/next`` failing repeatedly) or after an internal error, which is first
reported with ``init/error`` (during Init) or ``exit/error`` (after it) where the API allows.
Every failure is one log line, never a traceback.
"""

from __future__ import annotations

import posix
import sys
import time

from . import _net
from ._api import ApiError, ApiRefused, ApiUnreachable, ExtensionsApi
from ._budget import HoldPlan, plan_hold
from ._clock import ms_since, process_start
from ._log import Log
from ._settings import (
    AWS_LAMBDA_RUNTIME_API,
    WARMING_TIMEOUT,
    Settings,
    log_format_json,
    log_level,
    read_settings,
)

TYPE_CHECKING = False  # typing and collections.abc cost ms to import; mypy reads True
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from ._hold import Hold
    from ._listener import ReportListener
    from ._log import LogFn

DEFAULT_NAME = "lambda-warmup"
EVENTS = ["SHUTDOWN"]
#: ``register`` is retried on a refused or reset connection (a sandbox still starting), with
#: delays 50, 100, 200, 400 ms: at most ~0.75 s before giving up.
REGISTER_ATTEMPTS = 5
REGISTER_BACKOFF_S = 0.05
#: ``event/next`` failing this many times in a row (unreachable or not an event) ends the
#: process, with delays 0.1, 0.2, 0.4, 0.8 s in between: a dead API never makes us spin.
NEXT_ATTEMPTS = 5
NEXT_BACKOFF_S = 0.1
#: Report connections the kernel queues before the listener's thread takes them.
BACKLOG = 64


def run(argv: list[str]) -> int:
    """:func:`main`, with a last guard: even a bug before ``register`` is one line, no traceback."""
    name = argv[1] if len(argv) > 1 and argv[1] else DEFAULT_NAME
    environ = _environ()
    log = Log(name, json=log_format_json(environ), level=log_level(environ))
    try:
        return main(name, argv[2] if len(argv) > 2 else None, environ, log)
    except Exception as error:
        log(f"internal error: {type(error).__name__}: {error}; exiting")
        return 1


def _environ() -> Mapping[str, str]:
    """``os.environ``, without importing ``os`` when nothing has: ``os`` and the
    ``_collections_abc`` it loads cost 1-3 ms before ``register``. The environment this process
    started with, decoded as ``os`` decodes it on Linux (UTF-8, ``surrogateescape``)."""
    loaded = sys.modules.get("os")
    if loaded is not None:
        environ: Mapping[str, str] = loaded.environ
        return environ
    return {
        key.decode("utf-8", "surrogateescape"): value.decode("utf-8", "surrogateescape")
        for key, value in posix.environ.items()
    }


def main(name: str, launch_time: str | None, environ: Mapping[str, str], log: LogFn) -> int:
    """The lifecycle; the exit code. ``launch_time``: the launcher's ``$EPOCHREALTIME``."""
    started, start_source = process_start(launch_time)
    settings = read_settings(environ, log)
    if settings.runtime_api is None:
        log(f"error: {AWS_LAMBDA_RUNTIME_API} is unset (not in Lambda or a sandbox); exiting")
        return 1
    try:
        api = ExtensionsApi(settings.runtime_api, name)
    except ValueError as error:
        log(f"error: {error}; exiting")
        return 1
    sock = listen(settings, started, log)
    listener: ReportListener | None = None
    try:
        identifier = register(api, started, start_source, log)
        if identifier is None:
            return 1
        try:
            hold, listener = serve_reports(sock, log)
            plan = plan_hold(settings, listening=sock is not None)
            hold_init(plan, hold, started, settings, log)
        except Exception as error:  # a bug of ours: tell Lambda, do not leave INIT hanging
            return fail(api.init_error, identifier, error, log)
        try:
            return serve_events(api, identifier, log)
        except Exception as error:
            return fail(api.exit_error, identifier, error, log)
    finally:
        if listener is not None:
            listener.close()
        elif sock is not None:
            sock.close()


def listen(settings: Settings, started: float, log: LogFn) -> _net.Socket | None:
    """Bind the report port; from now on the kernel queues reports. ``None`` if it is taken."""
    try:
        sock = _net.listen("127.0.0.1", settings.port, BACKLOG)
    except OSError as error:
        log(
            f"error: cannot listen for reports on 127.0.0.1:{settings.port} "
            f"({error.strerror or error}); no hold, set WARMUP_PORT to a free port"
        )
        return None
    since = ms_since(started)
    log(
        f"listening for reports on 127.0.0.1:{settings.port}, {since:.0f} ms after start",
        event="listening",
        port=settings.port,
    )
    return sock


def register(api: ExtensionsApi, started: float, start_source: str, log: LogFn) -> str | None:
    """Register for SHUTDOWN only; the identifier, or ``None`` after one error line."""
    delay = REGISTER_BACKOFF_S
    for attempt in range(1, REGISTER_ATTEMPTS + 1):
        try:
            identifier = api.register(EVENTS)
        except ApiRefused as error:
            log(f"error: register refused ({error}); exiting")
            return None
        except ApiUnreachable as error:
            if error.timed_out or attempt == REGISTER_ATTEMPTS:
                log(f"error: register failed after {attempt} attempt(s) ({error}); exiting")
                return None
            time.sleep(delay)
            delay *= 2
            continue
        retried = f" (attempt {attempt})" if attempt > 1 else ""
        since = ms_since(started)
        log(
            f"registered for {', '.join(EVENTS)}{retried}, {since:.0f} ms after "
            f"process start (start instant from {start_source})",
            event="registered",
            since_start_ms=since,
            attempts=attempt,
        )
        return identifier
    raise AssertionError("unreachable")  # pragma: no cover


def serve_reports(sock: _net.Socket | None, log: LogFn) -> tuple[Hold, ReportListener | None]:
    """Start answering reports, those the kernel queued since :func:`listen` first."""
    # Loaded only now, after register: threading, json and re (~5 ms).
    from ._hold import Hold
    from ._listener import ReportListener

    hold = Hold(log)
    if sock is None:
        return hold, None
    listener = ReportListener(sock, hold.offer, log)
    listener.start()
    return hold, listener


def hold_init(plan: HoldPlan, hold: Hold, started: float, settings: Settings, log: LogFn) -> None:
    """Keep INIT open (by not calling ``event/next``) as long as the plan allows."""
    if not plan.holds:
        log(f"no hold: {plan.reason}", event="no_hold")
        hold.release_now(plan.reason or "")
        return
    now = time.monotonic()
    by_timeout = now + plan.timeout_ms / 1000.0
    by_budget = started + plan.budget_ms / 1000.0
    setting = f"{WARMING_TIMEOUT}={settings.timeout_raw}"
    if by_timeout <= by_budget:
        deadline, cause = by_timeout, "timeout"
        log(
            f"hold started: up to {plan.timeout_ms:.0f} ms ({setting}; {plan.limit_text})",
            event="hold_started",
            limit_ms=plan.timeout_ms,
        )
        why = f"no report within {setting}"
    else:
        deadline, cause = by_budget, "budget"
        limit_ms = max(0.0, by_budget - now) * 1000
        log(
            f"hold started: up to {limit_ms:.0f} ms ({setting} cut to "
            f"the {plan.limit_text}; {ms_since(started):.0f} ms elapsed)",
            event="hold_started",
            limit_ms=limit_ms,
        )
        why = f"INIT budget reached, {plan.budget_ms:.0f} ms after process start, no report"
    hold.wait(now, deadline, why, cause)
    if settings.metrics:
        from ._emf import held_document

        # A document of its own, not a log line: Log.write; a test's plain recorder has none.
        write = getattr(log, "write", log)
        write(held_document(hold.held_ms, hold.cause, settings))


def serve_events(api: ExtensionsApi, identifier: str, log: LogFn) -> int:
    """Wait in ``event/next`` until SHUTDOWN (exit code 0); other events are ignored."""
    failures = 0
    while True:
        try:
            event = api.next_event(identifier)
        except ApiRefused as error:
            log(f"error: event/next refused ({error}); exiting")
            return 1
        except ApiUnreachable as error:
            failures += 1
            if failures >= NEXT_ATTEMPTS:
                log(f"error: event/next failed {failures} times in a row ({error}); exiting")
                try_exit_error(api, identifier, "Extension.EventNextFailed", str(error), log)
                return 1
            time.sleep(NEXT_BACKOFF_S * 2 ** (failures - 1))
            continue
        failures = 0
        kind = str(event["eventType"])
        if kind.upper() == "SHUTDOWN":
            reason = event.get("shutdownReason", "no reason")
            log(f"shutdown ({reason}){_time_left(event)}; exiting", event="shutdown")
            return 0
        log(f"ignored event {kind!r} (registered for {', '.join(EVENTS)} only)")


def _time_left(event: dict[str, object]) -> str:
    deadline_ms = event.get("deadlineMs")
    if not isinstance(deadline_ms, (int, float)) or isinstance(deadline_ms, bool):
        return ""
    return f", {deadline_ms - time.time() * 1000:.0f} ms before its deadline"


def fail(
    report_error: Callable[[str, str, str], None], identifier: str, error: Exception, log: LogFn
) -> int:
    """An internal error: one line, then ``init/error`` or ``exit/error``; exit code 1."""
    message = f"{type(error).__name__}: {error}"
    log(f"internal error: {message}; reporting it to Lambda and exiting")
    try:
        report_error(identifier, "Extension.InternalError", message)
    except ApiError as api_error:
        log(f"error: could not report the error ({api_error})")
    return 1


def try_exit_error(
    api: ExtensionsApi, identifier: str, error_type: str, message: str, log: LogFn
) -> None:
    """Best effort: the API is already known to be failing; the exit code says the rest."""
    try:
        api.exit_error(identifier, error_type, message)
    except ApiError as error:
        log(f"error: exit/error not delivered either ({error})")


if __name__ == "__main__":
    sys.exit(run(sys.argv))
