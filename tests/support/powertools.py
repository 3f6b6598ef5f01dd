"""Powertools and X-Ray in-process, as on Lambda but with nothing leaving the process: a Lambda
context with the fields Powertools reads, a captured X-Ray emitter, the trace header Lambda
sets, and readers for what Logger wrote and Metrics printed."""

from __future__ import annotations

import json
import time
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
