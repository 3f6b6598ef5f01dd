"""Where ``warm_asgi`` and Mangum 0.22 differ on purpose, each pinned on the same app and event
(README: "Differences from Mangum" says why)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from lambda_warmup import Warmup
from lambda_warmup.asgi import UnsupportedEventError, warm_asgi
from tests.support.asgi_app import LifespanLog, make_app
from tests.support.http_events import (
    API_ID,
    REGION,
    ClientRequest,
    alb,
    http_api,
    rest_api,
)
from tests.support.http_responses import client_view
from tests.support.library import FakeContext, bounded
from tests.support.mangum_runner import MangumRunner

API_HOST = f"{API_ID}.execute-api.{REGION}.amazonaws.com"


@pytest.fixture
def log() -> LifespanLog:
    return LifespanLog()


@pytest.fixture
def ours(warmup: Warmup, log: LifespanLog) -> Any:
    return warm_asgi(make_app(log), warmup=warmup)


def both(ours: Any, mangum: MangumRunner, event: dict[str, Any]) -> tuple[Any, Any]:
    mine = bounded(lambda: ours(event, FakeContext()))
    theirs = mangum(copy.deepcopy(event), FakeContext())
    return mine, theirs


def test_lifespan_starts_once_mangum_starts_it_per_invocation(
    ours: Any, log: LifespanLog, warmup: Warmup, mangum: MangumRunner, mangum_log: LifespanLog
):
    event = http_api(ClientRequest(path="/hello"))
    for _ in range(10):
        mine, theirs = both(ours, mangum, event)
        assert mine["statusCode"] == theirs["statusCode"] == 200
    assert (log.startups, log.shutdowns) == (1, 0)
    assert (mangum_log.startups, mangum_log.shutdowns) == (10, 10)
    assert log.threads == ["lambda-warmup-loop"]
    assert warmup.close(timeout=5) is True
    assert (log.startups, log.shutdowns) == (1, 1)


def test_rest_api_stage_is_the_root_path(ours: Any, mangum: MangumRunner):
    """The client asked for /prod/where: ours says so (url_for, redirects and request.url work);
    Mangum drops the stage from the path and leaves root_path empty."""
    mine, theirs = both(ours, mangum, rest_api(ClientRequest(path="/where"), stage="prod"))
    assert json.loads(mine["body"])["url"] == f"https://{API_HOST}/prod/where"
    assert json.loads(mine["body"])["root_path"] == "/prod"
    assert json.loads(theirs["body"])["url"] == f"https://{API_HOST}/where"
    assert json.loads(theirs["body"])["root_path"] == ""


def test_http_api_named_stage_routes(ours: Any, mangum: MangumRunner):
    """HTTP API puts a named stage in rawPath: ours takes it as the root path and routes;
    Mangum routes /prod/hello (404) unless given api_gateway_base_path."""
    mine, theirs = both(ours, mangum, http_api(ClientRequest(path="/hello"), stage="prod"))
    assert mine["statusCode"] == 200
    assert theirs["statusCode"] == 404


def test_no_content_type_is_invented(ours: Any, mangum: MangumRunner):
    """A 204 without Content-Type: Mangum's HTTP API answer adds application/json."""
    mine, theirs = both(ours, mangum, http_api(ClientRequest(path="/nothing")))
    assert mine["statusCode"] == theirs["statusCode"] == 204
    assert "content-type" not in mine.get("headers", {})
    assert theirs["headers"]["content-type"] == "application/json"


def test_alb_client_is_the_address_the_alb_saw(ours: Any, mangum: MangumRunner):
    request = ClientRequest(path="/where", forwarded_for=("198.51.100.1",))
    mine, theirs = both(ours, mangum, alb(request))
    assert json.loads(mine["body"])["client"] == "203.0.113.7"
    assert json.loads(theirs["body"])["client"] == "198.51.100.1, 203.0.113.7"


def test_repeated_request_header_stays_repeated(ours: Any, mangum: MangumRunner):
    request = ClientRequest(path="/where", headers=(("X-Custom", "a"), ("X-Custom", "b")))
    mine, theirs = both(ours, mangum, rest_api(request))
    assert json.loads(mine["body"])["custom"] == ["a", "b"]
    assert json.loads(theirs["body"])["custom"] == ["a, b"]


def test_structured_json_types_answer_as_text(ours: Any, mangum: MangumRunner):
    """application/problem+json: text for ours (a REST API without binary media types would
    otherwise hand the client base64), base64 for Mangum; the bytes are the same."""
    event = rest_api(ClientRequest(path="/problem"))
    mine, theirs = both(ours, mangum, event)
    assert (mine["isBase64Encoded"], theirs["isBase64Encoded"]) == (False, True)
    assert client_view("rest_api", mine) == client_view("rest_api", theirs)


def test_alb_answer_has_a_status_description(ours: Any, mangum: MangumRunner):
    mine, theirs = both(ours, mangum, alb(ClientRequest(path="/no/such/route")))
    assert mine["statusDescription"] == "404 Not Found"
    assert "statusDescription" not in theirs


@pytest.mark.parametrize(
    "event",
    [
        {"Records": [{"cf": {"config": {}, "request": {"uri": "/"}}}]},
        {"key1": "value1"},
        ["not", "an", "object"],
    ],
    ids=["lambda_at_edge", "console_test_event", "list"],
)
def test_unknown_event_is_a_clear_error(ours: Any, event: Any):
    with pytest.raises(UnsupportedEventError, match=r"warm_asgi handles API Gateway REST API"):
        bounded(lambda: ours(event, FakeContext()))
    assert (
        bounded(lambda: ours(http_api(ClientRequest(path="/hello")), FakeContext()))["statusCode"]
        == 200
    )


def test_docs_behind_a_rest_api_stage_point_at_the_staged_schema(ours: Any, mangum: MangumRunner):
    """FastAPI's /docs page loads its schema from root_path + /openapi.json: behind a stage,
    Mangum's page points at a URL the API does not serve."""
    mine, theirs = both(ours, mangum, rest_api(ClientRequest(path="/docs"), stage="prod"))
    assert "url: '/prod/openapi.json'" in mine["body"]
    assert "url: '/openapi.json'" in theirs["body"]
