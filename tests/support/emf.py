"""Validating CloudWatch Embedded Metric Format documents against the specification.

Written from "Specification: Embedded metric format" (Amazon CloudWatch User Guide,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
the JSON Schema holds the structure (root node, metadata object, MetricDirective, DimensionSet,
MetricDefinition, with the spec's limits); :func:`validate_emf` adds what a schema cannot say
about one document, the reference rules: every dimension and metric a directive names is a
member of the root node, a dimension's value is a string, and a metric's is a number or an
array of at most 100 numbers.
"""

from __future__ import annotations

import json
import math
from typing import Any

import jsonschema  # type: ignore[import-untyped]

#: CloudWatch's metric units (MetricDatum's ``Unit``).
UNITS = [
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
    "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second",
    "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
]  # fmt: skip

_NAME = {"type": "string", "minLength": 1, "maxLength": 255}

EMF_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "CloudWatch Embedded Metric Format document (root node)",
    "type": "object",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "title": "Metadata object",
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "properties": {
                # Milliseconds after the epoch.
                "Timestamp": {"type": "integer", "minimum": 0},
                "CloudWatchMetrics": {
                    "type": "array",
                    "items": {
                        "title": "MetricDirective",
                        "type": "object",
                        "required": ["Namespace", "Dimensions", "Metrics"],
                        "properties": {
                            "Namespace": _NAME,
                            "Dimensions": {
                                "type": "array",
                                "items": {
                                    "title": "DimensionSet",
                                    "type": "array",
                                    "maxItems": 9,  # 30 in the newest text; 9 holds for both
                                    "items": _NAME,
                                },
                            },
                            "Metrics": {
                                "type": "array",
                                "maxItems": 100,
                                "items": {
                                    "title": "MetricDefinition",
                                    "type": "object",
                                    "required": ["Name"],
                                    "properties": {
                                        "Name": _NAME,
                                        "Unit": {"enum": UNITS},
                                        "StorageResolution": {"enum": [1, 60]},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}

MAX_DOCUMENT_BYTES = 256 * 1024  # a CloudWatch Logs event


def validate_emf(document: dict[str, Any]) -> None:
    """Raise ``AssertionError`` naming the first rule of the specification ``document`` breaks."""
    try:
        jsonschema.validate(document, EMF_SCHEMA)
    except jsonschema.ValidationError as error:
        raise AssertionError(f"not EMF: {error.message} at {list(error.absolute_path)}") from None
    size = len(json.dumps(document).encode())
    assert size <= MAX_DOCUMENT_BYTES, f"EMF document of {size} bytes"
    for directive in document["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            for key in dimension_set:
                assert key in document, f"dimension {key!r} is not a member of the root node"
                assert isinstance(document[key], str), f"dimension {key!r} is not a string"
        for metric in directive["Metrics"]:
            name = metric["Name"]
            assert name in document, f"metric {name!r} is not a member of the root node"
            value = document[name]
            values = value if isinstance(value, list) else [value]
            assert len(values) <= 100, f"metric {name!r} has over 100 values"
            for number in values:
                numeric = isinstance(number, int | float) and not isinstance(number, bool)
                assert numeric, f"metric {name!r} is not numeric: {number!r}"
                assert math.isfinite(number), f"metric {name!r} is not finite: {number!r}"
