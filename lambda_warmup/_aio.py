"""The warm loop's asyncio plumbing that the standard library lacks: the loop's own thread, worker
threads that a cancellation abandons, and cancelling a set of tasks until they have all ended.

Imported when the warm loop starts, never by ``import lambda_warmup``: asyncio comes with it
(~20 ms that a function's import need not pay). The rest of the library uses asyncio's own
primitives (``asyncio.timeout``, ``TaskGroup``, ``Event``) on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import Callable, Coroutine
from typing import Any

#: Name of the threads that run ``def`` inits, teardowns and hooks.
WORKER_THREAD_NAME = "lambda-warmup-worker"

#: Seconds between two cancellations of a task that outlives the first one (its ``finally``
#: awaits something): asyncio cancels once, where a cancel scope would cancel every await.
RECANCEL_INTERVAL = 0.05


def start_loop_thread(
    serve: Callable[[asyncio.Future[None]], Coroutine[Any, Any, None]], name: str
) -> tuple[asyncio.AbstractEventLoop, threading.Thread, asyncio.Future[None]]:
    """A new event loop running ``serve(stopping)`` in a daemon thread named ``name``, and
    ``stopping``: resolve it (with ``resolve``, on the loop) to have ``serve`` end, and the loop
    close.

    ``Thread.start`` returns once the thread has its ident, and ``call_soon_threadsafe`` queues
    work before the loop runs, so nothing here waits for the loop. ``serve`` is the loop's root
    task (``run_until_complete``), which is where anyio, used in an init, ends its own worker
    threads.
    """
    loop = asyncio.new_event_loop()
    stopping = loop.create_future()
    thread = threading.Thread(target=_run, args=(loop, serve(stopping)), name=name, daemon=True)
    thread.start()
    return loop, thread, stopping


def _run(loop: asyncio.AbstractEventLoop, main: Coroutine[Any, Any, None]) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(main)
    finally:
        try:
            # As asyncio.run: the tasks an init started on its own (a refresher) end first.
            loop.run_until_complete(cancel_tasks(asyncio.all_tasks(loop)))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            # Not shutdown_default_executor(): it would wait for a stuck asyncio.to_thread call.
            asyncio.set_event_loop(None)
            loop.close()


def resolve(future: asyncio.Future[None]) -> None:
    """Complete ``future`` unless it is done (a loop's stop signal, set at most once)."""
    if not future.done():
        future.set_result(None)


async def to_thread[T](func: Callable[..., T], /, *args: Any) -> T:
    """``func(*args)`` in a new daemon thread, in a copy of the caller's context variables.

    Cancelled, it returns at once and leaves the thread behind (anyio's
    ``abandon_on_cancel=True``): a stuck ``def`` init must not hold up a timeout, the shutdown
    or the interpreter's exit, which is why it is not ``asyncio.to_thread`` (its executor's
    threads are joined at exit).
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    context = contextvars.copy_context()

    def work() -> None:
        try:
            result = context.run(func, *args)
        except BaseException as error:  # delivered to the awaiting task, SystemExit included
            _deliver(loop, future, None, error)
        else:
            _deliver(loop, future, result, None)

    threading.Thread(target=work, name=WORKER_THREAD_NAME, daemon=True).start()
    return await future


def _deliver[T](
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[T],
    result: T | None,
    error: BaseException | None,
) -> None:
    with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits any more
        loop.call_soon_threadsafe(_settle, future, result, error)


def _settle[T](future: asyncio.Future[T], result: T | None, error: BaseException | None) -> None:
    if future.done():  # cancelled: the caller went on without it
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)  # type: ignore[arg-type]


async def cancel_tasks(tasks: set[asyncio.Task[Any]]) -> None:
    """Cancel every task in ``tasks`` and wait until they have ended, including tasks added to
    the set meanwhile (as a task group would); a task still running ``RECANCEL_INTERVAL`` after
    a cancellation is cancelled again. Ended tasks leave the set."""
    while tasks:
        pending = list(tasks)
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=RECANCEL_INTERVAL)
        tasks.difference_update(task for task in pending if task.done())
