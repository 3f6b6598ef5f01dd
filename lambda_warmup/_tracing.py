"""One X-Ray subsegment per init (``WARMUP_TRACING``: ``xray``, or ``auto`` where the function
loaded the SDK), through the X-Ray SDK's recorder,
the one Powertools' Tracer wraps.

During INIT there is no trace to join (Lambda gives the trace id with each invocation), so the
inits' subsegments are recorded at the first invocation after they settled, with the inits' own
start and end times: on an on-demand cold start they sit beside Lambda's ``Initialization``
subsegment in that request's trace. Each is named ``## init <name>``, is a child of the trace
entity current at that moment (the function's segment, or Tracer's handler subsegment when its
decorator is outside ``@warm_handler``), and carries the annotations ``init``,
``init_status`` and ``init_attempts``; a failed init's subsegment has its error (``fault``).

Loaded only when tracing is on; nothing is recorded when the SDK is not installed or
no trace is current (one log line says which).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._timeline import epoch_ms

if TYPE_CHECKING:
    from ._handles import InitHandle

logger = logging.getLogger("lambda_warmup")

SUBSEGMENT_PREFIX = "## init "


def record_init_subsegments(handles: Sequence[InitHandle[Any]]) -> int:
    """Record a subsegment for each settled init; how many were recorded."""
    try:
        from aws_xray_sdk.core import xray_recorder  # type: ignore[import-untyped]
    except ImportError:
        logger.warning(
            "lambda-warmup: WARMUP_TRACING=xray, but aws_xray_sdk (or Powertools' tracer) is "
            "not installed; no init subsegments"
        )
        return 0
    if xray_recorder.get_trace_entity() is None:
        logger.warning("lambda-warmup: no X-Ray trace is current; no init subsegments")
        return 0
    recorded = 0
    for handle in handles:
        started, finished = handle.started_at, handle.finished_at
        if started is None or finished is None:
            continue
        subsegment = xray_recorder.begin_subsegment(SUBSEGMENT_PREFIX + handle.name)
        if subsegment is None:
            return recorded
        try:
            subsegment.start_time = epoch_ms(started) / 1000
            subsegment.put_annotation("init", handle.name)
            subsegment.put_annotation("init_status", handle.state)
            subsegment.put_annotation("init_attempts", handle.attempts)
            if handle.error is not None:
                subsegment.add_exception(handle.error, [])
        finally:
            xray_recorder.end_subsegment(epoch_ms(finished) / 1000)
        recorded += 1
    return recorded
