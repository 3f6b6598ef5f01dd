"""``Warmup``: the registry of inits, the report, and the two decorators bound to it."""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import math
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final, Protocol, overload

from . import _constants as c
from ._graph import WaitGraph
from ._handles import InitHandle
from ._import_watch import wait_imports_finished
from ._loop import WarmLoop
from ._report import Report, build_report, send_report
from ._settings import Settings
from ._wrappers import rebuild_waiting, wraps_async
from ._xray import carry as carry_trace
from .exceptions import (
    AfterRestoreError,
    InitFailedError,
    InitWaitTimeoutError,
    SettingsError,
    describe,
)

if TYPE_CHECKING:
    # ._lifecycle (signal, socket, json...) loads at the first @warm_init or
    # @warm_shutdown, so that a function using only @warm_handler does not pay for it.
    from ._lifecycle import InitMarker

logger = logging.getLogger("lambda_warmup")


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


#: "Not given": the setting (``WARMUP_INIT_TIMEOUT``) applies. ``None`` means "no timeout".
UNSET: Final = _Unset()


class InitDecorator(Protocol):
    """What ``warm_init(...)`` with options returns: ``warm_init`` without them."""

    @overload
    def __call__[T](self, func: Callable[[], Coroutine[Any, Any, T]], /) -> InitHandle[T]: ...
    @overload
    def __call__[T](self, func: Callable[[], AsyncIterator[T]], /) -> InitHandle[T]: ...
    @overload
    def __call__[T](self, func: Callable[[], Iterator[T]], /) -> InitHandle[T]: ...
    @overload
    def __call__[T](self, func: Callable[[], T], /) -> InitHandle[T]: ...


type ShutdownHook = Callable[[], Awaitable[Any]] | Callable[[], Any]

type InitFunction[T] = (
    Callable[[], Awaitable[T]]
    | Callable[[], AsyncIterator[T]]
    | Callable[[], Iterator[T]]
    | Callable[[], T]
)


class _Invocation:
    """The invocation a sync ``@warm_handler`` is serving: ``run`` bounds its wait for the loop by
    its remaining time, but only while it lasts (tasks started meanwhile inherit the variable,
    and an init may outlive the invocation that retried it)."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self.active = True


_invocation: ContextVar[_Invocation | None] = ContextVar("lambda_warmup_invocation", default=None)


class Warmup:
    """One process's inits, its warm loop and its report.

    ``lambda_warmup.warm_init`` and ``warm_handler`` are bound to a default instance; tests and
    libraries that need isolation create their own.

    Environment variables (read once, on first use; see the README for forms and defaults):
    ``WARMUP_PORT``, ``WARMUP_INIT_TIMEOUT``, ``WARMUP_REPORT_TIMEOUT``, ``WARMING_TIMEOUT``,
    ``_HANDLER``, ``AWS_LAMBDA_INITIALIZATION_TYPE``, ``AWS_LAMBDA_MAX_CONCURRENCY``,
    ``WARMUP_SHUTDOWN_TIMEOUT``, ``WARMUP_RESTORE_TIMEOUT``, ``AWS_LAMBDA_RUNTIME_API``;
    telemetry: ``WARMUP_METRICS``, ``WARMUP_TRACING``, ``POWERTOOLS_METRICS_NAMESPACE``,
    ``POWERTOOLS_SERVICE_NAME``.

    In a Lambda runtime (``AWS_LAMBDA_RUNTIME_API`` set), the first ``@warm_init`` also installs
    a SIGTERM handler that runs ``close()`` within ``WARMUP_SHUTDOWN_TIMEOUT``, the SnapStart
    hooks when ``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start``, and the INIT re-run marker.

    ``loop`` is the warm loop to run on: by default one of its own, in a daemon thread started at
    first use; ``lambda_warmup.testing`` passes one that borrows a test's event loop.
    """

    def __init__(self, settings: Settings | None = None, *, loop: WarmLoop | None = None) -> None:
        self._settings = settings
        if loop is None:
            loop = WarmLoop(on_exit=functools.partial(self.close, c.EXIT_TEARDOWN_BUDGET))
        self._loop = loop
        #: Who awaits whom among this registry's inits (each handle records its own waits).
        self._graph = WaitGraph()
        self._handles: list[InitHandle[Any]] = []
        self._declaring_modules: dict[str, None] = {}
        self._report_scheduled = False
        self._shutdown_hooks: list[ShutdownHook] = []
        self._lifecycle_installed = False
        self._marker: InitMarker | None = None
        #: The report once built (sent or not): what the extension was, or would have been, sent.
        self._report: Report | None = None
        #: ``time.perf_counter()`` when the watched modules' imports were last seen finished.
        self._imports_done_at: float | None = None
        #: Run once, by the next invocation (``WARMUP_TRACING=xray``: the inits' subsegments,
        #: which need the trace an invocation brings).
        self._next_invocation_hook: Callable[[], object] | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings.from_env()
        return self._settings

    @property
    def handles(self) -> tuple[InitHandle[Any], ...]:
        return tuple(self._handles)

    # -- @warm_init -------------------------------------------------------------------------
    @overload
    def init[T](self, func: Callable[[], Coroutine[Any, Any, T]], /) -> InitHandle[T]: ...
    @overload
    def init[T](self, func: Callable[[], AsyncIterator[T]], /) -> InitHandle[T]: ...
    @overload
    def init[T](self, func: Callable[[], Iterator[T]], /) -> InitHandle[T]: ...
    @overload
    def init[T](self, func: Callable[[], T], /) -> InitHandle[T]: ...
    @overload
    def init(
        self,
        func: None = None,
        /,
        *,
        name: str | None = None,
        timeout: float | _Unset | None = UNSET,
        retries: int = 0,
        backoff: float = c.DEFAULT_BACKOFF,
        required: bool = True,
    ) -> InitDecorator: ...

    def init(
        self,
        func: InitFunction[Any] | None = None,
        /,
        *,
        name: str | None = None,
        timeout: float | _Unset | None = UNSET,
        retries: int = 0,
        backoff: float = c.DEFAULT_BACKOFF,
        required: bool = True,
    ) -> InitHandle[Any] | InitDecorator:
        """Start ``func`` now on the warm loop; its name becomes an ``InitHandle``.

        Use bare (``@warm_init``) or with keyword options (``@warm_init(timeout=5.0)``):

        - ``timeout``: seconds per attempt (``None``: none); unset, ``WARMUP_INIT_TIMEOUT``.
        - ``retries``: further attempts after a failure, ``backoff`` seconds apart, doubling.
        - ``required``: if false, a failure is logged and never fails an invocation.
        - ``name``: the name in logs and the report (default: the function's qualified name).

        ``async def`` inits run on the loop; an ``async def`` that ``yield``s once gives its
        value at the ``yield`` and runs the rest at shutdown (``Warmup.close``); a plain ``def``
        runs in a worker thread, and a ``def`` that ``yield``s once (as a pytest fixture does)
        runs there too: up to the ``yield`` now, the rest at shutdown.

        A bad option (``timeout=-1``, ``retries=-1``, ``backoff=-1``, or one of the wrong type)
        raises ``SettingsError`` (a ``ValueError``) naming it and the form it takes.
        """
        _check_options(timeout, retries, backoff)
        if func is None:
            return functools.partial(
                self._declare,
                name=name,
                timeout=timeout,
                retries=retries,
                backoff=backoff,
                required=required,
            )
        if not callable(func):
            raise TypeError(
                f"warm_init options are keyword-only, e.g. @warm_init(timeout=5.0); got {func!r}"
            )
        return self._declare(
            func, name=name, timeout=timeout, retries=retries, backoff=backoff, required=required
        )

    def _declare(
        self,
        func: InitFunction[Any],
        *,
        name: str | None,
        timeout: float | _Unset | None,
        retries: int,
        backoff: float,
        required: bool,
    ) -> InitHandle[Any]:
        if isinstance(timeout, _Unset):
            timeout = self.settings.init_timeout
        if self._loop.in_loop_thread():
            raise RuntimeError("@warm_init must be declared at import, not on the warm loop")
        handle: InitHandle[Any] = InitHandle(
            func,
            name=name or _default_name(func),
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            required=required,
            loop=self._loop,
            graph=self._graph,
        )
        self._handles.append(handle)
        if not self._lifecycle_installed:
            self._install_lifecycle()
        self._declaring_modules[getattr(func, "__module__", None) or "__main__"] = None
        self._loop.start_soon(handle.run, name=handle.name)
        if not self._report_scheduled:
            self._report_scheduled = True
            self._loop.start_soon(self._report_when_settled, name="lambda-warmup report")
        return handle

    # -- @warm_handler ----------------------------------------------------------------------
    # ParamSpec, not (event, context) type variables: with those, a handler annotated with
    # ``Any`` matched both overloads and mypy gave up on the result's type.
    @overload
    def handler[**P, R](self, func: Callable[P, Coroutine[Any, Any, R]], /) -> Callable[P, R]: ...
    @overload
    def handler[**P, R](self, func: Callable[P, R], /) -> Callable[P, R]: ...

    def handler(self, func: Callable[[Any, Any], Any], /) -> Callable[[Any, Any], Any]:
        """Make ``func`` a Lambda handler that runs only once the required inits are done.

        It waits for them within the invocation's remaining time (less a small margin), retries
        inits that failed before, and raises ``InitFailedError`` naming a required init that
        failed, or ``InitWaitTimeoutError`` naming those still running. An ``async def`` handler
        runs on the warm loop, beside the clients its inits made; a ``def`` handler runs as is,
        and what it returns, if awaitable, is awaited on the warm loop. A ``def`` decorator's
        wrapper around an ``async def`` (Powertools' ``@logger.inject_lambda_context`` below
        ``@warm_handler``) waits for the handler, as it would above ``@warm_handler``.
        """
        if not self._report_scheduled and self.settings.extension_expected:
            # A handler module with the hold asked for but no init still reports (none), once
            # its import is done: else the extension would hold INIT for all of WARMING_TIMEOUT.
            self._report_scheduled = True
            self._loop.start_soon(self._report_when_settled, name="lambda-warmup report")
        name = _default_name(func)
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            def run_async(event: Any, context: Any) -> Any:
                self._prepare_invocation(context)
                return self._call_on_loop(functools.partial(func, event, context), context, name)

            return run_async

        if wraps_async(func):
            func = rebuild_waiting(func, self._waiting) or _warn_unrebuilt(func, name)

        @functools.wraps(func)
        def run_sync(event: Any, context: Any) -> Any:
            invocation = _Invocation(context)  # for ``run`` calls the handler makes
            token = _invocation.set(invocation)
            try:
                self._prepare_invocation(context)
                result = func(event, context)
                if not hasattr(result, "__await__"):  # not inspect.isawaitable: 10x the cost
                    return result
                try:
                    return self._call_on_loop(functools.partial(_await, result), context, name)
                except InitWaitTimeoutError:
                    _discard(result)  # the loop never started it: no "never awaited" warning
                    raise
            finally:
                invocation.active = False
                _invocation.reset(token)

        return run_sync

    def _waiting(self, async_fn: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
        """A ``def`` that runs ``async_fn`` on the warm loop and returns its result: what a
        rebuilt chain of ``def`` wrappers calls in place of the ``async def`` handler."""

        @functools.wraps(async_fn)
        def waiting(*args: Any, **kwargs: Any) -> Any:
            return self.run(async_fn, *args, **kwargs)

        return waiting

    def _call_on_loop[R](
        self, func: Callable[[], Awaitable[R]], context: Any, name: str | None = None
    ) -> R:
        """Run ``func()`` on the warm loop for an invocation and wait for its result.

        Bounded until ``func`` starts by the invocation's remaining time: a loop blocked by a
        misbehaving init gives one clear ``InitWaitTimeoutError`` instead of Lambda's bare
        "Task timed out". ``func``'s own exception reaches the caller unchanged. The task is
        named ``name`` (``taskName`` in logs), sees the caller's context variables and, with
        the X-Ray SDK loaded, the caller's open segment and subsegments.
        """
        return self._loop.call(carry_trace(func), start_timeout=_wait_budget(context), name=name)

    # -- run: a coroutine from sync code --------------------------------------------------------
    def run[**P, R](
        self, async_fn: Callable[P, Awaitable[R]], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """Run ``await async_fn(*args, **kwargs)`` on the warm loop; block until its result.

        For sync (``def``) handlers and inits that use what an async init made: a pool or client
        is bound to the loop it was made on, and ``asyncio.run`` would use it from another one
        (asyncpg: "another operation is in progress", then a dropped connection). Its exception
        is raised here unchanged. Inside a ``@warm_handler``, the wait for the loop to start it
        is bounded by the invocation's remaining time (``InitWaitTimeoutError``), as for an async
        handler. Starts the warm loop if nothing has yet. On the loop itself (in an async handler
        or init) it would wait for itself: a ``RuntimeError`` says to ``await`` instead.
        """
        name = _default_name(async_fn)
        given: object = async_fn  # the types say a function; a hurried call passes fetch(1)
        if inspect.iscoroutine(given):
            given.close()  # no "never awaited" warning on top of this error
            raise TypeError(
                f"lambda_warmup.run takes a coroutine function and its arguments, e.g. "
                f"run(fetch, 1), not a coroutine object ({name})"
            )
        if self._loop.in_loop_thread():
            raise RuntimeError(
                f"lambda_warmup.run({name}) called on the warm loop (in an async handler or "
                f"init), where it would wait for itself; await {name}(...) instead"
            )
        invocation = _invocation.get()
        context = invocation.context if invocation is not None and invocation.active else None
        return self._call_on_loop(functools.partial(async_fn, *args, **kwargs), context, name)

    def _prepare_invocation(self, context: Any) -> None:
        if self._marker is not None:
            self._marker.invoked()
        if self._next_invocation_hook is not None:
            self._run_invocation_hook()
        handles = self._handles
        if all(handle.state == "ok" for handle in handles):
            return  # the warm path: no hop to the loop
        for handle in handles:
            if handle.state == "failed":  # a transient failure must not poison the sandbox
                handle.reset_for_retry()
                self._loop.start_soon(handle.run, name=handle.name)
        if not any(handle.required for handle in handles):
            return
        budget = _wait_budget(context)
        # One absolute deadline for both sides (asyncio's loop.time() is time.monotonic()):
        # the loop gives up at it; the caller only later, if the loop could not answer at all.
        deadline = None if budget is None else time.monotonic() + budget
        waited_for = [handle.name for handle in handles if handle.required and not handle.ok()]
        started = time.time()  # epoch: the INIT timeline places the wait among the inits
        try:
            self._loop.call(
                functools.partial(self._wait_required, deadline, budget),
                timeout=None if budget is None else budget + c.LOOP_ANSWER_GRACE,
            )
        finally:
            if waited_for:
                _log_invocation_waited(waited_for, started, time.time())

    def _run_invocation_hook(self) -> None:
        hook, self._next_invocation_hook = self._next_invocation_hook, None
        try:
            if hook is not None:
                hook()
        except Exception as error:  # telemetry never fails an invocation
            logger.warning("lambda-warmup: init telemetry failed: %s", describe(error))

    async def _wait_required(self, deadline: float | None, budget: float | None) -> None:
        import asyncio

        required = [handle for handle in self._handles if handle.required]
        try:
            async with asyncio.timeout_at(deadline):
                for handle in required:
                    await handle.wait_settled()
        except TimeoutError:
            pass  # wait_settled never raises: the deadline passed, the pending ones are named
        pending = [handle.name for handle in required if not handle.done()]
        if pending:
            raise InitWaitTimeoutError(
                f"gave up waiting for required init(s) {_names(pending)} after {budget:.3f} s, "
                "near the invocation's deadline; give the function a longer timeout, or set "
                "WARMING_TIMEOUT so that INIT waits for them"
            )
        failed = [handle for handle in required if handle.state == "failed"]
        if failed:
            causes = "; ".join(f"'{h.name}': {describe(h.error)}" for h in failed)
            error = InitFailedError(
                f"required init(s) failed: {causes}", [handle.name for handle in failed]
            )
            raise error from failed[0].error

    # -- the report -------------------------------------------------------------------------
    async def wait_inits_settled(self) -> None:
        """Wait (on the warm loop) until every init declared so far has settled."""
        for handle in list(self._handles):
            await handle.wait_settled()

    def _watched_modules(self) -> Iterator[tuple[str, str | None]]:
        handler = self.settings.handler
        if handler:
            module, _, attribute = handler.rpartition(".")
            yield module, attribute
        for module in self._declaring_modules:
            yield module, None

    async def _wait_all_settled(self) -> None:
        """Wait until the declaring modules have imported and every init they declared settled."""
        while True:
            await wait_imports_finished(self._watched_modules)
            self._imports_done_at = time.perf_counter()
            declared = len(self._handles)
            await self.wait_inits_settled()
            if declared == len(self._handles):
                break  # nothing new was declared while waiting: the module set is complete

    async def _report_when_settled(self) -> None:
        await self._wait_all_settled()
        settings = self.settings
        self._report = report = build_report(self._handles, settings)
        from ._timeline import settled_fields

        logger.info(
            "lambda-warmup: %d init(s) settled in %.1f ms, %s: %s",
            len(self._handles),
            report["duration_ms"],
            report["status"],
            ", ".join(f"{i['name']} {i['status']} {i['duration_ms']} ms" for i in report["inits"]),
            extra=settled_fields(
                self._handles, report["status"], report["duration_ms"], self._imports_done_at
            ),
        )
        marker = self._marker
        if marker is not None:
            from ._lifecycle import rerun_warning

            marker.settled(report["duration_ms"])
            if marker.previous is not None:
                logger.warning(
                    rerun_warning(marker.previous, marker.started, report["duration_ms"])
                )
        if settings.extension_expected:
            await send_report(report, settings)
        else:
            logger.debug("lambda-warmup: no WARMING_TIMEOUT, so no extension awaits the report")
        if settings.tracing == "xray" or (
            # "auto": only where the function has the SDK loaded already (no import of ours)
            settings.tracing == "auto" and "aws_xray_sdk.core" in sys.modules
        ):
            from ._tracing import record_init_subsegments

            handles = tuple(self._handles)
            self._next_invocation_hook = functools.partial(record_init_subsegments, handles)
        if settings.metrics:  # after the report: the hold ends first
            from ._emf import emit_init_metrics

            emit_init_metrics(self._handles, report, settings)

    # -- Lambda's lifecycle --------------------------------------------------------------------
    def _install_lifecycle(self) -> None:
        """At the first init (the handler module's import): SIGTERM, SnapStart, the marker."""
        self._lifecycle_installed = True
        settings = self.settings
        if not settings.in_lambda:
            return
        from ._lifecycle import InitMarker, install_sigterm_handler, register_snapstart_hooks

        install_sigterm_handler(self._on_sigterm)
        if settings.init_type == c.SNAP_START:
            register_snapstart_hooks(self._before_snapshot, self._after_restore)
        self._marker = InitMarker(settings.init_type)
        self._marker.begin()

    def _on_sigterm(self) -> None:
        started = time.perf_counter()
        budget = self.settings.shutdown_timeout
        if self.close(budget):
            logger.info(
                "lambda-warmup: SIGTERM: shutdown hooks and init teardowns done in %.1f ms",
                (time.perf_counter() - started) * 1000,
            )

    def _before_snapshot(self) -> None:
        """SnapStart, before the snapshot: wait for every init; a failed required one raises."""
        if not self._loop.running:
            return
        started = time.perf_counter()
        self._loop.call(self._wait_all_settled)
        failed = [h for h in self._handles if h.required and h.state == "failed"]
        if failed:
            causes = "; ".join(f"'{h.name}': {describe(h.error)}" for h in failed)
            raise InitFailedError(
                f"required init(s) failed before the snapshot: {causes}; a snapshot taken now "
                "would make every restored environment redo them",
                [h.name for h in failed],
            ) from failed[0].error
        logger.info(
            "lambda-warmup: before snapshot: %d init(s) done, waited %.1f ms",
            len(self._handles),
            (time.perf_counter() - started) * 1000,
        )

    def _after_restore(self) -> None:
        """SnapStart, after each restore: every init's ``after_restore`` hooks, bounded."""
        if not self._loop.running or not any(h.has_restore_hooks for h in self._handles):
            return
        started = time.perf_counter()
        self._loop.call(functools.partial(self._run_restore_hooks, self.settings.restore_timeout))
        logger.info(
            "lambda-warmup: after restore: hooks done in %.1f ms",
            (time.perf_counter() - started) * 1000,
        )

    async def _run_restore_hooks(self, budget: float) -> None:
        import asyncio

        handles = [h for h in self._handles if h.has_restore_hooks]
        errors: dict[str, BaseException] = {}
        done: set[str] = set()

        async def run(handle: InitHandle[Any]) -> None:
            try:
                await handle.run_restore_hooks()
            except Exception as error:
                logger.error(
                    "lambda-warmup: after-restore hook of init '%s' failed: %s",
                    handle.name,
                    describe(error),
                    exc_info=error,
                )
                errors[handle.name] = error
            done.add(handle.name)

        try:
            async with asyncio.timeout(budget), asyncio.TaskGroup() as group:
                for handle in handles:
                    group.create_task(run(handle), name=f"{handle.name} after restore")
        except TimeoutError:  # run() lets no exception out: the budget ran out
            late = [h.name for h in handles if h.name not in done]
            raise AfterRestoreError(
                f"after-restore hooks of init(s) {_names(late)} still running after {budget:g} s "
                f"({c.WARMUP_RESTORE_TIMEOUT}); Lambda allows 10 s for the whole restore",
                late,
            ) from None
        if errors:
            causes = "; ".join(f"'{name}': {describe(error)}" for name, error in errors.items())
            raise AfterRestoreError(
                f"after-restore hook(s) failed: {causes}", list(errors)
            ) from next(iter(errors.values()))

    # -- shutdown ---------------------------------------------------------------------------
    def on_shutdown[F: ShutdownHook](self, func: F) -> F:
        """Run ``func()`` at shutdown, before the init teardowns: flush, close what you opened.

        ``async def`` hooks run on the warm loop, ``def`` hooks in a worker thread; last
        registered first. On Lambda they run at SIGTERM (``Warmup.close``), all within
        ``WARMUP_SHUTDOWN_TIMEOUT`` together with the teardowns; past it, they are cancelled
        and one warning names them. A hook that raises is logged, and the others still run.

        Example::

            @warm_shutdown
            async def flush_metrics() -> None:
                await metrics.flush()
        """
        self._shutdown_hooks.append(func)
        if not self._lifecycle_installed and not self._loop.in_loop_thread():
            self._install_lifecycle()  # the SIGTERM handler, even before any @warm_init
        return func

    def close(self, timeout: float | None = 5.0) -> bool:
        """Run shutdown hooks, then init teardowns (last first) within ``timeout`` s; stop the loop.

        Returns whether they all finished in time (``True`` also when there was nothing to do).
        Each hook and teardown runs once, however often ``close`` is called.
        """
        if not self._loop.running and not self._shutdown_hooks:
            return True
        try:
            return self._loop.call(functools.partial(self._teardown_all, timeout))
        finally:
            self._loop.close()

    async def _teardown_all(self, budget: float | None) -> bool:
        import asyncio

        step = "?"
        hooks, self._shutdown_hooks = self._shutdown_hooks, []
        try:
            async with asyncio.timeout(budget):
                for hook in reversed(hooks):
                    step = f"shutdown hook '{_default_name(hook)}'"
                    await _run_hook(hook)
                for handle in reversed(self._handles):
                    step = f"teardown of init '{handle.name}'"
                    await handle.teardown()
            return True
        except TimeoutError:  # _run_hook lets no Exception out: the budget ran out
            pass
        for handle in self._handles:
            handle.cancel_teardown()
        logger.warning(
            "lambda-warmup: shutdown cut short after %g s (%s): cancelled the %s and what "
            "follows it",
            budget,
            c.WARMUP_SHUTDOWN_TIMEOUT,
            step,
        )
        return False


async def _run_hook(hook: ShutdownHook) -> None:
    from ._aio import to_thread

    try:
        if inspect.iscoroutinefunction(hook):
            await hook()
        else:
            await to_thread(hook)
    except Exception as error:
        logger.error(
            "lambda-warmup: shutdown hook '%s' failed: %s",
            _default_name(hook),
            describe(error),
            exc_info=error,
        )


def _log_invocation_waited(names: list[str], started: float, ended: float) -> None:
    """One INFO line for an invocation that had to wait for required inits (epoch seconds)."""
    waited_ms = (ended - started) * 1000
    logger.info(
        "lambda-warmup: invocation waited %.1f ms for init(s) %s",
        waited_ms,
        _names(names),
        extra={
            "event": "invocation_waited",
            "waited_ms": round(waited_ms, 1),
            "start_ms": round(started * 1000, 1),
            "end_ms": round(ended * 1000, 1),
            "inits": names,
        },
    )


def _check_options(timeout: object, retries: object, backoff: object) -> None:
    """Raise ``SettingsError`` for a ``@warm_init`` option of the wrong form (one line each)."""
    if not (isinstance(timeout, _Unset) or timeout is None or _number(timeout) > 0):
        raise SettingsError(
            f"warm_init: timeout={timeout!r} is not a timeout; use a number of seconds "
            "above 0, e.g. timeout=5.0, or timeout=None for no timeout"
        )
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise SettingsError(
            f"warm_init: retries={retries!r} is not a count of retries; use a whole number "
            "of 0 or more, e.g. retries=2"
        )
    if not _number(backoff) >= 0:
        raise SettingsError(
            f"warm_init: backoff={backoff!r} is not a delay; use a number of seconds of 0 or "
            "more, e.g. backoff=0.5"
        )


def _number(value: object) -> float:
    """``value`` if it is an int or a float (not a bool), else NaN (which compares false)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


def _wait_budget(context: Any) -> float | None:
    """Seconds an invocation may spend waiting for inits (``None``: no context, no bound)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    return max(0.0, float(remaining()) / 1000 - c.HANDLER_DEADLINE_MARGIN)


async def _await[R](awaitable: Awaitable[R]) -> R:
    return await awaitable


def _discard(awaitable: object) -> None:
    """Close a coroutine that never started (one running on the loop cannot be closed)."""
    if inspect.iscoroutine(awaitable) and inspect.getcoroutinestate(awaitable) == "CORO_CREATED":
        with contextlib.suppress(ValueError):  # started meanwhile: it is the loop's now
            awaitable.close()


def _warn_unrebuilt[F: Callable[..., Any]](func: F, name: str) -> F:
    logger.warning(
        "lambda-warmup: handler '%s' is a def wrapping an async def, and the wrapper could not "
        "be made to wait for it: what it returns is awaited on the warm loop, but the "
        "wrapper's own work after the call runs before the handler does; put that decorator "
        "above @warm_handler",
        name,
    )
    return func


def _default_name(func: Callable[..., Any]) -> str:
    """The function's qualified name, without the ``outer.<locals>.`` of a nested function."""
    return str(getattr(func, "__qualname__", repr(func))).rpartition("<locals>.")[2]


def _names(names: list[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)
