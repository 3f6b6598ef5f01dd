"""The INIT timeline as log fields: when each init ran, its attempts, and what it waited for.

The summary line logged when the inits settle carries these fields (``event: inits_settled``);
with ``AWS_LAMBDA_LOG_FORMAT=JSON`` awslambdaric writes them as keys of the line's JSON object,
and ``local invoke --timeline`` draws them. Times are epoch milliseconds (``time.time() * 1000``,
the clock the sandbox's records use): spans measured on ``time.perf_counter()`` are converted by
one offset, taken once, so that they stay consistent with each other.

Loaded when the inits settle, never by ``import lambda_warmup``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._report import init_entry

if TYPE_CHECKING:
    from ._handles import InitHandle

#: ``time.time() - time.perf_counter()``, taken once (at this module's first import).
_EPOCH_OFFSET_S = time.time() - time.perf_counter()


def epoch_ms(perf_counter: float) -> float:
    """A ``time.perf_counter()`` instant as epoch milliseconds, to 0.1 ms."""
    return round((perf_counter + _EPOCH_OFFSET_S) * 1000, 1)


def init_fields(handle: InitHandle[Any]) -> dict[str, Any]:
    """One init as the ``inits`` list of the ``inits_settled`` line shows it: its entry in the
    report, and when it ran."""
    started = handle.started_at
    return {
        **init_entry(handle),
        "started_ms": epoch_ms(started) if started is not None else None,
        "attempt_spans": [[epoch_ms(a), epoch_ms(b)] for a, b in handle.attempt_spans],
        "waits": [
            {"on": name, "start_ms": epoch_ms(a), "end_ms": epoch_ms(b)}
            for name, a, b in handle.waits
        ],
    }


def settled_fields(
    handles: Sequence[InitHandle[Any]],
    status: str,
    duration_ms: float,
    import_done: float | None,
) -> dict[str, Any]:
    """The fields of the ``inits_settled`` line. ``import_done``: ``time.perf_counter()`` when
    the library saw the handler module's import finish, or ``None``."""
    return {
        "event": "inits_settled",
        "status": status,
        "duration_ms": duration_ms,
        "import_done_ms": epoch_ms(import_done) if import_done is not None else None,
        "inits": [init_fields(handle) for handle in handles],
    }
