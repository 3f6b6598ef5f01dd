"""The errors ``warm_asgi`` raises."""

from __future__ import annotations

from ..exceptions import WarmupError


class UnsupportedEventError(WarmupError, ValueError):
    """The handler was invoked with an event that is not an HTTP event it knows (API Gateway REST
    or HTTP API, a function URL, an ALB target); the invocation fails, the function keeps
    serving."""


class LifespanError(WarmupError):
    """The app's ASGI lifespan startup failed (``lifespan.startup.failed``, or it raised after
    receiving ``lifespan.startup``), or the app does not support the lifespan and
    ``lifespan="on"`` requires it. Raised in the lifespan's init, so it is reported and retried
    as a required init's failure."""
