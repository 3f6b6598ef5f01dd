"""Plain handlers for the sandbox's e2e tests (run by awslambdaric inside the sandbox)."""

import itertools
import os
import sys
import threading
import time
from typing import Any

INIT_AT = time.time()
_ticks: list[float] = []


def _tick() -> None:
    while True:
        _ticks.append(time.monotonic())
        time.sleep(0.005)


if os.environ.get("START_TICKER"):
    threading.Thread(target=_tick, name="ticker", daemon=True).start()


def echo(event: Any, context: Any) -> Any:
    now = time.time()
    print("echo", event)
    return {
        "now": now,
        "event": event,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "request_id": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "env": dict(os.environ),
        "sys_path": sys.path,
        "cwd": os.getcwd(),
        "init_at": INIT_AT,
    }


def raises(event: Any, context: Any) -> Any:
    raise ValueError("boom " + "x" * event.get("pad", 0))


def crash(event: Any, context: Any) -> Any:
    print("exiting", flush=True)
    os._exit(3)


def sleepy(event: Any, context: Any) -> Any:
    time.sleep(event["sleep"])
    return "slept"


def ticks(event: Any, context: Any) -> Any:
    """The largest gap between ticker samples, and how many there are."""
    # Wait (bounded) for the ticker to have started and to have ticked once since this call
    # began: right after a thaw the handler can run before the ticker thread has.
    deadline = time.monotonic() + 2.0
    seen = len(_ticks)
    while (len(_ticks) < 3 or len(_ticks) == seen) and time.monotonic() < deadline:
        time.sleep(0.001)
    samples = list(_ticks)
    gaps = [b - a for a, b in itertools.pairwise(samples)]
    return {"count": len(samples), "max_gap": max(gaps, default=0.0), "last": samples[-1]}


def imports_httpx(event: Any, context: Any) -> Any:
    import httpx  # noqa: F401  (the runtime venv must not have it)

    return "httpx importable"


def probe_runtime(event: Any, context: Any) -> Any:
    """Calls the Runtime API in wrong states from inside an invocation; returns what it got."""
    import http.client
    import json

    conn = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"], timeout=5)
    out = {}
    for label, method, path in [
        ("response-wrong-id", "POST", "/2018-06-01/runtime/invocation/not-this-one/response"),
        ("init-error-while-invoking", "POST", "/2018-06-01/runtime/init/error"),
        ("unknown-path", "GET", "/2018-06-01/runtime/nothing"),
    ]:
        conn.request(method, path, body=b"{}")
        resp = conn.getresponse()
        raw = resp.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        out[label] = {"status": resp.status, "body": body}
    return out


def noop(event: Any, context: Any) -> Any:
    return None


def logs_traceback(event: Any, context: Any) -> Any:
    """Logs a traceback (a record of several lines; logging ends it without a newline), then,
    unless ``{"last": true}``, another record right after it."""
    import logging

    try:
        event["missing"]["key"]
    except TypeError:
        logging.getLogger().exception("lookup failed")
    if not event.get("last"):
        logging.getLogger().error("after the traceback")
    return "logged"
