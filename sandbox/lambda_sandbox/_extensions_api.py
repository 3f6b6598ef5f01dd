"""The Extensions API (``/2020-01-01/extension/``): register, ``event/next``, init and exit errors.

Status codes and error bodies are RIE's. An extension's ``event/next`` is held (parked) until an
event is queued for it (``INVOKE`` or ``SHUTDOWN``), or, at a SnapStart checkpoint, handed over
with its connection into the snapshot.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._answers import NOT_FOUND, error, invalid_state, json_response
from ._http import Detach, Request, Response
from ._phase import Lifecycle, Phase
from ._records import Recorder
from ._spec import FunctionSpec

if TYPE_CHECKING:
    from ._runtime_api import Invocation

__all__ = ["ACCOUNT_ID", "MAX_EXTENSIONS", "Extension", "ExtensionsApi"]

ACCOUNT_ID = "123456789012"
MAX_EXTENSIONS = 10


@dataclass
class Extension:
    id: str
    name: str
    events: list[str]
    external: bool
    registered: float
    waiting: bool = False
    """Parked in ``event/next``."""
    first_next: float | None = None
    events_queue: deque[dict[str, Any]] = field(default_factory=deque)
    init_error: str | None = None
    exit_error: str | None = None
    handling: str | None = None
    """Request id of the INVOKE event the extension took and has not called next after yet."""

    @property
    def invoke_done(self) -> bool:
        """Back in ``next`` with no INVOKE left to take (true too if not subscribed)."""
        return "INVOKE" not in self.events or (self.waiting and not self.events_queue)


class ExtensionsApi:
    """The extensions of one execution environment (``extensions``, by id) and their API."""

    def __init__(
        self,
        lifecycle: Lifecycle,
        recorder: Recorder,
        spec: FunctionSpec,
        *,
        managed_instances: bool,
        registration_closed: Callable[[], bool],
        current: Callable[[], Invocation | None],
    ) -> None:
        self._lifecycle = lifecycle
        self._cv = lifecycle.cv
        self._recorder = recorder
        self._spec = spec
        self._lmi = managed_instances
        self._registration_closed = registration_closed
        """Closed once the runtime has called ``next`` (as rapid closes it)."""
        self._current = current
        self.extensions: dict[str, Extension] = {}
        self.external_names: set[str] = set()
        """Names of the files in ``opt/extensions``, known before any starts (an extension may
        register before its spawn returns)."""

    def route(self, req: Request, rest: str) -> Response | Detach | None:
        match (req.method, rest):
            case ("POST", "register"):
                return self._register(req)
            case ("GET", "event/next"):
                ext_or_err = self._identify(req)
                if isinstance(ext_or_err, Response):
                    return ext_or_err
                return self._next(ext_or_err)
            case ("POST", ("init/error" | "exit/error") as what):
                ext_or_err = self._identify(req)
                if isinstance(ext_or_err, Response):
                    return ext_or_err
                return self._report_error(req, ext_or_err, what)
        return NOT_FOUND

    def _register(self, req: Request) -> Response:
        name = req.header("Lambda-Extension-Name") or ""
        if not name:
            return error(403, "Extension.InvalidExtensionName", "Empty extension name")
        events_or_err = _registered_events(req, managed_instances=self._lmi)
        if isinstance(events_or_err, Response):
            return events_or_err
        events = events_or_err
        with self._cv:
            refused = self._refuse_registration(name, events)
            if refused is not None:
                return refused
            ext = Extension(
                id=str(uuid.uuid4()),
                name=name,
                events=list(events),
                external=name in self.external_names,
                registered=time.monotonic(),
            )
            self.extensions[ext.id] = ext
            self._cv.notify_all()
        self._recorder.record("extension_register", name=name, events=events, external=ext.external)
        payload: dict[str, str] = {
            "functionName": self._spec.name,
            "functionVersion": self._spec.version,
            "handler": self._spec.handler,
        }
        if "accountId" in (req.header("Lambda-Extension-Accept-Feature") or ""):
            payload["accountId"] = ACCOUNT_ID
        return Response(
            200,
            json.dumps(payload).encode(),
            [("Content-Type", "application/json"), ("Lambda-Extension-Identifier", ext.id)],
        )

    def _refuse_registration(self, name: str, events: list[str]) -> Response | None:
        """(cv held) Why this registration is refused now, if it is."""
        if self._lifecycle.phase is not Phase.INIT or self._registration_closed():
            return error(
                403, "Extension.RegistrationClosed", "Extension registration closed already"
            )
        if name not in self.external_names and "SHUTDOWN" in events:
            return error(
                403,
                "Extension.InvalidEventType",
                "Internal extensions cannot register for SHUTDOWN",
            )
        if any(e.name == name for e in self.extensions.values()):
            return error(
                403, "Extension.InvalidExtensionState", f"Extension {name} already registered"
            )
        if len(self.extensions) >= MAX_EXTENSIONS:
            return error(403, "Extension.TooManyExtensions", "Too many extensions registered")
        return None

    def _identify(self, req: Request) -> Extension | Response:
        ident = req.header("Lambda-Extension-Identifier")
        if not ident:
            return error(
                403,
                "Extension.MissingExtensionIdentifier",
                "Missing Lambda-Extension-Identifier header",
            )
        try:
            uuid.UUID(ident)
        except ValueError:
            return error(
                403, "Extension.InvalidExtensionIdentifier", "Invalid Lambda-Extension-Identifier"
            )
        with self._cv:
            ext = self.extensions.get(ident)
        if ext is None:
            return error(403, "Extension.UnknownExtensionIdentifier", "Unknown extension " + ident)
        return ext

    def _report_error(self, req: Request, ext: Extension, what: str) -> Response:
        error_type = req.header("Lambda-Extension-Function-Error-Type")
        if not error_type:
            return error(
                403,
                "Extension.MissingHeader",
                "Missing Lambda-Extension-Function-Error-Type header",
            )
        with self._cv:
            if what == "init/error":
                ext.init_error = error_type
            else:
                ext.exit_error = error_type
            self._cv.notify_all()
        self._recorder.record(
            "extension_" + what.replace("/", "_"), name=ext.name, error_type=error_type
        )
        return json_response(202, {"status": "OK"})

    def _next(self, ext: Extension) -> Response | Detach | None:
        with self._cv:
            if ext.waiting:
                return invalid_state("Ready", "Ready", who="extension")
            gen = self._lifecycle.gen
            ext.waiting = True
            inv = self._current()
            if inv is not None and ext.handling == inv.request_id:
                inv.extensions_done[ext.name] = time.monotonic()
            ext.handling = None
            if ext.first_next is None:
                ext.first_next = time.monotonic()
                self._recorder.record(
                    "extension_next", name=ext.name, first=True, phase=str(self._lifecycle.phase)
                )
            self._cv.notify_all()
            return self.await_event(ext, gen)

    def await_event(self, ext: Extension, gen: int) -> Response | Detach | None:
        """(cv held) Park in ``event/next`` until an event, or go into the snapshot."""
        lifecycle = self._lifecycle
        if not lifecycle.park(gen, lambda: bool(ext.events_queue) or lifecycle.detaching):
            return None
        if not ext.events_queue:
            return Detach(ext.id)
        event = ext.events_queue.popleft()
        ext.waiting = False
        ext.handling = event.get("requestId")
        self._cv.notify_all()
        headers = [("Lambda-Extension-Event-Identifier", str(uuid.uuid4()))]
        if event["eventType"] == "INVOKE":
            headers.append(("Content-Type", "application/json"))
        return Response(200, json.dumps(event).encode(), headers)


def _registered_events(req: Request, *, managed_instances: bool) -> list[str] | Response:
    """The events a register body asks for, or why it is refused."""
    try:
        body = json.loads(req.body or b"null")
    except ValueError:
        return error(403, "InvalidRequestFormat", "Request body is not valid JSON")
    if not isinstance(body, dict):
        return error(403, "InvalidRequestFormat", "Request body must be a JSON object")
    if "configurationKeys" in body:
        return error(403, "InvalidRequestFormat", "configurationKeys is not supported")
    events = body.get("events") or []
    if not isinstance(events, list) or any(e not in ("INVOKE", "SHUTDOWN") for e in events):
        return error(403, "Extension.InvalidEventType", f"Invalid event types {events!r}")
    if managed_instances and "INVOKE" in events:  # as RIE-LMI: no INVOKE events on LMI
        return error(
            403, "Extension.InvalidEventType", "INVOKE is not supported on Managed Instances"
        )
    return events
