"""The inits' metrics as one CloudWatch Embedded Metric Format document (``WARMUP_METRICS=emf``).

Written to stdout as one line when the inits settle (after the report, so the hold is never
longer for it); on Lambda, CloudWatch Logs extracts the metrics from it. One document per INIT
(per worker process on Lambda Managed Instances), in the namespace
``POWERTOOLS_METRICS_NAMESPACE`` (default ``lambda-warmup``), with one dimension, ``service``
(``POWERTOOLS_SERVICE_NAME``, default ``service_undefined``), as Powertools' own metrics have:

- per init: ``Init.<name>.Duration`` (Milliseconds), ``Init.<name>.Attempts`` and
  ``Init.<name>.Failed`` (Count, 0 or 1);
- ``InitsDuration`` (Milliseconds): from the first init's start to the last one's settling;
- ``InitsFailed`` (Count): how many inits failed;
- ``ProcessToSettled`` (Milliseconds): from the runtime process's start to the inits' settling,
  the part of INIT the library sees (absent where ``/proc`` cannot tell the start);
- ``ColdStart`` (Count): 1 when the INIT is on-demand (a request waits for it), else 0.

The INIT's held time is the extension's to measure: with ``WARMUP_METRICS=emf`` it writes its
own document, ``InitHeld`` (README's "Telemetry"). ``InitType`` (the initialization type) is a
plain member of the document, not a dimension (a dimension would make a metric per type).

Loaded only when ``WARMUP_METRICS=emf``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import _constants as c

if TYPE_CHECKING:
    from ._handles import InitHandle
    from ._report import Report
    from ._settings import Settings

#: The specification's limits: 100 metrics per directive, names of 1-255 characters.
MAX_METRICS_PER_DIRECTIVE = 100
MAX_NAME_CHARS = 255
SERVICE_DIMENSION = "service"


def init_metrics_document(
    handles: Sequence[InitHandle[Any]], report: Report, settings: Settings
) -> dict[str, Any]:
    """The EMF document for one INIT's inits."""
    values: dict[str, float] = {}
    units: dict[str, str] = {}

    def put(name: str, value: float, unit: str) -> None:
        name = name[:MAX_NAME_CHARS]
        values[name] = value
        units[name] = unit

    for handle in handles:
        failed = handle.state != "ok"
        put(
            f"Init.{handle.name}.Duration",
            round((handle.duration or 0.0) * 1000, 1),
            "Milliseconds",
        )
        put(f"Init.{handle.name}.Attempts", handle.attempts, "Count")
        put(f"Init.{handle.name}.Failed", int(failed), "Count")
    put("InitsDuration", report["duration_ms"], "Milliseconds")
    put("InitsFailed", sum(handle.state != "ok" for handle in handles), "Count")
    since_start = _ms_since_process_start()
    if since_start is not None:
        put("ProcessToSettled", round(since_start, 1), "Milliseconds")
    put("ColdStart", int(settings.init_type == c.ON_DEMAND), "Count")

    names = list(values)
    directives = [
        {
            "Namespace": settings.metrics_namespace,
            "Dimensions": [[SERVICE_DIMENSION]],
            "Metrics": [{"Name": name, "Unit": units[name]} for name in chunk],
        }
        for chunk in (
            names[i : i + MAX_METRICS_PER_DIRECTIVE]
            for i in range(0, len(names), MAX_METRICS_PER_DIRECTIVE)
        )
    ]
    return {
        "_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": directives},
        SERVICE_DIMENSION: settings.service,
        "InitType": settings.init_type,
        "status": report["status"],
        **values,
    }


def emit_init_metrics(
    handles: Sequence[InitHandle[Any]], report: Report, settings: Settings
) -> None:
    """Write the document as one line on stdout, where Lambda's log capture takes it."""
    document = init_metrics_document(handles, report, settings)
    line = json.dumps(document, separators=(",", ":")) + "\n"
    try:
        sys.stdout.write(line)
        sys.stdout.flush()
    except (OSError, ValueError):
        pass  # a closed stdout loses the metrics, never the function


def _ms_since_process_start() -> float | None:
    """Milliseconds since this process started (``/proc/self/stat`` against CLOCK_BOOTTIME)."""
    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        started_s = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: start, in ticks
        return (time.clock_gettime(time.CLOCK_BOOTTIME) - started_s) * 1000
    except (OSError, ValueError, IndexError, AttributeError):
        return None
