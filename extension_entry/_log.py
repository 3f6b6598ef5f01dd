"""One log line per decision, prefixed with the extension's name.

Lines go straight to file descriptor 2 with one ``os.write`` each (after Lambda's log capture
they land in the function's CloudWatch stream): no buffering, and lines from the listener's
threads and the main thread never interleave (a write of up to PIPE_BUF, 4096 bytes, to a pipe
is atomic). Logging never raises: a closed stderr must not take the extension down.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # collections.abc costs ~1 ms to import; mypy reads True
if TYPE_CHECKING:
    from collections.abc import Callable

    #: What every step takes to log with: one call, one line. (No ``type`` statement: the
    #: extension must run on whatever Python the function has, see ``__init__``.)
    LogFn = Callable[[str], None]

STDERR = 2


class Log:
    """``log("hold started: ...")`` writes ``[<name>] hold started: ...``."""

    def __init__(self, name: str, fd: int = STDERR) -> None:
        self.name = name
        self._prefix = f"[{name}] "
        self._fd = fd

    def __call__(self, message: str) -> None:
        line = self._prefix + " ".join(message.splitlines()) + "\n"
        data = line.encode("utf-8", "backslashreplace")
        try:
            while data:
                data = data[os.write(self._fd, data) :]
        except OSError:
            pass
