"""The X-Ray SDK's trace entities across the hop from the runtime's thread to the warm loop.

The SDK keeps the open segment and subsegments in a ``threading.local`` (``LambdaContext`` on
Lambda, ``Context`` elsewhere), so on the warm loop's thread a handler would not see the
``## handler`` subsegment Powertools' Tracer opened in the runtime's thread, and tasks
interleaving at ``await`` would push and pop each other's subsegments. Once the SDK is loaded,
``carry`` gives the recorder's context a store that is the thread's own everywhere but on the
warm loop, where each task has its own (a child task starts with a copy of its parent's, as the
SDK's own ``AsyncContext`` does), and hands the caller's entities to the task it starts.

Nothing here imports the SDK: it is used only when the function has imported it.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from ._constants import LOOP_THREAD_NAME


class _Slot:
    """One task's entities (``segment``, ``entities``: what the SDK sets on its local)."""

    __slots__ = ("namespace", "task")

    def __init__(self, task: object, namespace: dict[str, Any]) -> None:
        self.task = task
        self.namespace = namespace


_slot: ContextVar[_Slot | None] = ContextVar("lambda_warmup_xray_entities", default=None)


class LoopLocal:
    """Stands in for the SDK context's ``threading.local`` (its ``_local``)."""

    __slots__ = ("_thread_local",)

    def __init__(self, thread_local: threading.local) -> None:
        object.__setattr__(self, "_thread_local", thread_local)

    @property
    def __dict__(self) -> dict[str, Any]:  # type: ignore[override]  # clear_trace_entities
        return _namespace(self._thread_local)

    def __getattr__(self, name: str) -> Any:
        try:
            return _namespace(self._thread_local)[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        _namespace(self._thread_local)[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del _namespace(self._thread_local)[name]
        except KeyError:
            raise AttributeError(name) from None


def _namespace(thread_local: threading.local) -> dict[str, Any]:
    if threading.current_thread().name != LOOP_THREAD_NAME:  # where the store is per task
        return thread_local.__dict__
    import asyncio  # on the loop's thread, loaded by the loop already

    task = asyncio.current_task()
    slot = _slot.get()
    if slot is None or slot.task is not task:  # a new task: a copy of what its creator had
        slot = _Slot(task, _copy(slot.namespace) if slot is not None else {})
        _slot.set(slot)
    return slot.namespace


def _copy(namespace: dict[str, Any]) -> dict[str, Any]:
    """The SDK appends to and pops from ``entities`` in place: each task gets its own list."""
    copied = dict(namespace)
    if isinstance(copied.get("entities"), list):
        copied["entities"] = list(copied["entities"])
    return copied


def carry[R](func: Callable[[], Awaitable[R]]) -> Callable[[], Awaitable[R]]:
    """``func`` to run on the warm loop with the calling thread's open X-Ray entities.

    Called in the runtime's (or any caller's) thread just before the hop. ``func`` itself when
    the X-Ray SDK is not loaded, or its recorder keeps entities in something other than a
    ``threading.local`` (its ``AsyncContext`` is task-aware already).
    """
    core = sys.modules.get("aws_xray_sdk.core")
    context = getattr(getattr(core, "xray_recorder", None), "context", None)
    local = getattr(context, "_local", None)
    if isinstance(local, threading.local):
        local = LoopLocal(local)
        context._local = local  # type: ignore[union-attr]
    if not isinstance(local, LoopLocal):
        return func
    caller = _copy(dict(_namespace(local._thread_local)))

    async def with_caller_entities() -> R:
        import asyncio

        _slot.set(_Slot(asyncio.current_task(), caller))
        return await func()

    return with_caller_entities
