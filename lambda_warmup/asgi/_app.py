"""``warm_asgi``: an ASGI app as a Lambda handler, its lifespan a warm init."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..exceptions import SettingsError
from ._bodies import text_media_types as check_text_media_types
from ._cycle import http_scope, run_request
from ._events import event_format
from ._lifespan import LifespanCycle
from ._types import ASGIApp, LifespanMode

if TYPE_CHECKING:
    from .._handles import InitHandle
    from .._warmup import Warmup

type LambdaHandler = Callable[[Any, Any], dict[str, Any]]

_MODES = ("auto", "on", "off")


def warm_asgi(
    app: ASGIApp,
    *,
    lifespan: LifespanMode = "auto",
    name: str = "lifespan",
    text_media_types: Iterable[str] | None = None,
    warmup: Warmup | None = None,
) -> LambdaHandler:
    """The ASGI ``app`` as a Lambda handler (``handler = warm_asgi(app)``), on the warm loop.

    The app's lifespan startup runs now, as a ``@warm_init`` named ``name``: concurrently with
    the other inits, in the report, INIT held until it completes, and a failure reported (and
    retried at the next invocation) as a required init's. What the startup puts in the lifespan
    state (Starlette/FastAPI: what the lifespan ``yield``s) reaches every request as
    ``request.state``. The shutdown runs at SIGTERM, within ``WARMUP_SHUTDOWN_TIMEOUT``.

    - ``lifespan``: ``"auto"`` (an app without lifespan support is served without it), ``"on"``
      (such an app fails the init), ``"off"`` (never run it).
    - ``text_media_types``: response types answered as text (else base64): ``"text/"`` a prefix,
      ``"+json"`` a suffix, others exact; default ``DEFAULT_TEXT_MEDIA_TYPES``.
    - ``warmup``: the ``Warmup`` to declare the init with (default: ``default_warmup``).

    Events: API Gateway REST API and HTTP API (payload 1.0 and 2.0), function URLs, ALB
    (single- or multi-value headers). Any other raises ``UnsupportedEventError``.
    """
    if lifespan not in _MODES:
        raise SettingsError(
            f"warm_asgi: lifespan={lifespan!r} is not a lifespan mode; use 'auto', 'on' or 'off'"
        )
    if not callable(app):
        raise TypeError(f"warm_asgi takes an ASGI app (async callable), got {app!r}")
    text_types = check_text_media_types(text_media_types)
    if warmup is None:
        from .. import default_warmup

        warmup = default_warmup
    state_of = _declare_lifespan(app, lifespan, name, warmup)

    async def asgi_handler(event: Any, context: Any) -> dict[str, Any]:
        source = event_format(event)
        request = source.request(event)
        scope = http_scope(request, state_of(), event, context)
        response = await run_request(app, scope, request.body)
        return source.response(event, response, text_types)

    return warmup.handler(asgi_handler)


def _declare_lifespan(
    app: ASGIApp, mode: LifespanMode, name: str, warmup: Warmup
) -> Callable[[], dict[str, Any]]:
    """Declare the lifespan's init; a function giving its state once it is done."""
    if mode == "off":
        return dict

    loop = warmup._loop  # the cycle's app task must outlive the init's own task

    async def lifespan_startup() -> AsyncIterator[dict[str, Any]]:
        cycle = LifespanCycle(app, mode)
        loop.start_soon(cycle.run)
        try:
            state = await cycle.startup()
        except BaseException:
            cycle.abandon()
            raise
        yield state
        await cycle.shutdown()

    handle: InitHandle[dict[str, Any]] = warmup.init(name=name)(lifespan_startup)
    return lambda: handle.value
