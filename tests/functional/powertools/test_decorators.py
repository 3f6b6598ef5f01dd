"""Each Powertools decorator above and below ``@warm_handler``, on async and sync handlers.

Each handler is called as awslambdaric calls it: from a thread that is not the warm loop, with a
Lambda context, twice (a cold start, then a warm one). Each test asserts what the handler
returned and what Powertools logged, measured or traced for each invocation.
"""

from __future__ import annotations

import asyncio
import functools
import io
import threading
from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent, event_source

from lambda_warmup import Warmup
from tests.support.library import bounded
from tests.support.powertools import (
    FUNCTION_SEGMENT,
    TRACE_ROOT,
    CapturedEmitter,
    PowertoolsContext,
    emf_documents,
    log_lines,
    metric_values,
)

type Handler = Callable[[Any, Any], Any]
type Decorator = Callable[[Handler], Handler]

#: ``warm_on_top``: ``@warm_handler`` above the Powertools decorator; ``powertools_on_top``: below.
ORDERS = ["warm_on_top", "powertools_on_top"]
KINDS = ["async", "sync"]

#: Where the handler's own code runs: an ``async def`` on the warm loop, a ``def`` in the
#: runtime's thread (here the thread ``bounded`` calls it from).
THREAD = {"async": "lambda-warmup-loop", "sync": "bounded-call"}


def stacked(warmup: Warmup, powertools: Decorator, handler: Handler, order: str) -> Handler:
    if order == "warm_on_top":
        return warmup.handler(powertools(handler))
    return powertools(warmup.handler(handler))


def handler_of(kind: str, body: Callable[[Any, Any], Any]) -> Handler:
    """An ``async def`` or ``def`` handler named ``handler`` doing ``body``."""
    if kind == "async":

        async def handler(event: Any, context: Any) -> Any:
            await asyncio.sleep(0)  # a real suspension, on the warm loop
            return body(event, context)

        return handler

    def handler(event: Any, context: Any) -> Any:  # type: ignore[no-redef]
        return body(event, context)

    return handler


def invoke(handler: Handler, event: Any, request_id: str) -> Any:
    """As the runtime does: from a thread of its own, with a fresh context."""
    return bounded(functools.partial(handler, event, PowertoolsContext(aws_request_id=request_id)))


def thread_name() -> str:
    return threading.current_thread().name


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("order", ORDERS)
def test_logger_inject_lambda_context(
    warmup: Warmup, logger: Logger, log_stream: io.StringIO, order: str, kind: str
):
    def body(event: dict[str, Any], context: Any) -> dict[str, Any]:
        logger.info("charging", extra={"amount": event["amount"]})
        return {"charged": event["amount"], "thread": thread_name()}

    inject = logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
    handler = stacked(warmup, inject, handler_of(kind, body), order)

    results = [
        invoke(handler, {"amount": n, "requestContext": {"requestId": f"corr-{n}"}}, f"req-{n}")
        for n in (1, 2)
    ]

    assert results == [{"charged": n, "thread": THREAD[kind]} for n in (1, 2)]
    lines = [line for line in log_lines(log_stream.getvalue()) if line["message"] == "charging"]
    assert [
        (line["amount"], line["cold_start"], line["function_request_id"], line["correlation_id"])
        for line in lines
    ] == [(1, True, "req-1", "corr-1"), (2, False, "req-2", "corr-2")]
    assert {line["function_name"] for line in lines} == {"orders"}
    assert {line["xray_trace_id"] for line in lines} == {TRACE_ROOT}
    # taskName names the handler on the warm loop; in the runtime's thread there is no task.
    assert [line.get("taskName") for line in lines] == ["handler" if kind == "async" else None] * 2


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("order", ORDERS)
def test_metrics_log_metrics_with_cold_start(
    warmup: Warmup, metrics: Metrics, capsys: pytest.CaptureFixture[str], order: str, kind: str
):
    def body(event: dict[str, Any], context: Any) -> dict[str, Any]:
        metrics.add_metric(name="OrdersCharged", unit=MetricUnit.Count, value=event["amount"])
        return {"charged": event["amount"], "thread": thread_name()}

    log_metrics = metrics.log_metrics(capture_cold_start_metric=True)
    handler = stacked(warmup, log_metrics, handler_of(kind, body), order)

    documents = []
    for n in (1, 2):
        assert invoke(handler, {"amount": n}, f"req-{n}") == {"charged": n, "thread": THREAD[kind]}
        documents.append(emf_documents(capsys.readouterr().out))

    # Each invocation's metrics are flushed by that invocation, after its handler ran.
    first, second = documents
    assert metric_values(first, "OrdersCharged") == [1.0]
    assert metric_values(first, "ColdStart") == [1.0]
    assert metric_values(second, "OrdersCharged") == [2.0]
    assert metric_values(second, "ColdStart") == []
    assert {d["_aws"]["CloudWatchMetrics"][0]["Namespace"] for d in first + second} == {"Orders"}


def traced_handler(kind: str, tracer: Tracer) -> Handler:
    """A handler that opens a subsegment of its own around a suspension."""
    if kind == "async":

        async def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            async with tracer.provider.in_subsegment_async("charge") as subsegment:
                subsegment.put_annotation("amount", event["amount"])
                await asyncio.sleep(0)
            return {"charged": event["amount"], "thread": thread_name()}

        return handler

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:  # type: ignore[no-redef]
        with tracer.provider.in_subsegment("charge") as subsegment:
            subsegment.put_annotation("amount", event["amount"])
        return {"charged": event["amount"], "thread": thread_name()}

    return handler


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("order", ORDERS)
def test_tracer_capture_lambda_handler(
    warmup: Warmup, tracer: Tracer, emitter: CapturedEmitter, order: str, kind: str
):
    handler = stacked(warmup, tracer.capture_lambda_handler, traced_handler(kind, tracer), order)

    for n, cold in ((1, True), (2, False)):
        emitter.sent.clear()
        result = invoke(handler, {"amount": n}, f"req-{n}")

        assert result == {"charged": n, "thread": THREAD[kind]}
        subsegments = emitter.subsegments()
        outer, charge = subsegments["## handler"], subsegments["charge"]
        # ``## handler`` under the function's segment, the handler's own subsegment under it.
        assert (outer["trace_id"], outer["parent_id"]) == (TRACE_ROOT, FUNCTION_SEGMENT)
        assert (charge["trace_id"], charge["parent_id"]) == (TRACE_ROOT, outer["id"])
        assert charge["annotations"] == {"amount": n}
        assert outer["annotations"] == {"ColdStart": cold, "Service": "orders"}
        assert outer["metadata"]["orders"]["handler response"] == result
        assert charge["start_time"] >= outer["start_time"]
        assert charge["end_time"] <= outer["end_time"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("order", ORDERS)
def test_tracer_records_the_handlers_error(
    warmup: Warmup, tracer: Tracer, emitter: CapturedEmitter, order: str, kind: str
):
    def body(event: Any, context: Any) -> Any:
        raise LookupError("no such order")

    handler = stacked(warmup, tracer.capture_lambda_handler, handler_of(kind, body), order)

    with pytest.raises(LookupError, match="no such order"):
        invoke(handler, {}, "req-1")
    outer = emitter.subsegments()["## handler"]
    assert outer["fault"] is True
    assert outer["cause"]["exceptions"][0]["type"] == "LookupError"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("order", ORDERS)
def test_event_source(warmup: Warmup, order: str, kind: str):
    def body(event: APIGatewayProxyEvent, context: Any) -> dict[str, Any]:
        return {"type": type(event).__name__, "path": event.path, "thread": thread_name()}

    source = event_source(data_class=APIGatewayProxyEvent)
    handler = stacked(warmup, source, handler_of(kind, body), order)

    for path in ("/orders/1", "/orders/2"):
        assert invoke(handler, {"path": path, "httpMethod": "GET"}, "req") == {
            "type": "APIGatewayProxyEvent",
            "path": path,
            "thread": THREAD[kind],
        }


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("order", ORDERS)
def test_all_four_together(
    warmup: Warmup,
    logger: Logger,
    log_stream: io.StringIO,
    metrics: Metrics,
    tracer: Tracer,
    emitter: CapturedEmitter,
    capsys: pytest.CaptureFixture[str],
    order: str,
    kind: str,
):
    """As a team would stack them: Tracer, Logger, Metrics, then the event's data class."""

    def body(event: APIGatewayProxyEvent, context: Any) -> dict[str, Any]:
        logger.info("charging")
        metrics.add_metric(name="OrdersCharged", unit=MetricUnit.Count, value=1)
        with tracer.provider.in_subsegment("charge"):
            pass
        return {"path": event.path, "thread": thread_name()}

    def powertools(handler: Handler) -> Handler:
        handler = event_source(data_class=APIGatewayProxyEvent)(handler)
        handler = metrics.log_metrics(capture_cold_start_metric=True)(handler)
        handler = logger.inject_lambda_context(handler)
        return tracer.capture_lambda_handler(handler)

    handler = stacked(warmup, powertools, handler_of(kind, body), order)

    assert invoke(handler, {"path": "/orders/1"}, "req-1") == {
        "path": "/orders/1",
        "thread": THREAD[kind],
    }
    [line] = [line for line in log_lines(log_stream.getvalue()) if line["message"] == "charging"]
    assert (line["cold_start"], line["function_request_id"]) == (True, "req-1")
    documents = emf_documents(capsys.readouterr().out)
    assert metric_values(documents, "OrdersCharged") == [1.0]
    assert metric_values(documents, "ColdStart") == [1.0]
    subsegments = emitter.subsegments()
    assert subsegments["charge"]["parent_id"] == subsegments["## handler"]["id"]
