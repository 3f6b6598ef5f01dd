"""Where the execution environment is in its lifecycle, and the one lock everything waits on.

Every thread of the sandbox (the caller's, one per API connection, one per process reader and
watcher) meets on :attr:`Lifecycle.cv`. The phase changes only in :meth:`Lifecycle.move_to`, and
only along :data:`TRANSITIONS`: a move the table does not allow is a bug in the sandbox, so it
raises rather than leaving the environment in a state no code expects.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum

__all__ = ["TRANSITIONS", "Lifecycle", "Phase", "PhaseError"]


class Phase(StrEnum):
    NEW = "new"
    """Made, nothing started yet."""
    INIT = "init"
    """Processes starting: extensions register, the runtime imports the handler. An INIT that
    failed stays here until its teardown."""
    READY = "ready"
    """INIT done: idle (frozen) between invocations, or waiting for its SnapStart restore."""
    INVOKE = "invoke"
    """An event handed to the runtime and INVOKE to the extensions."""
    SHUTDOWN = "shutdown"
    """Processes shut down (a reset or a spindown); the next invocation initialises again, or
    restores again from the SnapStart snapshot."""
    CLOSED = "closed"
    """``shutdown()`` done: the API server is stopped, the work dir removed."""


TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.NEW: frozenset({Phase.INIT, Phase.CLOSED}),
    Phase.INIT: frozenset({Phase.READY, Phase.SHUTDOWN, Phase.CLOSED}),
    Phase.READY: frozenset({Phase.INVOKE, Phase.SHUTDOWN, Phase.CLOSED}),
    Phase.INVOKE: frozenset({Phase.READY, Phase.SHUTDOWN, Phase.CLOSED}),
    # READY again: SnapStart's next environment comes from the snapshot, not from an INIT.
    Phase.SHUTDOWN: frozenset({Phase.INIT, Phase.READY, Phase.CLOSED}),
    Phase.CLOSED: frozenset(),
}
"""The legal moves. An INIT starts from NEW or after a teardown, never over live processes."""


class PhaseError(RuntimeError):
    """A move :data:`TRANSITIONS` does not allow: a bug in the sandbox, not in the function."""


class Lifecycle:
    """The phase and the state every room reads under :attr:`cv`.

    ``gen`` counts process generations: it moves on whenever the processes are replaced (a new
    INIT, a restore, a teardown), so that a request parked for an old generation gives up
    instead of answering a process that is gone.
    """

    def __init__(self) -> None:
        self.cv = threading.Condition()
        self.phase = Phase.NEW
        self.gen = 0
        self.frozen = False
        """Every process is stopped (SIGSTOP); a parked request answers only once thawed."""
        self.detaching = False
        """SnapStart checkpoint: parked requests give their connections away (see
        ``Sandbox._take_snapshot``) instead of waiting for an event."""

    def move_to(self, phase: Phase) -> None:
        """(cv held, or taken here) The one place where the phase changes."""
        with self.cv:
            if phase not in TRANSITIONS[self.phase]:
                raise PhaseError(f"phase {self.phase} cannot move to {phase}")
            self.phase = phase
            self.cv.notify_all()

    @property
    def ready(self) -> bool:
        """INIT has succeeded and no teardown has happened since."""
        return self.phase in (Phase.READY, Phase.INVOKE)

    @property
    def closed(self) -> bool:
        return self.phase is Phase.CLOSED

    def next_generation(self) -> int:
        """(cv held) The processes are being replaced: parked requests of the old ones end."""
        self.gen += 1
        self.cv.notify_all()
        return self.gen

    def wait(self, predicate: Callable[[], bool], deadline: float) -> bool:
        """(cv held) Wait until ``predicate()`` or the monotonic ``deadline``."""
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.cv.wait(min(remaining, 1.0))
        return True

    def park(self, gen: int, ready: Callable[[], bool], *, thawed: bool = True) -> bool:
        """(cv held) Hold an API request until ``ready()`` (and, by default, the sandbox is not
        frozen); False if its processes were replaced (``gen`` moved on) or the sandbox closed."""
        while self.gen == gen and not self.closed and (not ready() or (thawed and self.frozen)):
            self.cv.wait()
        return self.gen == gen and not self.closed
