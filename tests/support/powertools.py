"""Powertools and X-Ray in-process, as on Lambda but with nothing leaving the process: a Lambda
context with the fields Powertools reads, a captured X-Ray emitter, the trace header Lambda
sets, and readers for what Logger wrote and Metrics printed (in-process, or in a function's log
as a user reads it there)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.paths import REPO

#: As Lambda sets ``_X_AMZN_TRACE_ID`` for an invocation: the function's segment is ``Parent``.
TRACE_ROOT = "1-5759e988-bd862e3fe1be46a994272793"
FUNCTION_SEGMENT = "53995c3f42cd8ad8"
TRACE_HEADER = f"Root={TRACE_ROOT};Parent={FUNCTION_SEGMENT};Sampled=1"


@dataclass
class PowertoolsContext:
    """awslambdaric's ``LambdaContext``, as far as Powertools and ``@warm_handler`` read it."""

    aws_request_id: str = "req-1"
    function_name: str = "orders"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:orders"
    log_group_name: str = "/aws/lambda/orders"
    log_stream_name: str = "2026/12/03/[$LATEST]abc"
    remaining_ms: float = 30_000
    deadline: float = field(init=False)

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


class CapturedEmitter:
    """Takes the X-Ray recorder's UDP emitter's place: keeps each entity it would have sent."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_entity(self, entity: Any) -> None:
        self.sent.append(json.loads(entity.serialize()))

    def set_daemon_address(self, address: str | None) -> None:
        pass

    def subsegments(self) -> dict[str, dict[str, Any]]:
        """Every subsegment sent, nested ones too, by name (the last one of a name wins)."""
        found: dict[str, dict[str, Any]] = {}

        def walk(entity: dict[str, Any], parent_id: str | None) -> None:
            entity.setdefault("parent_id", parent_id)
            found[entity["name"]] = entity
            for child in entity.get("subsegments", []):
                walk(child, entity["id"])

        for entity in self.sent:
            walk(entity, entity.get("parent_id"))
        return found


def log_lines(text: str) -> list[dict[str, Any]]:
    """Powertools Logger's output: one JSON object a line."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def emf_documents(stdout: str) -> list[dict[str, Any]]:
    """What Powertools Metrics printed: the EMF documents among stdout's lines."""
    documents = []
    for line in stdout.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            documents.append(json.loads(line))
    return documents


def metric_values(documents: list[dict[str, Any]], name: str) -> list[float]:
    """Every value recorded for metric ``name`` across ``documents``."""
    values: list[float] = []
    for document in documents:
        declared = {
            metric["Name"]
            for directive in document["_aws"]["CloudWatchMetrics"]
            for metric in directive["Metrics"]
        }
        if name in declared:
            value = document[name]
            values.extend(value if isinstance(value, list) else [value])
    return values


def powertools_layer(runtime: str = "python3.13") -> Path:
    """A layer with Powertools as the orders sample pins it (its locked requirements, the same
    cached layer the database tests use), for a function in the sandbox."""
    from lambda_sandbox import dependencies_layer

    return dependencies_layer(REPO / "samples" / "orders" / "requirements.txt", runtime)


def json_lines(lines: Iterable[str]) -> list[dict[str, Any]]:
    """Every line that is a JSON object, parsed one by one; a line that starts like one and does
    not parse fails the test. Text lines (the runtime's, the extension's) are skipped."""
    objects = []
    for line in lines:
        if not line.startswith("{"):
            continue
        try:
            parsed = json.loads(line)
        except json.JSONDecodeError as error:
            raise AssertionError(f"a log line is not one JSON object ({error}): {line!r}") from None
        assert isinstance(parsed, dict), line
        objects.append(parsed)
    return objects


def log_records(lines: Iterable[str], message: str) -> list[dict[str, Any]]:
    """The Logger's records with this ``message``."""
    return [o for o in json_lines(lines) if "_aws" not in o and o.get("message") == message]


def emf_metrics(lines: Iterable[str], namespace: str) -> list[dict[str, float]]:
    """Each EMF document in ``namespace`` as {metric name: value}, after checking what CloudWatch
    needs of it: a millisecond timestamp, each metric's value and each dimension's value at the
    document's top level."""
    found = []
    for doc in json_lines(lines):
        if "_aws" not in doc:
            continue
        meta = doc["_aws"]
        assert isinstance(meta["Timestamp"], int), doc
        assert meta["Timestamp"] > 10**12, doc  # milliseconds since the epoch
        (directive,) = meta["CloudWatchMetrics"]
        if directive["Namespace"] != namespace:
            continue
        for dimension_set in directive["Dimensions"]:
            for dimension in dimension_set:
                assert isinstance(doc[dimension], str), (dimension, doc)
        values = {}
        for metric in directive["Metrics"]:
            value = doc[metric["Name"]]
            (values[metric["Name"]],) = value if isinstance(value, list) else [value]
        found.append(values)
    return found


def emf_dimensions(lines: Iterable[str], metric: str) -> list[dict[str, str]]:
    """The dimensions (name: value) of each EMF document holding ``metric``."""
    found = []
    for doc in json_lines(lines):
        if "_aws" in doc and metric in doc:
            (directive,) = doc["_aws"]["CloudWatchMetrics"]
            names = {name for dimension_set in directive["Dimensions"] for name in dimension_set}
            found.append({name: doc[name] for name in names})
    return found
