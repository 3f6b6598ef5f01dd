"""What Powertools for AWS Lambda printed in a function's log, as a user reads it there: the
``Logger``'s JSON lines and the CloudWatch EMF documents ``Metrics`` prints."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any


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
