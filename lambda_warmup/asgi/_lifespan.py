"""The ASGI lifespan protocol (spec 2.0) run against an app: startup, then shutdown.

The app's lifespan call is one long task on the warm loop: started by the lifespan init, it sits
between ``lifespan.startup.complete`` and ``lifespan.shutdown`` for the sandbox's whole life.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio

from ..exceptions import describe
from ._errors import LifespanError
from ._types import ASGIApp, LifespanMode, Message

logger = logging.getLogger("lambda_warmup.asgi")


#: Seconds the app may take to end after ``lifespan.startup.failed`` (to learn its exception).
_FAILED_APP_GRACE = 1.0


def _last_line(message: object) -> str:
    lines = [line for line in str(message or "").splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(no message)"


class LifespanCycle:
    """One run of an app's lifespan: ``run`` is the app's task, ``startup`` and ``shutdown`` are
    awaited by the init that owns it (all on the warm loop)."""

    def __init__(self, app: ASGIApp, mode: LifespanMode) -> None:
        self._app = app
        self._mode = mode
        #: ``scope["state"]``: what the app's startup leaves there (Starlette: what it yields).
        self.state: dict[str, Any] = {}
        self.supported = True
        #: What the app has yet to receive (``lifespan.startup``, later ``lifespan.shutdown``).
        self._inbox: list[Message] = []
        self._arrived = anyio.Event()
        self._startup_received = False
        self._startup_answer: Message | None = None
        self._shutdown_answer: Message | None = None
        self._startup_settled = anyio.Event()
        self._shutdown_settled = anyio.Event()
        self._ended = anyio.Event()
        self._error: BaseException | None = None
        self._cancel = anyio.CancelScope()

    async def run(self) -> None:
        """The app's lifespan call; ends when the app returns (or at ``abandon``)."""
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        with self._cancel:
            try:
                await self._app(scope, self._receive, self._send)
            except anyio.get_cancelled_exc_class():
                raise
            except BaseException as error:  # the app's own, even SystemExit: never the loop's
                self._error = error
            finally:
                self._ended.set()
                self._startup_settled.set()
                self._shutdown_settled.set()

    def abandon(self) -> None:
        """Cancel the app's lifespan call (a startup that timed out or failed)."""
        self._cancel.cancel()

    async def startup(self) -> dict[str, Any]:
        """Send ``lifespan.startup`` and wait for the app's answer; the state on success.

        An app that raises or returns before it receives ``lifespan.startup`` does not support
        the lifespan (ASGI: the server carries on without it), unless the mode is ``"on"``.
        """
        self._post({"type": "lifespan.startup"})
        await self._startup_settled.wait()
        answer = self._startup_answer
        if answer is not None and answer["type"] == "lifespan.startup.complete":
            return self.state
        if answer is not None:
            # Starlette sends the whole traceback as the message, then re-raises: the error it
            # raises makes the one-line cause (and the traceback in the init's log entry).
            with anyio.move_on_after(_FAILED_APP_GRACE):
                await self._ended.wait()
            cause = describe(self._error) if self._error else _last_line(answer.get("message"))
            raise LifespanError(f"ASGI lifespan startup failed: {cause}") from self._error
        if self._startup_received:
            raise LifespanError(
                f"ASGI lifespan startup ended without lifespan.startup.complete: {self._ending()}"
            ) from self._error
        if self._mode == "on":
            raise LifespanError(
                f"the app does not support the ASGI lifespan ({self._ending()} before receiving "
                "lifespan.startup) and warm_asgi(lifespan='on') requires it; use lifespan='auto'"
            ) from self._error
        self.supported = False
        logger.info(
            "lambda-warmup: the ASGI app does not support the lifespan (%s before receiving "
            "lifespan.startup); serving it without startup and shutdown",
            self._ending(),
        )
        return self.state

    async def shutdown(self) -> None:
        """Send ``lifespan.shutdown`` and wait for the app's answer (bounded by the caller)."""
        if not self.supported or self._ended.is_set():
            return
        self._post({"type": "lifespan.shutdown"})
        await self._shutdown_settled.wait()
        answer = self._shutdown_answer
        if answer is not None and answer["type"] == "lifespan.shutdown.failed":
            logger.error(
                "lambda-warmup: ASGI lifespan shutdown failed: %s",
                answer.get("message") or "(no message)",
            )
        elif answer is None:
            logger.error(
                "lambda-warmup: ASGI lifespan shutdown ended without "
                "lifespan.shutdown.complete: %s",
                self._ending(),
                exc_info=self._error,
            )

    def _ending(self) -> str:
        return "it returned" if self._error is None else f"it raised {describe(self._error)}"

    def _post(self, message: Message) -> None:
        self._inbox.append(message)
        self._arrived.set()

    async def _receive(self) -> Message:
        while not self._inbox:
            self._arrived = anyio.Event()
            await self._arrived.wait()
        message = self._inbox.pop(0)
        if message["type"] == "lifespan.startup":
            self._startup_received = True
        return message

    async def _send(self, message: Message) -> None:
        kind = message.get("type")
        starting = kind in ("lifespan.startup.complete", "lifespan.startup.failed")
        stopping = kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed")
        if starting and self._startup_received and self._startup_answer is None:
            self._startup_answer = message
            self._startup_settled.set()
        elif stopping and self._startup_answer is not None and self._shutdown_answer is None:
            self._shutdown_answer = message
            self._shutdown_settled.set()
        else:
            raise RuntimeError(f"unexpected ASGI message {kind!r} at this point of the lifespan")
