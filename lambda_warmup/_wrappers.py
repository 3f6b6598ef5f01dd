"""A ``def`` decorator's wrapper around an ``async def`` handler, made to wait for it.

Powertools' decorators (``Logger.inject_lambda_context``, ``Metrics.log_metrics``,
``Tracer.capture_lambda_handler``, ``event_source``) wrap with a plain ``def`` that calls the
handler and does its own work after the call returns: flush the metrics, close the
``## handler`` subsegment, record the response or the error. Around an ``async def`` the call
returns a coroutine at once, so that work would happen before the handler had run. Below
``@warm_handler`` such a chain is rebuilt: copies of the wrappers, the innermost calling a
``def`` that runs the handler on the warm loop and returns its result, as it would with the
decorators above ``@warm_handler``. The user's own functions are not changed.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable
from typing import Any

#: Deeper than any real stack of decorators; guards against a ``__wrapped__`` cycle.
_MAX_DEPTH = 32


def wraps_async(func: Callable[..., Any]) -> bool:
    """Whether ``func`` is a ``def`` whose ``__wrapped__`` chain ends in an ``async def``."""
    inner: Any = func
    for _ in range(_MAX_DEPTH):
        inner = getattr(inner, "__wrapped__", None)
        if inner is None:
            return False
        if inspect.iscoroutinefunction(inner):
            return True
    return False


def rebuild_waiting(
    func: Callable[..., Any],
    waiting: Callable[[Callable[..., Any]], Callable[..., Any]],
) -> Callable[..., Any] | None:
    """``func``'s chain of wrappers, copied, with ``waiting(handler)`` in place of the handler.

    ``None`` when a wrapper does not hold the next one in its closure (a class instance, a
    ``partial``...): the caller then awaits what the chain returns instead.
    """
    chain: list[types.FunctionType] = []
    inner: Any = func
    while not inspect.iscoroutinefunction(inner):
        if not isinstance(inner, types.FunctionType) or len(chain) >= _MAX_DEPTH:
            return None
        chain.append(inner)
        inner = getattr(inner, "__wrapped__", None)
        if inner is None:
            return None
    replacement = waiting(inner)
    for wrapper in reversed(chain):
        copied = _with_inner(wrapper, inner, replacement)
        if copied is None:
            return None
        inner, replacement = wrapper, copied
    return replacement


def _with_inner(
    wrapper: types.FunctionType, old: object, new: Callable[..., Any]
) -> types.FunctionType | None:
    """A copy of ``wrapper`` whose closure holds ``new`` where it held ``old``."""
    cells = wrapper.__closure__ or ()
    if not any(_holds(cell, old) for cell in cells):
        return None
    closure = tuple(types.CellType(new) if _holds(cell, old) else cell for cell in cells)
    copied = types.FunctionType(
        wrapper.__code__, wrapper.__globals__, wrapper.__name__, wrapper.__defaults__, closure
    )
    copied.__kwdefaults__ = wrapper.__kwdefaults__
    copied.__qualname__ = wrapper.__qualname__
    copied.__module__ = wrapper.__module__
    copied.__doc__ = wrapper.__doc__
    copied.__dict__.update(wrapper.__dict__)
    copied.__wrapped__ = new  # type: ignore[attr-defined]
    return copied


def _holds(cell: types.CellType, value: object) -> bool:
    try:
        return cell.cell_contents is value
    except ValueError:  # an empty cell
        return False
