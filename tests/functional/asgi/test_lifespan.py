"""The app's lifespan as a warm init: run at import beside the other inits, in the report, its
state in every request, a failure a required init's (retried), shutdown at close and SIGTERM;
and every request on the warm loop, an unhandled exception a 500 with one logged traceback."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from fastapi import FastAPI, Request

from lambda_warmup import InitFailedError, Settings, Warmup
from lambda_warmup.asgi import LifespanError, warm_asgi
from tests.support.http_events import ClientRequest, http_api, rest_api
from tests.support.library import FakeContext, LoopbackServer, QueuePool, bounded, settle

REPO = Path(__file__).resolve().parents[3]
LOOP_THREAD = "lambda-warmup-loop"
TEXT = [(b"content-type", b"text/plain")]


def get(handler: Any, path: str) -> dict[str, Any]:
    result: dict[str, Any] = bounded(
        lambda: handler(http_api(ClientRequest(path=path)), FakeContext())
    )
    return result


def wait_for(condition: Any, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        time.sleep(0.005)


def pool_app(startups: list[str]) -> FastAPI:
    """A lifespan that opens a pool bound to its loop; requests use it through request.state."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        startups.append(threading.current_thread().name)
        yield {"pool": await QueuePool.bind(size=2)}

    app = FastAPI(lifespan=lifespan)

    @app.get("/query")
    async def query(request: Request) -> dict[str, Any]:
        return {
            "row": await request.state.pool.fetch("SELECT 1"),
            "thread": threading.current_thread().name,
        }

    return app


def test_state_from_startup_serves_every_request_on_the_warm_loop(warmup: Warmup):
    startups: list[str] = []
    handler = warm_asgi(pool_app(startups), warmup=warmup)
    answers = [json.loads(get(handler, "/query")["body"]) for _ in range(5)]
    assert startups == [LOOP_THREAD]
    assert {answer["thread"] for answer in answers} == {LOOP_THREAD}
    # A pool used from another loop would fail: asyncio's "bound to a different event loop".
    assert all(answer["row"].startswith("SELECT 1 on connection") for answer in answers)


def test_startup_runs_beside_other_inits_and_is_reported(loopback_server: LoopbackServer):
    warmup = Warmup(settings=Settings(extension_expected=True, port=loopback_server.port))
    other_started = threading.Event()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Ends only once the other init has started: run one after the other, this would wait
        # out its 5 s and fail the startup.
        assert await anyio.to_thread.run_sync(other_started.wait, 5)
        yield

    try:
        handler = warm_asgi(FastAPI(lifespan=lifespan), warmup=warmup)

        @warmup.init
        async def settings() -> str:
            other_started.set()
            return "settings"

        [lifespan_handle, _] = warmup.handles
        settle(lifespan_handle)
        assert lifespan_handle.state == "ok"
        wait_for(lambda: loopback_server.posts, "the report")
        report = json.loads(loopback_server.posts[0][2])
        assert report["status"] == "ok"
        assert [(i["name"], i["status"], i["required"]) for i in report["inits"]] == [
            ("lifespan", "ok", True),
            ("settings", "ok", True),
        ]
        assert get(handler, "/docs")["statusCode"] == 200
    finally:
        warmup.close(timeout=5)


def test_failed_startup_is_a_required_init_failure_retried_at_the_next_invocation(
    warmup: Warmup, caplog: pytest.LogCaptureFixture
):
    database_up = False
    startups = 0

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nonlocal startups
        startups += 1
        if not database_up:
            raise ConnectionRefusedError("database down")
        yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/ok")
    async def ok() -> str:
        return "ok"

    handler = warm_asgi(app, warmup=warmup)
    [handle] = warmup.handles
    settle(handle)
    assert handle.state == "failed"
    with pytest.raises(
        InitFailedError,
        match=r"required init.*'lifespan'.*startup failed: ConnectionRefusedError: database down$",
    ) as raised:
        get(handler, "/ok")
    assert raised.value.init_names == ("lifespan",)
    assert isinstance(raised.value.__cause__, LifespanError)
    assert isinstance(raised.value.__cause__.__cause__, ConnectionRefusedError)
    assert "required init 'lifespan' failed" in caplog.text
    database_up = True
    assert get(handler, "/ok")["statusCode"] == 200
    assert startups == 3  # at import, at the first invocation's retry, at the second's


class NoLifespan:
    """A bare app that only speaks HTTP, as many hand-written ones do."""

    def __init__(self) -> None:
        self.scope_types: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.scope_types.append(scope["type"])
        if scope["type"] != "http":
            raise RuntimeError(f"only http, not {scope['type']}")
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send({"type": "http.response.body", "body": b"served"})


def test_app_without_lifespan_is_served(warmup: Warmup, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, "lambda_warmup")
    app = NoLifespan()
    handler = warm_asgi(app, warmup=warmup)
    assert get(handler, "/")["body"] == "served"
    assert app.scope_types == ["lifespan", "http"]
    assert "does not support the lifespan (it raised RuntimeError: only http" in caplog.text
    assert warmup.close(timeout=5) is True
    assert app.scope_types == ["lifespan", "http"]  # no shutdown sent to it


def test_lifespan_on_requires_support(warmup: Warmup):
    handler = warm_asgi(NoLifespan(), warmup=warmup, lifespan="on")
    with pytest.raises(InitFailedError, match=r"lifespan='on'\) requires it") as raised:
        get(handler, "/")
    assert isinstance(raised.value.__cause__, LifespanError)


def test_lifespan_off_never_runs_it(warmup: Warmup):
    app = NoLifespan()
    handler = warm_asgi(app, warmup=warmup, lifespan="off")
    assert get(handler, "/")["body"] == "served"
    assert (warmup.handles, app.scope_types) == ((), ["http"])


async def answering(message: dict[str, Any], scope: Any, receive: Any, send: Any) -> None:
    assert scope["type"] == "lifespan"
    assert (await receive())["type"] == "lifespan.startup"
    await send(message)


def test_startup_failed_message_is_the_error(warmup: Warmup):
    message = {"type": "lifespan.startup.failed", "message": "no DATABASE_URL"}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await answering(message, scope, receive, send)

    handler = warm_asgi(app, warmup=warmup)
    with pytest.raises(InitFailedError, match="ASGI lifespan startup failed: no DATABASE_URL"):
        get(handler, "/")


def test_shutdown_runs_at_close_and_is_cut_at_its_budget(warmup: Warmup):
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        events.append("shutdown started")
        await anyio.sleep(30)
        events.append("not reached")

    warm_asgi(FastAPI(lifespan=lifespan), warmup=warmup)
    settle(warmup.handles[0])
    started = time.monotonic()
    assert warmup.close(timeout=0.3) is False
    assert time.monotonic() - started < 5
    assert events == ["shutdown started"]


_SIGTERM_SCRIPT = """
import contextlib, os, signal, time
from fastapi import FastAPI
from lambda_warmup.asgi import warm_asgi

@contextlib.asynccontextmanager
async def lifespan(app):
    print("startup", flush=True)
    yield {"greeting": "hi"}
    print("shutdown", flush=True)

app = FastAPI(lifespan=lifespan)

@app.get("/hi")
async def hi(request: __import__("fastapi").Request):
    return request.state.greeting

handler = warm_asgi(app)
event = {"version": "2.0", "rawPath": "/hi", "rawQueryString": "", "headers": {},
         "requestContext": {"http": {"method": "GET", "path": "/hi", "sourceIp": "1.2.3.4"}}}
print(handler(event, None)["body"], flush=True)
os.kill(os.getpid(), signal.SIGTERM)
time.sleep(5)
print("not reached", flush=True)
"""


def test_shutdown_runs_at_sigterm(tmp_path: Path):
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "TMPDIR": str(tmp_path),
        "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9",  # a Lambda runtime: the SIGTERM handler
    }
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", _SIGTERM_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.stdout.splitlines() == ["startup", '"hi"', "shutdown"], result.stderr
    assert result.returncode == -15, result.stderr


class Raising:
    """Raises before any response, or after a whole one, or SystemExit."""

    def __init__(self, error: BaseException, respond_first: bool = False) -> None:
        self.error = error
        self.respond_first = respond_first

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/fine":
            await send({"type": "http.response.start", "status": 200, "headers": TEXT})
            await send({"type": "http.response.body", "body": b"fine"})
            return
        if self.respond_first:
            await send({"type": "http.response.start", "status": 503, "headers": TEXT})
            await send({"type": "http.response.body", "body": b"app's own"})
        raise self.error


def traced(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.exc_info]


@pytest.mark.parametrize(
    ("app", "status", "body"),
    [
        (Raising(ValueError("bad row")), 500, "Internal Server Error"),
        (Raising(SystemExit(3)), 500, "Internal Server Error"),
        (Raising(ValueError("after"), respond_first=True), 503, "app's own"),
    ],
    ids=["before_response", "system_exit", "after_response"],
)
def test_unhandled_exception_is_a_500_and_one_logged_traceback(
    warmup: Warmup, caplog: pytest.LogCaptureFixture, app: Raising, status: int, body: str
):
    handler = warm_asgi(app, warmup=warmup)
    result = get(handler, "/boom")
    assert (result["statusCode"], result["body"]) == (status, body)
    [record] = traced(caplog)
    assert record.getMessage().startswith("lambda-warmup: the ASGI app raised on GET /boom")
    assert record.exc_info is not None
    assert record.exc_info[1] is app.error
    assert get(handler, "/fine")["body"] == "fine"  # the loop and the runtime carry on


def test_fastapi_route_error_is_its_500_and_one_logged_traceback(
    warmup: Warmup, caplog: pytest.LogCaptureFixture
):
    app = FastAPI()

    @app.get("/error")
    async def error() -> None:
        raise RuntimeError("the route failed")

    handler = warm_asgi(app, warmup=warmup)
    result = bounded(lambda: handler(rest_api(ClientRequest(path="/error")), FakeContext()))
    assert (result["statusCode"], result["body"]) == (500, "Internal Server Error")
    [record] = traced(caplog)
    assert "RuntimeError: the route failed" in record.getMessage()


def test_asgi_is_not_imported_by_the_library():
    probe = "import sys, lambda_warmup; print('lambda_warmup.asgi' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=30
    )
    assert result.stdout.strip() == "False", result.stderr


def test_each_request_gets_its_own_copy_of_the_state(warmup: Warmup):
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        yield {"greeting": "hi"}

    app = FastAPI(lifespan=lifespan)

    @app.get("/mark")
    async def mark(request: Request) -> dict[str, Any]:
        seen = getattr(request.state, "marked", False)
        request.state.marked = True
        return {"seen": seen, "greeting": request.state.greeting}

    handler = warm_asgi(app, warmup=warmup)
    answers = [json.loads(get(handler, "/mark")["body"]) for _ in range(2)]
    assert answers == [{"seen": False, "greeting": "hi"}] * 2


def test_failed_shutdown_is_logged_and_the_rest_of_close_runs(
    warmup: Warmup, caplog: pytest.LogCaptureFixture
):
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        raise OSError("pool already closed")

    closed: list[str] = []

    @warmup.init
    async def before() -> AsyncIterator[None]:
        yield
        closed.append("the init declared before")

    warm_asgi(FastAPI(lifespan=lifespan), warmup=warmup)
    settle(warmup.handles[1])
    assert warmup.close(timeout=5) is True
    assert "ASGI lifespan shutdown failed" in caplog.text
    assert "OSError: pool already closed" in caplog.text
    assert closed == ["the init declared before"]


def test_concurrent_invocations_are_served_together_on_the_loop(warmup: Warmup):
    """Managed Instances send several invocations at once (one thread each): each request waits
    until all have arrived, which only requests running together on the loop can do."""
    arrived = 0
    everyone = anyio.Event()
    callers = 3
    app = FastAPI()

    @app.get("/meet")
    async def meet() -> dict[str, Any]:
        nonlocal arrived
        arrived += 1
        if arrived == callers:
            everyone.set()
        with anyio.fail_after(5):
            await everyone.wait()
        return {"thread": threading.current_thread().name}

    handler = warm_asgi(app, warmup=warmup)
    results: list[dict[str, Any]] = []
    threads = [
        threading.Thread(target=lambda: results.append(get(handler, "/meet")))
        for _ in range(callers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert [r["statusCode"] for r in results] == [200] * callers
    assert {json.loads(r["body"])["thread"] for r in results} == {LOOP_THREAD}
