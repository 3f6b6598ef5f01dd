"""Fixtures for Powertools with lambda-warmup in-process: a Warmup of the test's own, Lambda's
environment for one invocation, Powertools' Logger, Metrics and Tracer writing where the test
reads, and the X-Ray recorder's emitter captured (nothing leaves the process)."""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Iterator

import pytest
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import logger as logger_module
from aws_lambda_powertools.metrics.provider import cold_start
from aws_lambda_powertools.tracing import tracer as tracer_module
from aws_xray_sdk.core import xray_recorder  # type: ignore[import-untyped]
from aws_xray_sdk.core.lambda_launcher import LambdaContext  # type: ignore[import-untyped]

from lambda_warmup import Settings, Warmup
from tests.support.powertools import TRACE_HEADER, CapturedEmitter


@pytest.fixture
def warmup() -> Iterator[Warmup]:
    instance = Warmup(settings=Settings())
    yield instance
    instance.close(timeout=5)


@pytest.fixture(autouse=True)
def lambda_invocation(monkeypatch: pytest.MonkeyPatch) -> None:
    """What Lambda sets for an invocation, and a fresh cold start for each Powertools part."""
    monkeypatch.setenv("_X_AMZN_TRACE_ID", TRACE_HEADER)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "orders")
    monkeypatch.delenv("AWS_LAMBDA_INITIALIZATION_TYPE", raising=False)
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED", raising=False)
    monkeypatch.setattr(logger_module, "is_cold_start", True)
    monkeypatch.setattr(cold_start, "is_cold_start", True)
    monkeypatch.setattr(tracer_module, "is_cold_start", True)


@pytest.fixture
def log_stream() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def logger(log_stream: io.StringIO) -> Logger:
    """A Logger of its own (Powertools shares one per service name), writing to ``log_stream``."""
    return Logger(
        service=f"orders-{uuid.uuid4().hex[:8]}",
        logger_handler=logging.StreamHandler(log_stream),
    )


@pytest.fixture
def metrics() -> Iterator[Metrics]:
    instance = Metrics(namespace="Orders", service="orders")
    yield instance
    instance.clear_metrics()  # Metrics keep their metrics on the class, across instances


@pytest.fixture
def emitter() -> Iterator[CapturedEmitter]:
    """The X-Ray recorder as on Lambda (its ``LambdaContext``), its emitter captured, every
    subsegment streamed as it closes (as Powertools' Tracer configures it on Lambda)."""
    recorder = xray_recorder
    saved = (recorder.context, recorder.emitter, recorder.streaming_threshold, recorder.sampling)
    captured = CapturedEmitter()
    recorder.configure(
        context=LambdaContext(), emitter=captured, streaming_threshold=0, sampling=False
    )
    yield captured
    context, emitter, threshold, sampling = saved
    recorder.configure(
        context=context, emitter=emitter, streaming_threshold=threshold, sampling=sampling
    )


@pytest.fixture
def tracer(emitter: CapturedEmitter) -> Iterator[Tracer]:
    Tracer._reset_config()  # Tracer keeps its configuration on the class
    yield Tracer(service="orders", disabled=False, auto_patch=False)
    Tracer._reset_config()
