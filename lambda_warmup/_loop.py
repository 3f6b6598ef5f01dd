"""The warm loop: one anyio event loop in a daemon thread that lives as long as the sandbox.

Every init and every async handler runs on it, so clients and pools made during INIT stay
bound to a loop that is still running when the handler uses them.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any

from anyio.from_thread import BlockingPortal, start_blocking_portal

from ._constants import LOOP_THREAD_NAME


class WarmLoop:
    """Starts the loop on first use; ``close()`` stops it (cancelling what still runs)."""

    def __init__(self, on_exit: Callable[[], object] | None = None) -> None:
        self._on_exit = on_exit or self.close
        self._lock = threading.Lock()
        self._stack: contextlib.ExitStack | None = None
        self._portal: BlockingPortal | None = None
        self._thread_id: int | None = None

    @property
    def running(self) -> bool:
        return self._portal is not None

    def in_loop_thread(self) -> bool:
        return threading.get_ident() == self._thread_id

    def portal(self) -> BlockingPortal:
        portal = self._portal
        if portal is not None:
            return portal
        with self._lock:
            if self._portal is None:
                stack = contextlib.ExitStack()
                portal = stack.enter_context(
                    start_blocking_portal("asyncio", name=LOOP_THREAD_NAME)
                )
                self._thread_id = portal.call(_thread_ident)
                self._stack, self._portal = stack, portal
                _close_before_thread_joins(self._on_exit)
            return self._portal

    def start_soon(self, func: Callable[[], Awaitable[Any]]) -> Future[Any]:
        """Run ``func()`` as a task of the loop's root task group (thread-safe)."""
        return self.portal().start_task_soon(func)

    def call[T](self, func: Callable[[], Awaitable[T]]) -> T:
        """Run ``func()`` on the loop and wait for its result (from any thread but the loop's)."""
        if self.in_loop_thread():
            raise RuntimeError("lambda-warmup: blocking call made on the warm loop; await instead")
        return self.portal().call(func)

    def close(self) -> None:
        """Cancel every task still on the loop, stop it and join its thread."""
        with self._lock:
            stack, portal = self._stack, self._portal
            self._stack = self._portal = None
            self._thread_id = None
        if portal is None or stack is None:
            return
        with contextlib.suppress(RuntimeError):  # already stopped
            portal.call(portal.stop, True)
        stack.close()


def _close_before_thread_joins(close: Callable[[], object]) -> None:
    """Stop the loop when the interpreter exits, before it joins non-daemon threads.

    anyio's worker threads (sync inits, ``to_thread``) are not daemons and only end when their
    loop's root task does, so a loop left running would hang a normal interpreter exit.
    ``threading._register_atexit`` is what ``concurrent.futures`` uses for the same reason;
    plain ``atexit`` runs only after the join, too late.
    """
    register = getattr(threading, "_register_atexit", None)
    try:
        if register is not None:
            register(close)
        else:  # pragma: no cover - a future Python without the hook
            atexit.register(close)
    except RuntimeError:  # the interpreter is already shutting down
        pass


async def _thread_ident() -> int:
    return threading.get_ident()
