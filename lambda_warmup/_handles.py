"""``InitHandle``: what a ``@warm_init`` function's name becomes."""

from __future__ import annotations

import contextlib
import inspect
import logging
import threading
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

from ._constants import MAX_BACKOFF
from ._graph import WaitGraph
from .exceptions import (
    InitCycleError,
    InitFailedError,
    InitNotReadyError,
    InitTimeoutError,
    InitWaitTimeoutError,
    describe,
)

if TYPE_CHECKING:
    # Imported where used, on the warm loop: asyncio loads with it, never with this module.
    import asyncio

logger = logging.getLogger("lambda_warmup")

State = Literal["pending", "running", "ok", "failed"]

#: The init whose code is running in this task (or worker thread), for cycle detection.
current_init: ContextVar[InitHandle[Any] | None] = ContextVar("lambda_warmup_init", default=None)

#: What a generator init (``async def`` or ``def`` that ``yield``s) leaves to run at shutdown.
type Teardown = AsyncGenerator[Any] | Generator[Any]


class LoopThread(Protocol):
    """What a handle asks of the warm loop: whether the caller runs on it (``WarmLoop``)."""

    def in_loop_thread(self) -> bool: ...


class InitHandle[T]:
    """A running or finished init.

    ``await handle`` (on the warm loop: inside an init or an async handler) returns its value or
    raises ``InitFailedError``; ``handle.result(timeout)`` does the same from sync code, and
    ``handle.value`` once it is done. ``done()``, ``state``, ``duration``, ``attempts`` and
    ``error`` describe it without waiting.
    """

    def __init__(
        self,
        func: Callable[[], Any],
        *,
        name: str,
        timeout: float | None,
        retries: int,
        backoff: float,
        required: bool,
        loop: LoopThread,
        graph: WaitGraph,
    ) -> None:
        """Made by ``Warmup.init``, never by users. ``loop`` tells whether a caller is on the
        warm loop (``await`` there, ``result()`` elsewhere); ``graph`` holds the waits between
        the inits of one ``Warmup``, so a cycle among them is an error instead of a hang."""
        self.func = func
        self.name = name
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.required = required
        self._loop = loop
        self._graph = graph
        self._state: State = "pending"
        self._value: T | None = None
        self._error: BaseException | None = None
        self._started: float | None = None
        self._finished: float | None = None
        self._attempts = 0
        #: Per attempt of the current run, ``(start, end)`` on ``time.perf_counter()``: the gaps
        #: between them are the retry backoff (the INIT timeline reads them from the log).
        self._attempt_spans: list[tuple[float, float]] = []
        #: Waits of this init's code on another init's handle: ``(name, start, end)``.
        self._waits: list[tuple[str, float, float]] = []
        # Set when the current run settles: threads wait on ``_settled``, loop tasks on
        # ``_loop_settled`` (created on the loop, since an asyncio.Event belongs to one loop).
        self._settled = threading.Event()
        self._loop_settled: asyncio.Event | None = None
        self._teardown_release: asyncio.Event | None = None
        self._teardown_done: asyncio.Event | None = None
        #: The init's task while it runs its teardown: what ``cancel_teardown`` cancels.
        self._teardown_task: asyncio.Task[Any] | None = None
        self._restore_hooks: list[Callable[[T], Awaitable[None] | None]] = []

    # -- inspection, from any thread -------------------------------------------------------
    @property
    def state(self) -> State:
        return self._state

    def done(self) -> bool:
        """Whether the init has settled (succeeded or failed for good)."""
        return self._state in ("ok", "failed")

    def ok(self) -> bool:
        return self._state == "ok"

    @property
    def error(self) -> BaseException | None:
        """The exception of the last failed attempt, once the init has failed."""
        return self._error if self._state == "failed" else None

    @property
    def attempts(self) -> int:
        return self._attempts

    @property
    def duration(self) -> float | None:
        """Seconds from the start of the init's first attempt to its settling."""
        if self._started is None or self._finished is None:
            return None
        return self._finished - self._started

    @property
    def started_at(self) -> float | None:
        """``time.perf_counter()`` when the init started."""
        return self._started

    @property
    def finished_at(self) -> float | None:
        return self._finished

    @property
    def attempt_spans(self) -> tuple[tuple[float, float], ...]:
        """``(start, end)`` of each attempt of the current run, on ``time.perf_counter()``."""
        return tuple(self._attempt_spans)

    @property
    def waits(self) -> tuple[tuple[str, float, float], ...]:
        """``(other init's name, start, end)`` of each wait of this init on another's handle."""
        return tuple(self._waits)

    @property
    def value(self) -> T:
        """The init's value.

        Raises ``InitNotReadyError`` before the init settles, ``InitFailedError`` if it failed.
        """
        if self._state == "ok":
            return cast(T, self._value)
        if self._state == "failed":
            raise self._failure()
        raise InitNotReadyError(
            f"init '{self.name}' has not finished yet ({self._state}); "
            "await the handle, or call handle.result(timeout) from sync code"
        )

    # -- waiting ----------------------------------------------------------------------------
    def result(self, timeout: float | None = None) -> T:
        """Wait (from sync code, never the warm loop) up to ``timeout`` seconds for the value."""
        if self._loop.in_loop_thread():
            raise RuntimeError(
                f"handle.result() called on the warm loop for init '{self.name}'; "
                "await the handle instead"
            )
        if not self.done():
            with self._waiting():
                if not self._settled.wait(timeout):
                    raise InitWaitTimeoutError(
                        f"init '{self.name}' still running after waiting {timeout} s"
                    )
        return self.value

    def __await__(self) -> Generator[Any, None, T]:
        return self._wait_value().__await__()

    async def _wait_value(self) -> T:
        if not self._loop.in_loop_thread():
            raise RuntimeError(
                f"init '{self.name}' can only be awaited on the warm loop (inside a @warm_init "
                "or an async @warm_handler); from sync code call handle.result(timeout)"
            )
        if not self.done():
            with self._waiting():
                await self.wait_settled()
        return self.value

    async def wait_settled(self) -> None:
        """Wait, on the warm loop, until the current run settles; never raises its error."""
        if not self.done():
            await self._loop_event().wait()

    @contextlib.contextmanager
    def _waiting(self) -> Generator[None]:
        waiter = current_init.get()
        if waiter is None:
            yield
            return
        self._graph.enter(waiter, self)
        started = time.perf_counter()
        try:
            yield
        finally:
            self._graph.leave(waiter, self)
            waiter._waits.append((self.name, started, time.perf_counter()))

    def _loop_event(self) -> asyncio.Event:
        import asyncio

        if self._loop_settled is None:
            self._loop_settled = asyncio.Event()
            if self.done():
                self._loop_settled.set()
        return self._loop_settled

    # -- SnapStart --------------------------------------------------------------------------
    def after_restore[F: Callable[..., Any]](self, func: F) -> F:
        """Declare what to redo after each SnapStart restore: ``func(value)``, on the warm loop.

        ``async def`` hooks run on the warm loop, ``def`` hooks in a worker thread. Every
        init's hooks run after each restore, concurrently across inits and in declaration
        order within one, within ``WARMUP_RESTORE_TIMEOUT`` (9 s of Lambda's 10 s). A hook
        that raises, or runs out of time, fails the restore (``AfterRestoreError``, reported by
        Lambda as ``Runtime.AfterRestoreError``). Outside SnapStart the hooks never run.

        Example::

            @warm_init
            async def pool() -> Pool: ...

            @pool.after_restore
            async def _reconnect(pool: Pool) -> None:
                # Sockets in the snapshot are dead after a restore: asyncpg's pool closes and
                # replaces each connection at its next acquire.
                await pool.expire_connections()
        """
        self._restore_hooks.append(func)
        return func

    async def run_restore_hooks(self) -> None:
        """Run this init's after-restore hooks in order (nothing if it has not succeeded)."""
        if self._state != "ok":
            return
        from ._aio import to_thread

        value = cast(T, self._value)
        for hook in self._restore_hooks:
            if inspect.iscoroutinefunction(hook):
                await hook(value)
            else:
                await to_thread(hook, value)

    @property
    def has_restore_hooks(self) -> bool:
        return bool(self._restore_hooks)

    # -- running, on the warm loop ----------------------------------------------------------
    def reset_for_retry(self) -> None:
        """Before running a failed init again (at a later invocation)."""
        self._state = "pending"
        self._settled.clear()
        self._loop_settled = None

    async def run(self) -> None:
        """Run the init with its retries; the single task that owns it (and its teardown)."""
        import asyncio

        current_init.set(self)
        self._state = "running"
        self._started = time.perf_counter()
        self._finished = None
        self._attempts = 0
        self._attempt_spans = []
        self._waits = []
        teardown: Teardown | None = None
        try:
            for attempt in range(self.retries + 1):
                self._attempts += 1
                attempt_started = time.perf_counter()
                try:
                    value, teardown = await self._attempt()
                except InitCycleError as error:
                    self._end_attempt(attempt_started)
                    self._settle_failed(error)  # a cycle does not go away on retry
                    return
                except Exception as error:
                    self._end_attempt(attempt_started)
                    if attempt < self.retries:
                        delay = min(self.backoff * 2**attempt, MAX_BACKOFF)
                        logger.warning(
                            "lambda-warmup: init '%s' attempt %d of %d failed (%s); "
                            "retrying in %.2f s",
                            self.name,
                            attempt + 1,
                            self.retries + 1,
                            describe(error),
                            delay,
                            extra={
                                "event": "init_retry",
                                "init": self.name,
                                "attempts": attempt + 1,
                                "error": describe(error),
                                "retry_in_ms": round(delay * 1000, 1),
                            },
                        )
                        await asyncio.sleep(delay)
                        continue
                    self._settle_failed(error)
                    return
                except BaseException as error:
                    self._end_attempt(attempt_started)
                    if isinstance(error, asyncio.CancelledError):
                        raise
                    # SystemExit or KeyboardInterrupt from the init's own code (a library that
                    # calls sys.exit on bad configuration): this init failed, not retried; let
                    # out, it would end the warm loop and every init and handler with it.
                    self._settle_failed(error)
                    return
                self._end_attempt(attempt_started)
                self._settle_ok(value)
                break
        except BaseException as error:  # cancelled: the loop is closing
            if not self.done():
                self._settle_cancelled()
            raise error
        if teardown is not None:
            self._teardown_release = release = asyncio.Event()
            self._teardown_done = finished = asyncio.Event()
            try:
                await release.wait()
                await self._finish_teardown(teardown)
            finally:
                finished.set()

    async def teardown(self) -> None:
        """Run the init's code after its ``yield`` (once), and wait until it finishes.

        It runs in the init's own task (a timeout or task group entered before the ``yield`` is
        left by the task that entered it), so a cancellation of this wait (a shutdown's budget
        running out) does not reach it: ``cancel_teardown`` cuts it short."""
        if self._teardown_release is None or self._teardown_done is None:
            return
        self._teardown_release.set()
        await self._teardown_done.wait()

    def cancel_teardown(self) -> None:
        """Cut a teardown short (its budget ran out): cancel it where it waits."""
        if self._teardown_task is not None:
            self._teardown_task.cancel()

    async def _attempt(self) -> tuple[Any, Teardown | None]:
        import asyncio

        if self.timeout is None:
            return await self._call()
        try:
            async with asyncio.timeout(self.timeout) as scope:
                return await self._call()
        except TimeoutError as error:
            if scope.expired():  # ours, not a TimeoutError raised by the init's own code
                raise InitTimeoutError(
                    f"init '{self.name}' timed out after {self.timeout:g} s", [self.name]
                ) from error
            raise

    async def _call(self) -> tuple[Any, Teardown | None]:
        """One attempt: the value, and for a generator init the generator to finish at shutdown.

        A sync init (boto3-style clients), and a sync generator init's code up to its ``yield``,
        run in a worker thread, so that blocking calls never stall the loop.
        """
        from ._aio import to_thread

        if inspect.isasyncgenfunction(self.func):
            agen = cast(AsyncGenerator[Any], self.func())
            try:
                return await anext(agen), agen
            except StopAsyncIteration:
                raise self._no_yield() from None
        if inspect.iscoroutinefunction(self.func):
            return await self.func(), None
        if inspect.isgeneratorfunction(self.func):
            gen = cast(Generator[Any], self.func())
            first = await to_thread(_first, gen)
            if first is _NO_YIELD:
                raise self._no_yield()
            return first, gen
        return await to_thread(self.func), None

    def _no_yield(self) -> RuntimeError:
        return RuntimeError(
            f"init '{self.name}' ended without yielding its value; a generator init yields "
            "once (the value), and the code after the yield runs at shutdown"
        )

    async def _finish_teardown(self, generator: Teardown) -> None:
        """Run the code after the ``yield``: on the loop for an ``async def``, else in a worker
        thread (it may block, as the code before the ``yield`` may). Cut short by
        ``cancel_teardown``, it ends there: the task's cancellation is not an error."""
        import asyncio

        self._teardown_task = asyncio.current_task()
        try:
            if not await _resume(generator):
                return
            logger.error("lambda-warmup: init '%s' yields more than once", self.name)
            await _close(generator)
        except asyncio.CancelledError:
            pass  # cut short (``_teardown_all`` logs which one, and why)
        except Exception:
            logger.exception("lambda-warmup: teardown of init '%s' failed", self.name)
        finally:
            self._teardown_task = None

    def _end_attempt(self, started: float) -> None:
        self._attempt_spans.append((started, time.perf_counter()))

    def _fields(self, event: str) -> dict[str, Any]:
        """What a log line about this init carries as fields (JSON logs: one key each). Not
        ``name``: the standard library's LogRecord has one."""
        error = self._error if self._state != "ok" else None
        return {
            "event": event,
            "init": self.name,
            "required": self.required,
            "duration_ms": round(self._ms(), 1),
            "attempts": self._attempts,
            "error": describe(error) if error is not None else None,
        }

    def _settle_ok(self, value: T) -> None:
        self._value, self._error = value, None
        self._finished = time.perf_counter()
        logger.debug(
            "lambda-warmup: init '%s' ok in %.1f ms",
            self.name,
            self._ms(),
            extra=self._fields("init_settled"),
        )
        self._settle("ok")

    def _settle_failed(self, error: BaseException) -> None:
        self._value, self._error = None, error
        self._finished = time.perf_counter()
        # Logged before waiters wake, so whoever sees the failure finds it in the log already.
        logger.error(
            "lambda-warmup: %s init '%s' failed after %d attempt(s) in %.1f ms: %s",
            "required" if self.required else "optional",
            self.name,
            self._attempts,
            self._ms(),
            describe(error),
            exc_info=error,
            extra=self._fields("init_settled"),
        )
        self._settle("failed")

    def _settle_cancelled(self) -> None:
        """The loop closed (shutdown, or an INIT cut short) while the init still ran."""
        self._value = None
        self._error = InitFailedError(f"init '{self.name}' was cancelled at shutdown", [self.name])
        self._finished = time.perf_counter()
        # Not an error of the init's: one line, no traceback.
        logger.warning(
            "lambda-warmup: init '%s' still running at shutdown, cancelled after %.1f ms",
            self.name,
            self._ms(),
            extra=self._fields("init_cancelled"),
        )
        self._settle("failed")

    def _settle(self, state: State) -> None:
        self._state = state
        self._settled.set()
        if self._loop_settled is not None:
            self._loop_settled.set()

    def _ms(self) -> float:
        return (self.duration or 0.0) * 1000

    def _failure(self) -> InitFailedError:
        error = self._error
        kind = InitTimeoutError if isinstance(error, InitTimeoutError) else InitFailedError
        failure = kind(f"init '{self.name}' failed: {describe(error)}", [self.name])
        failure.__cause__ = error
        return failure

    def __repr__(self) -> str:
        return f"<InitHandle {self.name!r} {self._state}>"


#: What ``_first`` returns for a generator that ended without a ``yield``: ``StopIteration``
#: cannot cross from a worker thread into the loop (asyncio refuses it into a future).
_NO_YIELD: Any = object()


def _first(generator: Generator[Any]) -> Any:
    """In a worker thread: run a sync generator init up to its first ``yield``."""
    try:
        return next(generator)
    except StopIteration:
        return _NO_YIELD


def _step(generator: Generator[Any]) -> bool:
    """In a worker thread: run a sync generator init's teardown; whether it yielded again."""
    try:
        next(generator)
    except StopIteration:
        return False
    return True


async def _resume(generator: Teardown) -> bool:
    """Run a generator init's code after its ``yield``; ``True`` if it yielded once more."""
    from ._aio import to_thread

    if isinstance(generator, Generator):
        return await to_thread(_step, generator)
    try:
        await anext(generator)
    except StopAsyncIteration:
        return False
    return True


async def _close(generator: Teardown) -> None:
    """Close a generator init that yielded more than once (its ``finally`` and ``with`` exits)."""
    from ._aio import to_thread

    if isinstance(generator, Generator):
        await to_thread(generator.close)
    else:
        await generator.aclose()
