"""The Runtime API (``/2018-06-01/runtime/``): ``next``, responses, errors, SnapStart's restore.

The runtime's side of the handshake lives here: whether it is parked in ``next`` (or in
``restore/next``), the event waiting for it, and what it answered. A parked ``next`` is answered
only when an event is there and the sandbox is thawed; on Managed Instances any worker's ``next``
takes the oldest queued event and nothing is ever frozen.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ._answers import (
    NOT_FOUND,
    error,
    invalid_state,
    json_body,
    json_field,
    json_response,
    timeout_error,
)
from ._http import Detach, Request, Response
from ._phase import Lifecycle, Phase
from ._records import Recorder
from ._spec import InitType

if TYPE_CHECKING:
    from ._processes import Process

__all__ = ["MAX_PAYLOAD", "Invocation", "RuntimeApi"]

MAX_PAYLOAD = 6 * 1024 * 1024 + 100
"""Largest invocation response (RIE ``interop/model.go MaxPayloadSize``)."""


@dataclass
class Invocation:
    """One event, from being handed to the runtime to its answer and the ``next`` after it."""

    request_id: str
    body: bytes
    headers: list[tuple[str, str]]
    taken: bool = False
    response: bytes | None = None
    error: bytes | None = None
    error_type: str | None = None
    answered: float | None = None
    runtime_done: float | None = None
    extensions_done: dict[str, float] = field(default_factory=dict)

    def outcome(self) -> tuple[Literal["success", "error"], str | None, bytes]:
        """What the runtime answered: ``error`` with its type (header, body, else rapid's
        default), or ``success`` with the response."""
        if self.error is not None:
            error_type = self.error_type or json_field(self.error, "errorType") or "Runtime.Unknown"
            return "error", error_type, self.error
        return "success", None, self.response or b""


class RuntimeApi:
    """The runtime's state in the handshake, guarded by ``lifecycle.cv``."""

    def __init__(self, lifecycle: Lifecycle, recorder: Recorder, init_type: InitType) -> None:
        self._lifecycle = lifecycle
        self._cv = lifecycle.cv
        self._recorder = recorder
        self._init_type = init_type
        self._lmi = init_type == "lambda-managed-instances"
        self.waiting = False
        """Parked in ``invocation/next``."""
        self.first_next: float | None = None
        """When it first called ``next`` (or ``restore/next``): INIT is over for it, and
        extensions can no longer register."""
        self.restore_waiting = False
        """SnapStart: parked in ``restore/next``."""
        self.restore_released = False
        """SnapStart: the restore happened, ``restore/next`` may be answered."""
        self.init_error: dict[str, Any] | None = None
        self.init_error_type: str | None = None
        self.pending: Invocation | None = None
        """The event waiting for the runtime's ``next``."""
        self.current: Invocation | None = None
        """The event of the invocation under way."""
        # Lambda Managed Instances: events wait in a queue for any worker's ``next``.
        self.queue: deque[Invocation] = deque()
        self.inflight: dict[str, Invocation] = {}

    def reset_for_init(self, *, restore_released: bool) -> None:
        """(cv held) A new INIT: a new runtime, nothing said yet."""
        self.waiting = False
        self.first_next = None
        self.restore_waiting = False
        self.restore_released = restore_released
        self.init_error = None
        self.init_error_type = None
        self.pending = None
        self.current = None

    def reset_for_restore(self) -> None:
        """(cv held) A restored copy: its runtime is parked in ``restore/next``, as snapshotted."""
        self.waiting = False
        self.restore_waiting = True
        self.restore_released = False
        self.init_error = None
        self.init_error_type = None

    def forget_invocations(self) -> None:
        """(cv held) The processes are gone: no event waits for them any more."""
        self.waiting = False
        self.pending = None
        self.current = None
        self.queue.clear()
        self.inflight.clear()

    def ready(self) -> bool:
        """(cv held) The runtime has done its part of INIT."""
        if self._lmi:  # ready once any worker has called next
            return self.first_next is not None
        if self._init_type == "snap-start" and not self.restore_released:
            return self.restore_waiting
        return self.waiting

    def hand_over(self, inv: Invocation) -> None:
        """(cv held) ``inv`` is the event for the runtime's next ``next``."""
        self.pending = inv
        self.current = inv
        self._cv.notify_all()

    def run_queued(
        self,
        inv: Invocation,
        deadline: float,
        max_concurrency: int,
        runtime: Process | None,
        timeout_s: float,
    ) -> tuple[Literal["success", "error", "timeout", "crash"], str | None, bytes]:
        """Managed Instances: queue ``inv`` for any worker's ``next`` and wait for its answer
        (or the deadline); returns (status, error type, payload)."""
        lifecycle = self._lifecycle
        with self._cv:
            gen = lifecycle.gen
            if len(self.inflight) >= max_concurrency:
                # Lambda rejects a request when every worker is busy.
                error_type = "TooManyRequestsException"
                message = f"all {max_concurrency} workers are busy"
                return "error", error_type, _error_doc(error_type, message)
            self.inflight[inv.request_id] = inv
            self.queue.append(inv)
            self._cv.notify_all()
            lifecycle.wait(
                lambda: (
                    inv.answered is not None
                    or lifecycle.gen != gen
                    or lifecycle.closed
                    or (runtime is not None and runtime.exited is not None)
                ),
                deadline,
            )
            self.inflight.pop(inv.request_id, None)
            if not inv.taken:
                with contextlib.suppress(ValueError):
                    self.queue.remove(inv)
            if inv.answered is not None:
                return inv.outcome()
            if lifecycle.gen != gen or (runtime is not None and runtime.exited):
                crashed = "Runtime.ExitError"
                return "crash", crashed, _error_doc(crashed, "Runtime exited")
            return "timeout", "Sandbox.Timedout", timeout_error(inv.request_id, timeout_s)

    # --------------------------------------------------------------------------- the routes

    def route(self, req: Request, rest: str) -> Response | Detach | None:
        parts = rest.split("/")
        match (req.method, parts):
            case ("GET", ["invocation", "next"]):
                return self._queue_next() if self._lmi else self._next()
            case ("POST", ["invocation", request_id, ("response" | "error") as kind]):
                return self._answer(req, request_id, kind)
            case ("POST", ["init", "error"]):
                return self._init_error(req)
            case ("GET", ["restore", "next"]):
                return self._restore_next()
            case ("POST", ["restore", "error"]):
                return self._restore_error(req)
        return NOT_FOUND

    def _state(self) -> str:
        """The runtime's state under rapid's names, for error messages."""
        inv = self.current
        if inv is not None and inv.taken and inv.answered is None:
            return "Running"
        if self.restore_waiting:
            return "RestoreReady"
        if self.waiting:
            return "Ready"
        return "Started" if self.first_next is None else "Ready"

    def _first_next(self, event: str, **fields: Any) -> None:
        """(cv held) Note the runtime's first ``next``: INIT's end for the runtime."""
        if self.first_next is None:
            self.first_next = time.monotonic()
            self._recorder.record(event, **fields, phase=str(self._lifecycle.phase))

    def _next(self) -> Response | None:
        with self._cv:
            gen = self._lifecycle.gen
            current = self.current
            if self.waiting or (current is not None and current.taken and current.answered is None):
                return invalid_state(self._state(), "Ready")
            now = time.monotonic()
            self.waiting = True
            if current is not None and current.answered is not None:
                current.runtime_done = now
            self._first_next("runtime_next", first=True)
            self._cv.notify_all()
            if not self._lifecycle.park(gen, lambda: self.pending is not None):
                return None
            inv = self.pending
            if inv is None:
                return None
            self.pending = None
            inv.taken = True
            self.waiting = False
            self._cv.notify_all()
        return Response(200, inv.body, inv.headers)

    def _queue_next(self) -> Response | None:
        """Managed Instances: any idle worker takes the oldest queued event."""
        with self._cv:
            gen = self._lifecycle.gen
            self.waiting = True
            self._first_next("runtime_next", first=True)
            self._cv.notify_all()
            if not self._lifecycle.park(gen, lambda: bool(self.queue), thawed=False):
                return None
            inv = self.queue.popleft()
            inv.taken = True
            self._cv.notify_all()
        return Response(200, inv.body, inv.headers)

    def _answer(self, req: Request, request_id: str, kind: str) -> Response:
        with self._cv:
            inv = self.inflight.get(request_id) if self._lmi else self.current
            if self._lmi and inv is None:
                return error(400, "InvalidRequestID", "Invalid request ID")
            if inv is None or not inv.taken or inv.answered is not None:
                return invalid_state(
                    self._state(),
                    "InvocationResponse" if kind == "response" else "InvocationErrorResponse",
                )
            if request_id != inv.request_id:
                return error(400, "InvalidRequestID", "Invalid request ID")
            if kind == "response" and len(req.body) > MAX_PAYLOAD:
                _too_large(inv, len(req.body))
                self._cv.notify_all()
                return error(413, "RequestEntityTooLarge", "Exceeded maximum allowed payload size")
            if kind == "response":
                inv.response = req.body
            else:
                inv.error = req.body or b"{}"
                inv.error_type = req.header("Lambda-Runtime-Function-Error-Type")
            inv.answered = time.monotonic()
            self._cv.notify_all()
        self._recorder.record("runtime_" + kind, request_id=request_id, bytes=len(req.body))
        return json_response(202, {"status": "OK"})

    def _init_error(self, req: Request) -> Response:
        with self._cv:
            if self._lifecycle.phase is not Phase.INIT or self.first_next is not None:
                return invalid_state(self._state(), "InitError")
            body = json_body(req.body)
            self.init_error = body
            self.init_error_type = (
                req.header("Lambda-Runtime-Function-Error-Type")
                or (body or {}).get("errorType")
                or "Runtime.Unknown"
            )
            self._cv.notify_all()
        self._recorder.record("runtime_init_error", error_type=self.init_error_type, error=body)
        return json_response(202, {"status": "OK"})

    # ----------------------------------------------------------------------------- SnapStart

    def _restore_next(self) -> Response | Detach | None:
        with self._cv:
            if self._init_type != "snap-start" or self.restore_waiting:
                return invalid_state(self._state(), "RestoreReady")
            gen = self._lifecycle.gen
            self.restore_waiting = True
            self._first_next("runtime_restore_next")
            self._cv.notify_all()
            return self.await_restore(gen)

    def await_restore(self, gen: int) -> Response | Detach | None:
        """(cv held) Park in ``restore/next`` until the restore, or go into the snapshot."""
        lifecycle = self._lifecycle
        if not lifecycle.park(gen, lambda: self.restore_released or lifecycle.detaching):
            return None
        if not self.restore_released:
            return Detach("runtime")
        self.restore_waiting = False
        return json_response(200, {})

    def release_restore(self) -> None:
        """(cv held) The environment is restored: answer ``restore/next``."""
        self.restore_released = True
        self._cv.notify_all()

    def _restore_error(self, req: Request) -> Response:
        with self._cv:
            if self.restore_waiting or not self.restore_released:
                return invalid_state(self._state(), "RestoreError")
            self.init_error_type = (
                req.header("Lambda-Runtime-Function-Error-Type") or "Runtime.Unknown"
            )
            self.init_error = json_body(req.body)
            self._cv.notify_all()
        self._recorder.record("runtime_restore_error", error_type=self.init_error_type)
        return json_response(202, {"status": "OK"})


def _error_doc(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def _too_large(inv: Invocation, size: int) -> None:
    """A response over 6 MiB becomes the function's error, as on Lambda."""
    inv.error = json.dumps(
        {
            "errorMessage": (
                f"Response payload size ({size} bytes) exceeded maximum "
                f"allowed payload size ({MAX_PAYLOAD - 100} bytes)."
            ),
            "errorType": "Function.ResponseSizeTooLarge",
        }
    ).encode()
    inv.error_type = "Function.ResponseSizeTooLarge"
    inv.answered = time.monotonic()
