"""One FastAPI app for the ASGI tests (ours and Mangum's handler serve the same code): a lifespan
that counts its startups and shutdowns and yields state, and a route per thing a response can
carry (JSON, text, binary both ways, several cookies, an unhandled error, no content)."""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse

#: A 1x1 PNG: a binary response body.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)


@dataclass
class LifespanLog:
    """What the app's lifespan did: a line per startup and shutdown, and the thread it ran in."""

    events: list[str] = field(default_factory=list)
    threads: list[str] = field(default_factory=list)

    @property
    def startups(self) -> int:
        return self.events.count("startup")

    @property
    def shutdowns(self) -> int:
        return self.events.count("shutdown")


def make_app(log: LifespanLog | None = None) -> FastAPI:
    log = log if log is not None else LifespanLog()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        log.events.append("startup")
        log.threads.append(threading.current_thread().name)
        yield {"greeting": "hello from the lifespan", "log": log}
        log.events.append("shutdown")

    app = FastAPI(lifespan=lifespan)

    @app.get("/hello")
    async def hello(request: Request) -> dict[str, Any]:
        return {"message": "hello", "greeting": request.state.greeting}

    @app.api_route("/echo", methods=["GET", "POST", "PUT", "DELETE"])
    async def echo(request: Request) -> dict[str, Any]:
        body = await request.body()
        return {
            "method": request.method,
            "path": request.url.path.removeprefix(request.scope.get("root_path", "")),
            "query": request.query_params.multi_items(),
            "cookies": request.cookies,
            "custom": request.headers.get("x-custom"),
            "content_type": request.headers.get("content-type"),
            "body": body.decode("utf-8", "replace"),
        }

    @app.post("/upload")
    async def upload(request: Request) -> Response:
        body = await request.body()
        return Response(
            body[::-1],
            media_type="application/octet-stream",
            headers={"x-sha256": hashlib.sha256(body).hexdigest()},
        )

    @app.get("/image")
    async def image() -> Response:
        return Response(PNG, media_type="image/png")

    @app.get("/cookies")
    async def cookies() -> JSONResponse:
        response = JSONResponse({"set": 2})
        response.set_cookie("session", "abc123", httponly=True, secure=True)
        response.set_cookie("theme", "dark", max_age=3600, path="/")
        response.headers["x-app"] = "demo"
        return response

    @app.get("/text")
    async def text() -> PlainTextResponse:
        return PlainTextResponse("héllo wörld ✓")

    @app.get("/html")
    async def html() -> HTMLResponse:
        return HTMLResponse("<h1>hi</h1>")

    @app.get("/problem")
    async def problem() -> JSONResponse:
        return JSONResponse(
            {"title": "teapot"}, status_code=418, media_type="application/problem+json"
        )

    @app.get("/error")
    async def error() -> None:
        raise RuntimeError("the route failed")

    @app.get("/nothing", status_code=204)
    async def nothing() -> Response:
        return Response(status_code=204)

    @app.get("/where")
    async def where(request: Request) -> dict[str, Any]:
        client = request.client
        return {
            "url": str(request.url),
            "root_path": request.scope.get("root_path", ""),
            "scheme": request.url.scheme,
            "server": list(request.scope["server"] or ()),
            "client": client.host if client else None,
            "custom": request.headers.getlist("x-custom"),
            "cookies": request.cookies,
        }

    @app.get("/aws")
    async def aws(request: Request) -> dict[str, Any]:
        event = request.scope["aws.event"]
        context = request.scope["aws.context"]
        return {
            "event_keys": sorted(event),
            "request_id": getattr(context, "aws_request_id", None),
        }

    return app
