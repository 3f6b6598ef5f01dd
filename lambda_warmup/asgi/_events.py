"""Which HTTP source an event comes from, and the module that reads and answers it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import _alb, _http_api, _rest_api
from ._errors import UnsupportedEventError
from ._types import HttpRequest, HttpResponse


@dataclass(frozen=True)
class EventFormat:
    name: str
    request: Callable[[Mapping[str, Any]], HttpRequest]
    response: Callable[[Mapping[str, Any], HttpResponse, tuple[str, ...]], dict[str, Any]]


REST_API = EventFormat("API Gateway REST API (payload 1.0)", _rest_api.request, _rest_api.response)
HTTP_API = EventFormat(
    "HTTP API or function URL (payload 2.0)", _http_api.request, _http_api.response
)
ALB = EventFormat("Application Load Balancer", _alb.request, _alb.response)

_KNOWN = (
    "API Gateway REST API and HTTP API (payload 1.0 and 2.0), function URL and Application "
    "Load Balancer events"
)


def event_format(event: object) -> EventFormat:
    """The format of ``event``, or ``UnsupportedEventError`` naming what it has instead."""
    if not isinstance(event, Mapping):
        raise UnsupportedEventError(
            f"warm_asgi handles {_KNOWN}; this event is a {type(event).__name__}, not a JSON object"
        )
    context = event.get("requestContext")
    if isinstance(context, Mapping):
        if "elb" in context and "httpMethod" in event:
            return ALB
        if event.get("version") == "2.0" and isinstance(context.get("http"), Mapping):
            return HTTP_API
        if "httpMethod" in event and "path" in event:
            return REST_API
    keys = ", ".join(sorted(str(key) for key in event)[:12]) or "none"
    raise UnsupportedEventError(
        f"warm_asgi handles {_KNOWN}; this event is none of them (its keys: {keys}); invoke the "
        "function through one of those sources, or call the app's own code for other events"
    )
