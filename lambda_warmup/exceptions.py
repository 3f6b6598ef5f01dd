"""Exceptions raised by lambda-warmup.

```
WarmupError
├── InitFailedError               a required init failed; names the init(s) and causes
│   └── InitTimeoutError          an init ran past its own timeout (also a TimeoutError)
├── InitCycleError                an init awaited itself, or inits awaited each other in a cycle
├── InitNotReadyError             an init's value was read before it settled
│   └── InitWaitTimeoutError      a wait for inits ran out of time (also a TimeoutError)
├── AfterRestoreError             an after-restore hook failed or ran out of time (SnapStart)
└── SettingsError                 a @warm_init option of the wrong form (also a ValueError)
```

``describe`` (not exported) gives an error's one-line form, as logs, reports and the errors
raised here quote it.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AfterRestoreError",
    "InitCycleError",
    "InitFailedError",
    "InitNotReadyError",
    "InitTimeoutError",
    "InitWaitTimeoutError",
    "SettingsError",
    "WarmupError",
]


class WarmupError(Exception):
    """Base class of every error lambda-warmup raises."""


class InitFailedError(WarmupError):
    """One or more required inits failed.

    ``init_names`` lists them; the first failure is also the ``__cause__``, so the traceback
    shows the init's own exception.
    """

    def __init__(self, message: str, init_names: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.init_names = tuple(init_names)

    @property
    def init_name(self) -> str | None:
        return self.init_names[0] if self.init_names else None


class InitTimeoutError(InitFailedError, TimeoutError):
    """An init attempt ran past the ``timeout`` it was declared with."""


class InitCycleError(WarmupError):
    """An init awaited its own handle, or a chain of inits awaited each other in a cycle."""

    def __init__(self, message: str, cycle: Sequence[str]) -> None:
        super().__init__(message)
        self.cycle = tuple(cycle)


class InitNotReadyError(WarmupError):
    """An init's value was asked for before the init settled."""


class InitWaitTimeoutError(InitNotReadyError, TimeoutError):
    """Waiting for inits ran out of time (a ``result(timeout)`` or an invocation's deadline)."""


class AfterRestoreError(WarmupError):
    """SnapStart: an init's after-restore hook failed, or the hooks ran past their budget.

    Raised from the runtime's after-restore hook, so Lambda reports ``Runtime.AfterRestoreError``
    and discards the restored environment. ``init_names`` lists the inits whose hooks failed.
    """

    def __init__(self, message: str, init_names: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.init_names = tuple(init_names)


class SettingsError(WarmupError, ValueError):
    """A ``@warm_init`` option has a value of the wrong form (``timeout=-1``); the message is
    one line naming the option, the value and the accepted form.

    A bad environment variable is never raised: it is logged as one such line, and its default
    is used (the function keeps serving).
    """


def describe(error: BaseException | None) -> str:
    """``Type: message`` of an error, the form used in logs, reports and raised errors."""
    if error is None:
        return "no error"
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
