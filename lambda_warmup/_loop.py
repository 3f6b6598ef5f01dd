"""The warm loop: one asyncio event loop in a daemon thread that lives as long as the sandbox.

Every init and every async handler runs on it, so clients and pools made during INIT stay
bound to a loop that is still running when the handler uses them.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import sys
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from typing import TYPE_CHECKING, Any

from ._constants import LOOP_THREAD_NAME
from .exceptions import InitWaitTimeoutError

if TYPE_CHECKING:
    # At run time only once the loop starts (with ._aio): ~20 ms that import need not pay.
    import asyncio


class WarmLoop:
    """Starts the loop on first use; ``close()`` stops it (cancelling what still runs)."""

    def __init__(self, on_exit: Callable[[], object] | None = None) -> None:
        self._on_exit = on_exit or self.close
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._thread_id: int | None = None
        self._asyncio_loop: asyncio.AbstractEventLoop | None = None
        #: Resolved to stop the loop: its root task then cancels the tracked tasks and ends.
        self._stopping: asyncio.Future[None] | None = None
        #: The tasks ``start_soon`` made, until they end: cancelled when the loop closes.
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def running(self) -> bool:
        return self._asyncio_loop is not None

    def in_loop_thread(self) -> bool:
        return threading.get_ident() == self._thread_id

    def event_loop(self) -> asyncio.AbstractEventLoop:
        """The running loop, started first if need be (never waits for it to answer)."""
        loop = self._asyncio_loop
        if loop is not None:
            return loop
        with self._lock:
            if self._asyncio_loop is None:
                from ._aio import start_loop_thread

                loop, thread, self._stopping = start_loop_thread(
                    self._serve_until_stopped, LOOP_THREAD_NAME
                )
                self._thread, self._thread_id = thread, thread.ident
                self._asyncio_loop = loop
                _close_before_thread_joins(self._on_exit)
            return self._asyncio_loop

    async def _serve_until_stopped(self, stopping: asyncio.Future[None]) -> None:
        """Serve until ``stopping`` is resolved (``close()``), then cancel the tracked tasks: the
        thread's root task, or a borrowed loop's serving task."""
        from ._aio import cancel_tasks

        try:
            await stopping
        finally:
            await cancel_tasks(self._tasks)

    def start_soon(
        self, func: Callable[[], Coroutine[Any, Any, Any]], *, name: str | None = None
    ) -> None:
        """Run ``func()`` as a task on the loop, cancelled if still running when the loop closes;
        never waits for the loop.

        A loop blocked by a misbehaving init never blocks the handler module's import with it.
        ``name`` names the task (``taskName`` on a log line); the task runs in a copy of the
        caller's ``contextvars`` context (``call_soon_threadsafe`` copies it in the calling
        thread, and ``create_task`` copies that).
        """
        self._start(func, name or _name_of(func), None)

    def _start(
        self,
        func: Callable[[], Coroutine[Any, Any, Any]],
        name: str,
        future: Future[Any] | None,
    ) -> None:
        loop = self.event_loop()
        loop.call_soon_threadsafe(self._create_task, loop, func, name, future)

    def _create_task(
        self,
        loop: asyncio.AbstractEventLoop,
        func: Callable[[], Coroutine[Any, Any, Any]],
        name: str,
        future: Future[Any] | None,
    ) -> None:
        """On the loop: start ``func()`` as a tracked task (see ``_serve_until_stopped``)."""
        task = loop.create_task(func(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        if future is not None:  # a task cancelled before its first step never runs its body
            task.add_done_callback(lambda _: future.cancel())

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            # Reported at once rather than when the task is collected (if ever).
            task.get_loop().call_exception_handler(
                {
                    "message": f"lambda-warmup: task {task.get_name()!r} failed",
                    "exception": error,
                    "task": task,
                }
            )

    def call[T](
        self,
        func: Callable[[], Awaitable[T]],
        *,
        timeout: float | None = None,
        start_timeout: float | None = None,
        name: str | None = None,
    ) -> T:
        """Run ``func()`` on the loop and wait for its result (from any thread but the loop's).

        ``start_timeout`` bounds the wait for the loop to start running it, ``timeout`` the
        whole wait: past either, the loop is blocked (``func`` cannot have run, or cannot
        finish its own bounded wait), and ``InitWaitTimeoutError`` says where the loop is stuck.
        The task is named ``name`` (default: ``func``'s qualified name) and sees the caller's
        context variables.
        """
        if self.in_loop_thread():
            raise RuntimeError("lambda-warmup: blocking call made on the warm loop; await instead")
        future: Future[T] = Future()

        async def run() -> None:
            # Under the future's lock, as the caller's ``cancel()``: either the caller gave up
            # and ``func`` never runs, or it runs and the caller waits for it.
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(await func())
            except BaseException as error:  # delivered to the caller, not to the loop
                future.set_exception(error)
                if not isinstance(error, Exception):
                    raise

        deadline = None if timeout is None else time.monotonic() + timeout
        self._start(run, name or _name_of(func), future)
        if start_timeout is not None:
            try:  # one wait for the common case: the result within the start's bound
                return future.result(
                    start_timeout if timeout is None else min(start_timeout, timeout)
                )
            except FutureTimeoutError:
                if future.done():  # func's own TimeoutError (the same class since Python 3.11)
                    raise
                if future.cancel():  # not started, and now never will
                    raise InitWaitTimeoutError(self._blocked(start_timeout)) from None
        try:  # it is running: the rest of ``timeout``, if any
            return future.result(
                None if deadline is None else max(0.0, deadline - time.monotonic())
            )
        except FutureTimeoutError:
            if future.done():
                raise
            future.cancel()  # if it has not started yet, it never will
            raise InitWaitTimeoutError(self._blocked(timeout)) from None

    def _blocked(self, waited: float | None) -> str:
        frame = sys._current_frames().get(self._thread_id or -1)
        where = "unknown"
        if frame is not None:
            summary = traceback.extract_stack(frame)[-3:]
            where = " <- ".join(
                f"{entry.name} ({entry.filename}:{entry.lineno})" for entry in reversed(summary)
            )
        return (
            f"the warm loop did not answer within {waited:.3f} s: it is blocked, most likely by a "
            "blocking call in an async init or handler (make it a def init, or wrap the call in "
            f"asyncio.to_thread); the loop thread is at {where}"
        )

    def close(self) -> None:
        """Cancel every task still on the loop, stop it and join its thread."""
        with self._lock:
            loop, thread, stopping = self._asyncio_loop, self._thread, self._stopping
            self._asyncio_loop = self._thread = self._stopping = None
            self._thread_id = None
        if loop is None or thread is None or stopping is None:
            return
        from ._aio import resolve  # loaded with the loop

        with contextlib.suppress(RuntimeError):  # the loop has stopped already
            loop.call_soon_threadsafe(resolve, stopping)
        if thread is not threading.current_thread():
            thread.join()


def _close_before_thread_joins(close: Callable[[], object]) -> None:
    """Stop the loop (``close``: the teardowns, within their budget) when the interpreter
    exits, before it joins non-daemon threads.

    The loop's thread and the library's worker threads are daemons, but threads the inits
    started are not always: anyio's worker threads (``anyio.to_thread`` in an init) end only
    when the loop's root task does, and a server an init started ends at its teardown, so a loop
    left running would hang a normal interpreter exit. ``threading._register_atexit`` is what
    ``concurrent.futures`` uses for the same reason; plain ``atexit`` runs only after the join,
    too late.
    """
    register = getattr(threading, "_register_atexit", None)
    try:
        if register is not None:
            register(close)
        else:  # pragma: no cover - a future Python without the hook
            atexit.register(close)
    except RuntimeError:  # the interpreter is already shutting down
        pass


def _name_of(func: Callable[..., Any]) -> str:
    """A task's name: the function's qualified name (a ``partial``'s function's), so that
    ``taskName`` on a log line says whose code logged it."""
    while isinstance(func, functools.partial):
        func = func.func
    return str(getattr(func, "__qualname__", None) or repr(func))


class BorrowedLoop(WarmLoop):
    """A warm loop served by a task on an event loop someone else runs, not by a thread of its own.

    For tests (``lambda_warmup.testing``): the inits run on the test's own asyncio loop, so the
    test can await what they made. ``start()`` (awaited on that loop) serves it, ``stop()`` ends
    it; in between it behaves as a ``WarmLoop``: a caller in another thread (a handler invoked as
    the runtime does) hops onto the loop and waits.
    """

    def __init__(self) -> None:
        super().__init__(on_exit=_nothing)  # no thread of its own to stop at interpreter exit
        self._host: asyncio.Task[None] | None = None
        self._started: list[_Started] = []

    def start_soon(
        self, func: Callable[[], Coroutine[Any, Any, Any]], *, name: str | None = None
    ) -> None:
        """As ``WarmLoop.start_soon``, as a task that ``cancel(func)`` cancels."""
        started = _Started(func)
        self._started.append(started)
        super().start_soon(started.run, name=name or _name_of(func))

    def cancel(self, func: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        """On the loop: cancel what was started with ``func`` (a bound method equals itself).

        At a test's end, an init still running is cancelled before the teardowns of the inits
        it awaits: a teardown that waits for its clients (a server's) would wait for it.
        """
        for started in self._started:
            if started.func == func:
                started.cancel()

    def event_loop(self) -> asyncio.AbstractEventLoop:
        loop = self._asyncio_loop
        if loop is None:
            raise RuntimeError(
                "lambda-warmup: this Warmup runs on a borrowed event loop that is not serving it "
                "(its test has not started yet, or is over)"
            )
        return loop

    def call[T](self, func: Callable[[], Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        if self.in_loop_thread():
            # WarmLoop's own message says "await instead", which means nothing to a test that
            # called a handler: the loop it would block is the test's.
            raise RuntimeError(
                "lambda-warmup: a handler (or run) called on the event loop the inits run on, "
                "which is this test's: it would block the loop it waits for. Call it as "
                "Lambda's runtime does, from another thread: "
                "await lambda_warmup.testing.invoke(handler, event)"
            )
        return super().call(func, *args, **kwargs)

    async def start(self) -> None:
        """Serve from the running loop until ``stop()``, in a task of its own.

        A task, not a context the caller enters: pytest-asyncio sets a fixture up and tears it
        down in two tasks, and a task group or a timeout must be left by the task that entered
        it.
        """
        import asyncio  # the caller's loop runs: loaded already

        if self._host is not None:
            raise RuntimeError("lambda-warmup: this borrowed loop is already serving")
        loop = asyncio.get_running_loop()
        serving = loop.create_future()
        self._host = host = loop.create_task(self._serve(serving), name="lambda-warmup-borrowed")
        await asyncio.wait([serving, host], return_when=asyncio.FIRST_COMPLETED)
        if not serving.done():
            serving.cancel()
            await host  # it ended before serving: its exception

    async def stop(self) -> None:
        """Cancel every task still on it and wait until it has stopped serving."""
        host, self._host = self._host, None
        self.close()
        if host is not None:
            await host

    def close(self) -> None:
        """Cancel every task still on the loop; the loop itself is its owner's and runs on."""
        loop, stopping = self._asyncio_loop, self._stopping
        if loop is None or stopping is None:
            return
        from ._aio import resolve

        if self.in_loop_thread():
            resolve(stopping)  # its _serve then cancels the tracked tasks
        else:
            loop.call_soon_threadsafe(resolve, stopping)

    async def _serve(self, serving: asyncio.Future[None]) -> None:
        import asyncio

        loop = asyncio.get_running_loop()
        self._stopping = stopping = loop.create_future()
        self._thread_id = threading.get_ident()
        self._asyncio_loop = loop
        serving.set_result(None)
        try:
            await self._serve_until_stopped(stopping)
        finally:
            self._asyncio_loop = self._stopping = None
            self._thread_id = None


class _Started:
    """A task a borrowed loop started, which its owner may cancel (even before it starts)."""

    def __init__(self, func: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        self.func = func
        self._task: asyncio.Task[Any] | None = None
        self._cancelled = False

    async def run(self) -> None:
        import asyncio

        self._task = task = asyncio.current_task()
        if self._cancelled and task is not None:
            task.cancel()  # cancelled before it started: ``func`` ends at its first await
        await self.func()

    def cancel(self) -> None:
        self._cancelled = True
        if self._task is not None:
            self._task.cancel()


def _nothing() -> None:
    pass
