"""Powertools' event handler with ``await app.resolve_async(...)`` in an async ``@warm_handler``:
the routes run on the warm loop and use a client an init made there (a pool bound to its loop)."""

from __future__ import annotations

import functools
import io
import json
import threading
from typing import Any

import pytest
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, APIGatewayRestResolver
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver

from lambda_warmup import Warmup
from tests.support.library import QueuePool, bounded
from tests.support.powertools import PowertoolsContext, log_lines


def rest_api_event(method: str, path: str, request_id: str) -> dict[str, Any]:
    """An API Gateway REST API (payload 1.0) proxy event, as far as the resolver reads it."""
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {"Accept": "application/json"},
        "multiValueHeaders": {"Accept": ["application/json"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "requestId": request_id,
            "stage": "prod",
            "httpMethod": method,
            "path": f"/prod{path}",
            "resourcePath": "/{proxy+}",
        },
        "body": None,
        "isBase64Encoded": False,
    }


def http_api_event(method: str, path: str, request_id: str) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, as far as the resolver reads it."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"accept": "application/json"},
        "requestContext": {
            "requestId": request_id,
            "stage": "$default",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1"},
        },
        "isBase64Encoded": False,
    }


RESOLVERS = {
    "rest": (APIGatewayRestResolver, rest_api_event),
    "http": (APIGatewayHttpResolver, http_api_event),
}


@pytest.mark.parametrize("api", sorted(RESOLVERS))
@pytest.mark.parametrize("order", ["warm_on_top", "powertools_on_top"])
def test_resolve_async_runs_routes_on_the_warm_loop_with_the_inits_pool(
    warmup: Warmup, logger: Logger, log_stream: io.StringIO, api: str, order: str
):
    resolver_class, make_event = RESOLVERS[api]
    app: ApiGatewayResolver = resolver_class()

    @warmup.init
    async def pool() -> QueuePool:
        return await QueuePool.bind(size=1)  # bound to the warm loop, as asyncpg's pool is

    @app.get("/orders/<order_id>")
    async def get_order(order_id: str) -> dict[str, Any]:
        # Two queries on one connection: the second waits for it, which only works on the
        # pool's own loop.
        rows = await pool.value.fetch_many(f"order {order_id}", f"lines {order_id}")
        logger.info("order read")
        return {"rows": rows, "thread": threading.current_thread().name}

    async def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return await app.resolve_async(event, context)

    inject = logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
    lambda_handler = (
        warmup.handler(inject(handler))
        if order == "warm_on_top"
        else inject(warmup.handler(handler))
    )

    responses = [
        bounded(
            functools.partial(
                lambda_handler,
                make_event("GET", f"/orders/{n}", f"api-req-{n}"),
                PowertoolsContext(aws_request_id=f"req-{n}"),
            )
        )
        for n in (1, 2)
    ]

    for n, response in zip((1, 2), responses, strict=True):
        assert response["statusCode"] == 200
        assert json.loads(response["body"]) == {
            "rows": [f"order {n} on connection 0", f"lines {n} on connection 0"],
            "thread": "lambda-warmup-loop",
        }
    lines = [line for line in log_lines(log_stream.getvalue()) if line["message"] == "order read"]
    assert [(line["correlation_id"], line["taskName"]) for line in lines] == [
        ("api-req-1", "handler"),
        ("api-req-2", "handler"),
    ]
    assert pool.value.queries == 4


@pytest.mark.parametrize("api", sorted(RESOLVERS))
def test_an_unknown_route_is_a_404_from_the_warm_loop(warmup: Warmup, api: str):
    resolver_class, make_event = RESOLVERS[api]
    app: ApiGatewayResolver = resolver_class()

    @warmup.handler
    async def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return await app.resolve_async(event, context)

    response = bounded(
        functools.partial(handler, make_event("GET", "/nowhere", "r"), PowertoolsContext())
    )
    assert response["statusCode"] == 404
