"""What a sample logged and measured with Powertools, shortened for the demo's output: an
invocation's Logger line without the keys every line carries, and its EMF metrics as name=value.
The demo's log file keeps every line whole."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Collection, Iterable
from typing import Any

from .runner import Outcome

#: Keys on every Powertools Logger line, left out here.
_EVERY_LINE = {
    "level",
    "message",
    "timestamp",
    "location",
    "function_name",
    "function_memory_size",
    "function_arn",
    "xray_trace_id",
    "taskName",
}
_WIDTH = 100


def _objects(lines: Iterable[str]) -> list[dict[str, Any]]:
    """The lines that are JSON objects; text lines (the runtime's, the extension's) are not."""
    found = []
    for line in lines:
        if line.startswith("{"):
            try:
                parsed = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(parsed, dict):
                found.append(parsed)
    return found


def _log_line(record: dict[str, Any], keys: Collection[str] | None) -> str:
    fields = " ".join(
        f"{key}={json.dumps(value)}"
        for key, value in record.items()
        if key not in _EVERY_LINE and (keys is None or key in keys)
    )
    return f"{record['level']} {record['message']}: {fields}"


def _metrics_line(documents: list[dict[str, Any]]) -> str:
    namespaces: dict[str, list[str]] = {}
    for doc in documents:
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = doc[metric["Name"]]
                values = value if isinstance(value, list) else [value]
                shown = ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)
                namespaces.setdefault(directive["Namespace"], []).append(
                    f"{metric['Name']}={shown}"
                )
    return "; ".join(f"EMF {ns}: {' '.join(metrics)}" for ns, metrics in namespaces.items())


def invocation_lines(
    label: str, lines: Iterable[str], keys: Collection[str] | None = None
) -> list[str]:
    """``label``, then the invocation's Logger lines (only ``keys`` of them, if given) and its
    metrics, wrapped to the page."""
    objects = _objects(lines)
    records = [o for o in objects if "_aws" not in o and {"level", "message"} <= o.keys()]
    documents = [o for o in objects if "_aws" in o]
    texts = [_log_line(r, keys) for r in records]
    if documents:
        texts.append(_metrics_line(documents))
    indent = " " * (len(label) + 4)
    out: list[str] = []
    for n, text in enumerate(texts or ["(no Powertools output)"]):
        first = f"  {label}  " if n == 0 else indent
        out += textwrap.wrap(
            text,
            _WIDTH,
            initial_indent=first,
            subsequent_indent=indent + "  ",
            break_long_words=False,
            break_on_hyphens=False,
        )
    return out


def summary(outcome: Outcome) -> str:
    """The first invocation's Powertools output, and a warm one's cold start flag and metrics."""
    scenario = outcome.scenario
    where = (
        f"{scenario.label.split()[0]} sample, {scenario.init_type}, "
        f"{'with' if scenario.hold else 'without'} the hold"
    )
    out = [f"What the function logged and measured with Powertools ({where}):"]
    out += invocation_lines("1st invocation ", outcome.invocations[0].logs)
    if len(outcome.invocations) > 1:
        out += invocation_lines("warm invocation", outcome.invocations[-1].logs, ["cold_start"])
    return "\n".join(out) + "\n"
