"""The HTTP answers both APIs give, worded as rapid (Lambda's and RIE's API server) words them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ._http import Response

__all__ = [
    "NOT_FOUND",
    "error",
    "invalid_state",
    "json_body",
    "json_field",
    "json_response",
    "timeout_error",
]


def json_response(status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()) -> Response:
    return Response(
        status, json.dumps(payload).encode(), [("Content-Type", "application/json"), *headers]
    )


def error(status: int, error_type: str, message: str) -> Response:
    return json_response(status, {"errorMessage": message, "errorType": error_type})


NOT_FOUND = Response(404, b"404 page not found\n", [("Content-Type", "text/plain; charset=utf-8")])
"""What rapid (a Go ``http.ServeMux``) answers for a path it does not serve."""


def invalid_state(src: str, dst: str, who: str = "runtime") -> Response:
    return error(
        403,
        "InvalidStateTransition",
        f"State transition from {src} to {dst} failed for {who}. "
        "Error: State transition is not allowed",
    )


def json_body(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def json_field(body: bytes, name: str) -> str | None:
    value = (json_body(body) or {}).get(name)
    return value if isinstance(value, str) else None


def timeout_error(request_id: str, timeout_s: float) -> bytes:
    """The error document of an invocation that ran out of time."""
    return json.dumps(
        {
            "errorType": "Sandbox.Timedout",
            "errorMessage": (
                f"RequestId: {request_id} Error: Task timed out after {timeout_s:.2f} seconds"
            ),
        }
    ).encode()
