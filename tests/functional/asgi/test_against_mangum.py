"""Differential tests: ``warm_asgi`` and Mangum 0.22 serve the same FastAPI app the same events,
and the client sees the same status, body, headers and cookies, event by event, for every HTTP
source. The differences kept on purpose are pinned in test_differences_from_mangum.py."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import pytest

from lambda_warmup import Warmup
from lambda_warmup.asgi import warm_asgi
from tests.support.asgi_app import PNG, make_app
from tests.support.http_events import SOURCES, ClientRequest
from tests.support.http_responses import ClientView, client_view
from tests.support.library import FakeContext, bounded
from tests.support.mangum_runner import MangumRunner

UPLOAD = bytes(range(256)) * 4

#: Each request, and what the client must see from it (checked on ours, then compared).
REQUESTS: dict[str, ClientRequest] = {
    "hello": ClientRequest(path="/hello"),
    "query": ClientRequest(
        path="/echo",
        query=(("q", "a b"), ("q", "ç/&="), ("page", "2")),
        headers=(("X-Custom", "one"),),
    ),
    "json_post": ClientRequest(
        "POST",
        "/echo",
        headers=(("Content-Type", "application/json"),),
        body='{"name": "Zoë"}'.encode(),
    ),
    "form_put": ClientRequest(
        "PUT",
        "/echo",
        headers=(("Content-Type", "application/x-www-form-urlencoded"),),
        body=b"a=1&b=two+words",
    ),
    "delete": ClientRequest("DELETE", "/echo"),
    "cookies_in": ClientRequest(path="/echo", cookies=("session=abc123", "theme=dark")),
    "binary_upload": ClientRequest(
        "POST",
        "/upload",
        headers=(("Content-Type", "application/octet-stream"),),
        body=UPLOAD,
        binary=True,
    ),
    "image": ClientRequest(path="/image"),
    "cookies_out": ClientRequest(path="/cookies"),
    "text": ClientRequest(path="/text"),
    "html": ClientRequest(path="/html"),
    "problem_json": ClientRequest(path="/problem"),
    "unhandled_error": ClientRequest(path="/error"),
    "not_found": ClientRequest(path="/no/such/route"),
}


def check(name: str, view: ClientView) -> None:
    """What the client must get, so that two adapters agreeing on nothing cannot pass."""
    expected_status = {"unhandled_error": 500, "not_found": 404, "problem_json": 418}
    assert view.status == expected_status.get(name, 200)
    if name == "hello":
        assert b"hello from the lifespan" in view.body
    if name == "binary_upload":
        assert view.body == UPLOAD[::-1]
        assert view.headers["x-sha256"] == [hashlib.sha256(UPLOAD).hexdigest()]
    if name == "image":
        assert view.body == PNG
    if name == "cookies_out":
        assert len(view.cookies) == 2
        assert view.cookies[0].startswith("session=abc123")
    if name == "cookies_in":
        assert b'"cookies":{"session":"abc123","theme":"dark"}' in view.body
    if name == "text":
        assert view.body.decode() == "héllo wörld ✓"
    if name == "query":
        assert b'"custom":"one"' in view.body


@pytest.fixture
def ours(warmup: Warmup) -> Any:
    return warm_asgi(make_app(), warmup=warmup)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("name", REQUESTS)
def test_client_sees_what_mangum_gives(
    name: str, source: str, ours: Any, mangum: MangumRunner
) -> None:
    event = SOURCES[source](REQUESTS[name])
    theirs = client_view(source, mangum(copy.deepcopy(event), FakeContext()))
    mine = client_view(source, bounded(lambda: ours(event, FakeContext())))
    check(name, mine)
    assert mine == theirs
