"""Lambda's lifecycle around the warm loop: SIGTERM, SnapStart hooks, the INIT re-run marker.

Installed once per process, at the first ``@warm_init`` (that is, during the handler module's
import), and only in a Lambda runtime (``AWS_LAMBDA_RUNTIME_API`` is set):

- SIGTERM: Lambda sends it to the runtime at SHUTDOWN when an extension is registered, then
  SIGKILLs it after 300 ms. The handler runs the shutdown hooks and init teardowns within
  ``WARMUP_SHUTDOWN_TIMEOUT``, stops the loop, then hands the signal on to whatever handled it
  before (by default: the process ends, killed by SIGTERM, as it would have been).
- SnapStart: a before-snapshot hook waits for every init, so the snapshot never holds an init
  half done; an after-restore hook runs the inits' ``after_restore`` hooks.
- A marker file in ``/tmp`` tells a re-run INIT (Lambda's suppressed init) from the first.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

from . import _constants as c

logger = logging.getLogger("lambda_warmup")

type SignalHandler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


def install_sigterm_handler(on_sigterm: Callable[[], None]) -> bool:
    """Run ``on_sigterm()`` at SIGTERM, then chain to the handler that was there before.

    Only the main thread may install a signal handler (and Python runs handlers there only);
    from any other thread this logs why and returns ``False``.

    The kernel may deliver the signal to another thread than the main one (it does when the
    main thread is not yet running again, right after Lambda thaws the sandbox). CPython then
    only sets a flag, and a main thread blocked in a lock (awslambdaric's main thread joins the
    thread that polls ``next``) would never run the handler. So a watcher thread reads the
    signal's byte from the wakeup fd and sends SIGTERM to the main thread itself, which
    interrupts its wait. If the main thread still has not run the handler 100 ms later (it is
    stuck in C code that retries on EINTR, such as awslambdaric's blocking ``next`` without
    thread polling), the watcher runs ``on_sigterm()`` itself and then ends the process with
    status 143 (128 + SIGTERM), since only the main thread could run a previous Python handler.
    """
    if threading.current_thread() is not threading.main_thread():
        logger.warning(
            "lambda-warmup: first @warm_init declared off the main thread; no SIGTERM handler, "
            "so init teardowns and shutdown hooks will not run at Lambda's SHUTDOWN"
        )
        return False
    previous: SignalHandler = signal.getsignal(signal.SIGTERM)
    token = threading.Lock()  # taken once, never released: whoever takes it runs the shutdown
    in_main = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        if not token.acquire(blocking=False):
            return  # the same SIGTERM, redirected to the main thread by the watcher
        in_main.set()
        _shutdown(on_sigterm)
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_IGN:
            return
        else:  # SIG_DFL (or unknown): end the process the way SIGTERM would have
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    def off_main() -> None:
        if not token.acquire(blocking=False):
            return
        logger.warning(
            "lambda-warmup: SIGTERM: the main thread is not running signal handlers; "
            "shutting down from the thread %s",
            threading.current_thread().name,
        )
        _shutdown(on_sigterm)
        if previous == signal.SIG_IGN:
            return
        if callable(previous):
            logger.warning("lambda-warmup: the previous SIGTERM handler cannot run; exiting")
        os._exit(128 + signal.SIGTERM)

    signal.signal(signal.SIGTERM, handle)
    _watch_wakeup_fd(in_main, off_main)
    return True


def _shutdown(on_sigterm: Callable[[], None]) -> None:
    try:
        on_sigterm()
    except Exception:
        logger.exception("lambda-warmup: shutdown at SIGTERM failed")
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()


#: How often, 20 ms apart, the watcher re-sends SIGTERM to the main thread before it runs the
#: shutdown itself.
_REDIRECTS = 5


def _watch_wakeup_fd(in_main: threading.Event, off_main: Callable[[], None]) -> None:
    """Redirect a SIGTERM that reached another thread to the main thread (see above)."""
    reader, writer = socket.socketpair()
    writer.setblocking(False)
    try:
        old = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    except (ValueError, OSError) as error:
        logger.debug("lambda-warmup: no signal wakeup fd: %s", error)
        reader.close()
        writer.close()
        return
    if old != -1:  # someone else's (an asyncio loop in the main thread): leave it to them
        signal.set_wakeup_fd(old)
        reader.close()
        writer.close()
        return
    main = threading.main_thread().ident
    assert main is not None

    def watch() -> None:
        while not in_main.is_set():
            try:
                data = reader.recv(64)
            except OSError:
                return
            if not data:
                return
            if signal.SIGTERM not in data:
                continue
            for _ in range(_REDIRECTS):
                if in_main.wait(0.02):
                    return
                with contextlib.suppress(OSError):
                    signal.pthread_kill(main, signal.SIGTERM)
            if not in_main.wait(0.02):
                off_main()
                return

    # Both ends live as long as the process; the thread is a daemon and never joined.
    _KEEP.extend((reader, writer))
    threading.Thread(target=watch, name="lambda-warmup-signals", daemon=True).start()


_KEEP: list[socket.socket] = []


def register_snapstart_hooks(before: Callable[[], None], after: Callable[[], None]) -> bool:
    """Register the runtime hooks with ``snapshot_restore_py`` (in Lambda's Python runtimes)."""
    try:
        hooks = importlib.import_module("snapshot_restore_py")
    except ImportError:
        logger.warning(
            "lambda-warmup: AWS_LAMBDA_INITIALIZATION_TYPE=snap-start but snapshot_restore_py "
            "is not importable; the snapshot may catch inits half done"
        )
        return False
    hooks.register_before_snapshot(before)
    hooks.register_after_restore(after)
    return True


# -- INIT re-run detection -----------------------------------------------------------------


@dataclass(frozen=True)
class PreviousInit:
    """The marker a previous process of this sandbox left: its INIT never saw an invocation."""

    pid: int
    started: float
    """``time.time()`` when its first init started."""
    settled_ms: float | None
    """How long its inits took to settle, if they did."""


class InitMarker:
    """``/tmp/lambda-warmup-init.json``: written when this process's first init starts."""

    def __init__(self, init_type: str, directory: str | None = None) -> None:
        self.path = os.path.join(directory or _temp_dir(), c.INIT_MARKER_NAME)
        self.init_type = init_type
        self.started = time.time()
        self.previous: PreviousInit | None = None
        self._settled_ms: float | None = None
        self._invoked = False

    def begin(self) -> PreviousInit | None:
        """Read what a previous INIT of this sandbox left, then claim the marker."""
        old = self._read()
        if (
            old is not None
            and not old.get("invoked")
            and old.get("pid") != os.getpid()
            and self.init_type != c.LAMBDA_MANAGED_INSTANCES  # workers share /tmp, never re-init
        ):
            with contextlib.suppress(TypeError, ValueError):
                settled = old.get("settled_ms")
                self.previous = PreviousInit(
                    pid=int(old["pid"]),
                    started=float(old["started"]),
                    settled_ms=None if settled is None else float(settled),
                )
        self._write()
        return self.previous

    def settled(self, duration_ms: float) -> None:
        self._settled_ms = duration_ms
        self._write()

    def invoked(self) -> None:
        if not self._invoked:
            self._invoked = True
            self._write()

    def _read(self) -> dict[str, Any] | None:
        try:
            with open(self.path, encoding="utf-8") as file:
                data = json.load(file)
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _write(self) -> None:
        body = {
            "pid": os.getpid(),
            "started": self.started,
            "init_type": self.init_type,
            "settled_ms": self._settled_ms,
            "invoked": self._invoked,
        }
        try:
            temp = f"{self.path}.{os.getpid()}"
            with open(temp, "w", encoding="utf-8") as file:
                file.write(json.dumps(body))
            os.replace(temp, self.path)
        except OSError as error:
            logger.debug("lambda-warmup: INIT marker %s not written: %s", self.path, error)


def _temp_dir() -> str:
    """``tempfile.gettempdir()``, without importing ``tempfile`` when nothing has: with
    ``shutil``, ``random``, ``bz2``, ``lzma`` and ``pathlib`` it costs ~5 ms of INIT (measured in
    the runtime's Python). Its choice on Linux: ``TMPDIR``, ``TEMP``, ``TMP``, else ``/tmp``; an
    unwritable one only means no marker (``_write`` logs why)."""
    loaded = sys.modules.get("tempfile")
    if loaded is not None:
        return str(loaded.gettempdir())
    for name in ("TMPDIR", "TEMP", "TMP"):
        if value := os.environ.get(name):
            return value
    return "/tmp"  # Lambda's only writable directory, and tempfile's pick there


def rerun_warning(previous: PreviousInit, started: float, settled_ms: float) -> str:
    """The one warning of a re-run INIT: what was measured, and what to change."""
    earlier = started - previous.started
    if previous.settled_ms is None:
        before = "its inits had not settled"
    else:
        before = f"its inits settled in {previous.settled_ms:.0f} ms"
    return (
        f"lambda-warmup: INIT is running again (Lambda's suppressed init, inside the first "
        f"invocation): the INIT that started {earlier:.1f} s earlier in this sandbox (pid "
        f"{previous.pid}) never reached an invocation ({before}), so it timed out or failed; "
        f"this run's inits settled in {settled_ms:.0f} ms. On-demand, all of INIT (extensions, "
        f"runtime start, imports, the extension's hold) must end within "
        f"{c.ON_DEMAND_INIT_LIMIT:g} s, or Lambda redoes it inside the first request, billed and "
        f"bounded by the function timeout. Make the inits or imports faster, lower "
        f"WARMING_TIMEOUT, or use provisioned concurrency or SnapStart (INIT limit "
        f"{c.LONG_INIT_LIMIT:g} s)."
    )
