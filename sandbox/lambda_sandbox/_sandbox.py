"""One Lambda execution environment, run from real processes on this machine.

Lifecycle as Lambda does it (``../shared/docs/lambda-platform.md`` §1-6):

- INIT: start every executable in ``opt/extensions`` in parallel, wait until each has registered,
  start the runtime (``python -m awslambdaric <handler>`` with cwd = task root); INIT ends when the
  runtime and every registered extension have called ``next``. On-demand the whole INIT must fit in
  ``on_demand_init_limit_s`` (10 s on Lambda); otherwise the environment is reset and INIT is redone
  inside the first invocation ("suppressed init", bounded by the function timeout). Provisioned
  concurrency and SnapStart get max(130 s, timeout).
- SnapStart, with CRIU (root; ``_criu.py``): INIT runs in a pid namespace of its own, and when it
  ends the process tree is checkpointed and ended; every restore makes a new execution
  environment from that one snapshot, as many times as asked (``_snapshot.py``). Without CRIU
  the INIT's live processes are "restored" once.
- INVOKE: thaw, hand the event to the runtime and INVOKE to subscribed extensions, wait for the
  response and for the runtime and those extensions to call ``next`` again, bounded by the function
  timeout. A timeout or a crash resets the environment; the next invocation initialises again.
- Between events every process of the sandbox is stopped (SIGSTOP to its process group).
- SHUTDOWN: SIGTERM to the runtime (SIGKILL after its share of the budget), SHUTDOWN to subscribed
  extensions with a deadline, then SIGKILL to whatever is left when the budget ends.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import math
import os
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import termios
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

from ._criu import Criu, SnapshotUnavailableError, find_criu
from ._http import Detach, HttpServer, Request, Response
from ._runtime_venv import runtime_venv
from ._snapshot import Checkpoint, Namespace, NsProcess, SnapshotError, child_pids

__all__ = [
    "FunctionSpec",
    "InitResult",
    "InitType",
    "InvokeResult",
    "Sandbox",
    "SandboxError",
]

InitType = Literal["on-demand", "provisioned-concurrency", "snap-start", "lambda-managed-instances"]
INIT_TYPES: tuple[InitType, ...] = (
    "on-demand",
    "provisioned-concurrency",
    "snap-start",
    "lambda-managed-instances",
)
LMI: InitType = "lambda-managed-instances"

ACCOUNT_ID = "123456789012"
MAX_PAYLOAD = 6 * 1024 * 1024 + 100
"""Largest invocation response (RIE ``interop/model.go MaxPayloadSize``)."""
MAX_EXTENSIONS = 10
LONG_INIT_LIMIT_S = 130.0
RESTORE_LIMIT_S = 10.0
RUNTIME_SHUTDOWN_SHARE = 300 / 2000
"""With external extensions the runtime gets 300 ms of the 2,000 ms shutdown budget."""

_EXTENSION_ENV_EXCLUDED = frozenset(
    {
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_XRAY_CONTEXT_MISSING",
        "AWS_XRAY_DAEMON_ADDRESS",
        "LAMBDA_RUNTIME_DIR",
        "LAMBDA_TASK_ROOT",
        "_AWS_XRAY_DAEMON_ADDRESS",
        "_AWS_XRAY_DAEMON_PORT",
        "_HANDLER",
    }
)


class SandboxError(RuntimeError):
    """The sandbox itself failed (not the function): bad layout, closed sandbox, setup errors."""


@dataclass(frozen=True)
class FunctionSpec:
    """What a SAM template says about one function, with paths on this machine."""

    code_dir: Path
    handler: str
    layers: Sequence[Path] = ()
    """Layer contents directories (each like ``/opt``), merged in order; later ones win."""
    environment: Mapping[str, str] = field(default_factory=dict)
    name: str = "function"
    timeout_s: float = 3.0
    memory_mb: int = 128
    runtime: str = "python3.13"
    region: str = "us-east-1"
    version: str = "$LATEST"

    @property
    def python_version(self) -> str:
        if not self.runtime.startswith("python"):
            raise SandboxError(f"runtime {self.runtime!r} is not supported (python3.X only)")
        return self.runtime.removeprefix("python")


@dataclass
class InitResult:
    phase: Literal["init", "invoke"]
    """``invoke`` for an INIT redone inside an invocation (suppressed init, or after a reset)."""
    status: Literal["success", "error", "timeout"]
    error_type: str | None
    duration_ms: float
    extensions_registered_ms: dict[str, float]
    """Per extension name: when it registered, ms after INIT start."""
    runtime_started_ms: float | None
    runtime_next_ms: float | None
    """When the runtime first called ``next`` (or ``restore/next`` for SnapStart)."""
    extensions_next_ms: dict[str, float]
    """Per extension name: when it first called ``event/next``, ms after INIT start."""
    error: dict[str, Any] | None = None
    waiting_for: list[str] = field(default_factory=list)
    """What INIT was still waiting for when it ended without success (e.g. ``holder: next``)."""


@dataclass
class InvokeResult:
    request_id: str
    status: Literal["success", "error", "timeout", "crash"]
    """``error``: the function reported an error; ``timeout``/``crash``: the sandbox was reset."""
    payload: bytes
    """The response body, or the error document for every other status."""
    error_type: str | None
    duration_ms: float
    billed_duration_ms: int
    max_memory_used_mb: int
    init_duration_ms: float | None
    """First invocation after a successful INIT: its duration (REPORT's ``Init Duration``)."""
    restore_duration_ms: float | None
    suppressed_init: InitResult | None
    """The INIT this invocation had to do itself (after an INIT failure or a reset), if any."""
    response_ms: float | None
    """When the response (or error) arrived, ms after the event was handed to the runtime."""
    runtime_done_ms: float | None
    """When the runtime called ``next`` again, ms after the event was handed to it."""
    extensions_done_ms: dict[str, float]
    """Per INVOKE-subscribed extension: when it called ``next`` again (its post-processing)."""
    logs: list[str]
    """Lines the runtime and extensions wrote during this invocation."""
    waiting_for: list[str] = field(default_factory=list)
    """On a timeout: what the invocation was still waiting for (``runtime: response``, ...)."""

    def json(self) -> Any:
        return json.loads(self.payload)


@dataclass
class _Proc:
    name: str
    kind: Literal["runtime", "extension", "keeper"]
    popen: subprocess.Popen[bytes] | NsProcess
    started: float
    exited: float | None = None
    returncode: int | None = None
    busy: bool = False
    """The output reader is dispatching lines it has read."""
    threads: list[threading.Thread] = field(default_factory=list)
    checkpointed: bool = False
    """Ended by the SnapStart checkpoint (its copies come back at each restore)."""


@dataclass
class _Extension:
    id: str
    name: str
    events: list[str]
    external: bool
    registered: float
    waiting: bool = False
    first_next: float | None = None
    events_queue: deque[dict[str, Any]] = field(default_factory=deque)
    init_error: str | None = None
    exit_error: str | None = None
    handling: str | None = None
    """Request id of the INVOKE event the extension took and has not called next after yet."""


@dataclass(frozen=True)
class _Snapshot:
    """A SnapStart snapshot: the images, and the sandbox's side of the state they froze."""

    checkpoint: Checkpoint
    requests: dict[str, Request]
    """The requests the processes were blocked in, by tag (``runtime``, or an extension id)."""
    extensions: list[_Extension]
    tmp_dir: Path
    """A copy of /tmp as INIT left it: every restored environment starts from it."""


@dataclass
class _Invocation:
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


class Sandbox:
    """A local Lambda execution environment for one function.

    Example::

        with Sandbox(FunctionSpec(code_dir=Path("src"), handler="app.handler")) as sb:
            result = sb.invoke({"x": 1})
        sb.records  # every phase, machine-readable

    ``start()`` runs INIT ahead of the first invocation (as a proactive or provisioned INIT);
    ``invoke()`` without ``start()`` does it first, as an on-demand cold start does.

    SnapStart (``init_type="snap-start"``): ``snapshots`` None uses CRIU where it can (root,
    CRIU 4.2 found or downloaded), True insists on it, False keeps INIT's live processes for a
    single restore. ``snapshot_unavailable`` says why snapshots are off.
    """

    def __init__(
        self,
        spec: FunctionSpec,
        *,
        init_type: InitType = "on-demand",
        on_demand_init_limit_s: float = 10.0,
        shutdown_budget_s: float = 2.0,
        restore_limit_s: float = RESTORE_LIMIT_S,
        max_concurrency: int = 4,
        log: IO[str] | Callable[[str], None] | None = None,
        prefix_logs: bool = True,
        records_path: Path | None = None,
        workdir: Path | None = None,
        copy_files: bool = False,
        snapshots: bool | None = None,
    ) -> None:
        if init_type not in INIT_TYPES:
            raise SandboxError(f"init type {init_type!r}: expected one of {', '.join(INIT_TYPES)}")
        self.spec = spec
        self.init_type: InitType = init_type
        self._lmi = init_type == LMI
        if self._lmi:
            if max_concurrency < 1:
                raise SandboxError(f"max_concurrency must be 1 or more, not {max_concurrency}")
            if tuple(int(x) for x in spec.python_version.split(".")) < (3, 13):
                raise SandboxError("Lambda Managed Instances need python3.13 or later")
        self.max_concurrency = max_concurrency
        self.on_demand_init_limit_s = on_demand_init_limit_s
        self.shutdown_budget_s = shutdown_budget_s
        self.restore_limit_s = restore_limit_s
        self.prefix_logs = prefix_logs
        self.copy_files = copy_files
        self.records: list[dict[str, Any]] = []
        self.inits: list[InitResult] = []
        self.invocations: list[InvokeResult] = []
        self._log_target = log
        self._records_file = records_path.open("a", encoding="utf-8") if records_path else None
        self._t0 = time.monotonic()
        self._cv = threading.Condition()
        self._op_lock = threading.RLock()
        self._output_lock = threading.Lock()
        self._own_workdir = workdir is None
        self._root = (
            Path(tempfile.mkdtemp(prefix="lambda-sandbox-")) if workdir is None else workdir
        )
        self.task_root = self._root / "var" / "task"
        self.opt_dir = self._root / "opt"
        self.tmp_dir = self._root / "tmp"
        self._server = HttpServer(self._route, on_detach=self._on_detach)
        self.runtime_api = self._server.address
        # State below is guarded by self._cv.
        self._gen = 0
        self._phase: Literal["new", "init", "ready", "invoke", "shutdown", "closed"] = "new"
        self._frozen = False
        self._ready = False
        self._pgid: int | None = None
        self._procs: list[_Proc] = []
        self._runtime: _Proc | None = None
        self._launched: dict[str, _Proc] = {}
        self._external_names: set[str] = set()
        self._extensions: dict[str, _Extension] = {}
        self._registration_closed = False
        self._runtime_waiting = False
        self._runtime_first_next: float | None = None
        self._runtime_restore_waiting = False
        self._restore_released = False
        self._runtime_init_error: dict[str, Any] | None = None
        self._runtime_init_error_type: str | None = None
        self._pending: _Invocation | None = None
        self._current: _Invocation | None = None
        self._capture: list[str] | None = None
        self._pending_init_duration: float | None = None
        self._awaiting_restore = False
        # Lambda Managed Instances: events wait in a queue for any worker's ``next``.
        self._lmi_queue: deque[_Invocation] = deque()
        self._lmi_inflight: dict[str, _Invocation] = {}
        self._log_socket: socket.socket | None = None
        # SnapStart snapshots (see _snapshot.py).
        self.snapshot_unavailable: str | None = None
        self.restores = 0
        """Restores so far (SnapStart); each one a new environment from the same snapshot."""
        self._criu: Criu | None = None
        self._namespace: Namespace | None = None
        self._snapshot: _Snapshot | None = None
        self._detaching = False
        self._detached: dict[str, tuple[socket.socket, Request]] = {}
        try:
            self._venv = runtime_venv(spec.python_version)
            if init_type == "snap-start" and snapshots is not False:
                try:
                    self._criu = find_criu()
                except SnapshotUnavailableError as exc:
                    if snapshots:
                        raise SandboxError(f"SnapStart snapshots unavailable: {exc}") from None
                    self.snapshot_unavailable = str(exc)
            elif snapshots:
                raise SandboxError("snapshots=True is for init_type='snap-start' only")
            self._layout()
        except BaseException:
            self._server.stop()
            if self._records_file:
                self._records_file.close()
            if self._own_workdir:
                shutil.rmtree(self._root, ignore_errors=True)
            raise
        self._server.start()

    # ----------------------------------------------------------------------------------- API

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def start(self) -> InitResult:
        """Run INIT now (if not done yet) and freeze the sandbox; returns that INIT's result."""
        with self._op_lock:
            self._check_open()
            if self._ready or self.inits:
                return self.inits[-1]
            return self._init_phase()

    def invoke(
        self,
        event: Any = None,
        *,
        client_context: Mapping[str, Any] | None = None,
    ) -> InvokeResult:
        """Send one event; returns when the INVOKE phase has ended and the sandbox is frozen."""
        with self._op_lock:
            self._check_open()
            if not self.inits:
                self._init_phase()
            body = event if isinstance(event, bytes) else json.dumps(event).encode()
            if not self._lmi:
                return self._invoke(body, client_context)
            if not self._ready:
                raise SandboxError(
                    "this Managed Instances environment failed its INIT; Lambda replaces it "
                    "(there is no re-init): make a new Sandbox"
                )
        # Managed Instances: no lock held while the event runs, so threads invoke concurrently.
        return self._lmi_invoke(body, client_context)

    def shutdown(self) -> None:
        """SHUTDOWN (reason ``spindown``), then stop the API server and remove the work dir."""
        with self._op_lock:
            if self._phase == "closed":
                return
            try:
                if self._procs:
                    self._teardown("spindown")
            finally:
                with self._cv:
                    self._phase = "closed"
                    self._cv.notify_all()
                self._server.stop()
                if self._log_socket is not None:
                    self._log_socket.close()
                self._record("closed")
                if self._records_file:
                    self._records_file.close()
                    self._records_file = None
                if self._own_workdir:
                    shutil.rmtree(self._root, ignore_errors=True)

    @property
    def pids(self) -> list[int]:
        """Pids of the live processes of the sandbox (runtime and extensions)."""
        with self._cv:
            return [p.popen.pid for p in self._procs if p.kind != "keeper" and p.exited is None]

    @property
    def frozen(self) -> bool:
        return self._frozen

    @property
    def snapshots(self) -> bool:
        """True when restores come from a CRIU snapshot (SnapStart), any number of times."""
        return self._criu is not None

    def discard_environment(self) -> None:
        """SnapStart with snapshots: end this execution environment as Lambda does when it
        removes one (SHUTDOWN, reason ``spindown``); the next ``invoke()`` restores a new one
        from the same snapshot. Nothing to end (not restored yet): nothing happens."""
        with self._op_lock:
            self._check_open()
            if self._criu is None:
                raise SandboxError(
                    "discard_environment() needs SnapStart snapshots: "
                    + (self.snapshot_unavailable or f"init type is {self.init_type}")
                )
            if not self.inits:
                self._init_phase()
            if self._snapshot is not None and self._procs:
                self._teardown("spindown")

    # ------------------------------------------------------------------------------- layout

    def _layout(self) -> None:
        spec = self.spec
        if not (spec.code_dir / ".").is_dir():
            raise SandboxError(f"function code dir {spec.code_dir} does not exist")
        # Hard links unless asked to copy: ~7x faster for a layer of a few hundred files, and as
        # isolated as Lambda needs (new files, .pyc included, land in our tree only). The one
        # thing not isolated is writing into an existing file, which Lambda's read-only
        # /var/task and /opt refuse anyway.
        copy: Callable[[str, str], object] = shutil.copy2 if self.copy_files else _link_or_copy
        shutil.copytree(spec.code_dir, self.task_root, symlinks=True, copy_function=copy)
        self.opt_dir.mkdir(parents=True)
        self.tmp_dir.mkdir(parents=True)
        for layer in spec.layers:
            if not layer.is_dir():
                raise SandboxError(f"layer dir {layer} does not exist")
            shutil.copytree(
                layer, self.opt_dir, symlinks=True, dirs_exist_ok=True, copy_function=copy
            )

    def _environment(self) -> tuple[dict[str, str], dict[str, str]]:
        """(runtime env, extension env) as Lambda builds them, with paths relocated."""
        spec = self.spec
        pyver = spec.python_version
        stream = (
            datetime.now(UTC).strftime("%Y/%m/%d") + f"/[{spec.version}]{secrets.token_hex(16)}"
        )
        env: dict[str, str] = {
            # Lambda: /var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin
            "PATH": f"{self._venv / 'bin'}:/usr/local/bin:/usr/bin:/bin:{self.opt_dir / 'bin'}",
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PYTHONPATH": ":".join(
                [
                    str(self.task_root),
                    str(self.opt_dir / "python"),
                    str(self.opt_dir / "python" / "lib" / f"python{pyver}" / "site-packages"),
                ]
            ),
            "TMPDIR": str(self.tmp_dir),
        }
        env.update(spec.environment)
        env.update(
            {
                "AWS_LAMBDA_RUNTIME_API": self.runtime_api,
                "_HANDLER": spec.handler,
                "AWS_LAMBDA_INITIALIZATION_TYPE": self.init_type,
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
                "AWS_REGION": spec.region,
                "AWS_DEFAULT_REGION": spec.region,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
                "LAMBDA_TASK_ROOT": str(self.task_root),
                "LAMBDA_RUNTIME_DIR": str(self._venv),
                "AWS_ACCESS_KEY_ID": "ASIASANDBOXSANDBOX00",
                "AWS_SECRET_ACCESS_KEY": "sandbox-secret-access-key-not-a-real-one",
                "AWS_SESSION_TOKEN": "sandbox-session-token",
            }
        )
        if self.init_type != "snap-start":  # not available in SnapStart functions
            env["AWS_LAMBDA_LOG_GROUP_NAME"] = f"/aws/lambda/{spec.name}"
            env["AWS_LAMBDA_LOG_STREAM_NAME"] = stream
        ext_env = {k: v for k, v in env.items() if k not in _EXTENSION_ENV_EXCLUDED}
        if self._lmi:
            # awslambdaric forks this many workers. Whether extensions see it on Lambda is not
            # documented; ours must not rely on it, so they do not get it here.
            env["AWS_LAMBDA_MAX_CONCURRENCY"] = str(self.max_concurrency)
            log_socket = self._open_log_socket()
            if log_socket is not None:
                env["_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET"] = log_socket
        return env, ext_env

    def _function_arn(self) -> str:
        return f"arn:aws:lambda:{self.spec.region}:{ACCOUNT_ID}:function:{self.spec.name}"

    # ------------------------------------------------------------------------------- output

    def _now_ms(self) -> float:
        return (time.monotonic() - self._t0) * 1000

    def _record(self, event: str, **fields: Any) -> None:
        rec = {
            "event": event,
            "t_ms": round(self._now_ms(), 3),
            "ts": round(time.time(), 6),
            **fields,
        }
        with self._output_lock:
            self.records.append(rec)
            if self._records_file:
                self._records_file.write(json.dumps(rec) + "\n")
                self._records_file.flush()

    def _emit(self, line: str) -> None:
        target = self._log_target
        if target is None:
            return
        with self._output_lock:
            if callable(target):
                target(line)
            else:
                target.write(line + "\n")
                target.flush()

    def _platform_line(self, line: str) -> None:
        self._record("platform_log", line=line)
        self._emit(line)

    def _process_line(self, proc: _Proc, line: str) -> None:
        self._source_line("function" if proc.kind == "runtime" else proc.name, line)

    def _source_line(self, source: str, line: str) -> None:
        self._record("log", source=source, line=line)
        with self._cv:
            if self._capture is not None:
                self._capture.append(line)
        tag = f"[{source}]"
        # An extension that tags its own lines with its name (as on Lambda, where its output
        # comes out untouched) is not tagged twice.
        self._emit(f"{tag} {line}" if self.prefix_logs and not line.startswith(tag) else line)

    def _open_log_socket(self) -> str | None:
        """Managed Instances: the Unix socket each worker connects its stdout and stderr to."""
        path = self._root / "log-fd.sock"
        if self._log_socket is not None:
            return str(path)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            server.bind(str(path))  # at most ~107 bytes: a long workdir falls back to the pipe
            server.listen(64)
        except OSError as exc:
            server.close()
            self._record("log_socket_error", path=str(path), error=str(exc))
            return None
        self._log_socket = server
        threading.Thread(
            target=self._accept_log_streams, args=(server,), name="sandbox-log-fd", daemon=True
        ).start()
        return str(path)

    def _accept_log_streams(self, server: socket.socket) -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return  # closed at shutdown
            self._record("log_stream_open")
            threading.Thread(
                target=self._read_log_stream, args=(conn,), name="sandbox-log-in", daemon=True
            ).start()

    def _read_log_stream(self, conn: socket.socket) -> None:
        partial = b""
        with conn:
            while True:
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    if partial:
                        self._source_line("function", partial.decode("utf-8", "replace"))
                    return
                *lines, partial = (partial + chunk).split(b"\n")
                for line in lines:
                    self._source_line("function", line.decode("utf-8", "replace"))

    # ---------------------------------------------------------------------------- processes

    def _spawn(
        self,
        name: str,
        kind: Literal["runtime", "extension", "keeper"],
        args: list[str],
        env: dict[str, str],
    ) -> _Proc:
        popen: subprocess.Popen[bytes] | NsProcess
        if self._namespace is not None:
            popen = self._namespace.spawn(name, args, env, self.task_root)
        else:
            popen = subprocess.Popen(
                args,
                cwd=self.task_root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL if kind == "keeper" else subprocess.PIPE,
                stderr=subprocess.DEVNULL if kind == "keeper" else subprocess.STDOUT,
                process_group=0 if self._pgid is None else self._pgid,
            )
        if self._pgid is None:
            self._pgid = popen.pid
        return self._track(name, kind, popen)

    def _track(
        self,
        name: str,
        kind: Literal["runtime", "extension", "keeper"],
        popen: subprocess.Popen[bytes] | NsProcess,
    ) -> _Proc:
        """Read the process's output and watch for its exit."""
        proc = _Proc(name=name, kind=kind, popen=popen, started=time.monotonic())
        if popen.stdout is not None:
            reader = threading.Thread(
                target=self._read_output, args=(proc,), name=f"sandbox-out-{name}", daemon=True
            )
            reader.start()
            proc.threads.append(reader)
        waiter = threading.Thread(
            target=self._watch_exit, args=(proc,), name=f"sandbox-wait-{name}", daemon=True
        )
        waiter.start()
        proc.threads.append(waiter)
        with self._cv:
            self._procs.append(proc)
        self._record("process_start", name=name, kind=kind, pid=popen.pid)
        return proc

    def _read_output(self, proc: _Proc) -> None:
        assert proc.popen.stdout is not None
        fd = proc.popen.stdout.fileno()
        partial = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            proc.busy = True
            try:
                if not chunk:
                    if partial:
                        self._process_line(proc, partial.decode("utf-8", "replace"))
                    return
                *lines, partial = (partial + chunk).split(b"\n")
                for line in lines:
                    self._process_line(proc, line.decode("utf-8", "replace"))
            finally:
                proc.busy = False

    def _drain_output(self, bound_s: float = 0.1) -> None:
        """Wait (bounded) until every line already written by a process has been dispatched."""
        end = time.monotonic() + bound_s
        for proc in list(self._procs):
            stdout = proc.popen.stdout
            if stdout is None or stdout.closed:
                continue
            while time.monotonic() < end:
                try:
                    pending = struct.unpack(
                        "i", fcntl.ioctl(stdout.fileno(), termios.FIONREAD, b"\0\0\0\0")
                    )[0]
                except OSError:
                    break
                if not pending and not proc.busy:
                    break
                time.sleep(0.0005)

    def _watch_exit(self, proc: _Proc) -> None:
        code = proc.popen.wait()
        with self._cv:
            proc.exited = time.monotonic()
            proc.returncode = code
            self._cv.notify_all()
        event = "process_checkpointed" if proc.checkpointed else "process_exit"
        self._record(event, name=proc.name, kind=proc.kind, returncode=code)

    def _signal_group(self, sig: signal.Signals) -> None:
        if self._pgid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._pgid, sig)

    def _freeze(self) -> None:
        if self._lmi:
            return  # Managed Instances never freeze
        if self._pgid is not None and not self._frozen:
            self._signal_group(signal.SIGSTOP)
            self._frozen = True
            stopped = self._wait_stopped()
            self._record("freeze", all_stopped=stopped)

    def _wait_stopped(self, bound_s: float = 0.5) -> bool:
        """SIGSTOP is asynchronous: wait (bounded) until every live process is stopped."""
        end = time.monotonic() + bound_s
        pending = [p.popen.pid for p in self._procs if p.exited is None]
        while pending:
            pending = [pid for pid in pending if _proc_state(pid) not in "TtZX"]
            if not pending:
                break
            if time.monotonic() > end:
                return False
            time.sleep(0.0002)
        return True

    def _thaw(self) -> None:
        if self._frozen:
            self._signal_group(signal.SIGCONT)
            self._frozen = False
            self._record("thaw")

    def _wait(self, predicate: Callable[[], bool], deadline: float) -> bool:
        """Wait until ``predicate()`` or the monotonic ``deadline``; the caller holds cv."""
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._cv.wait(min(remaining, 1.0))
        return True

    def _memory_used_mb(self) -> int:
        total_kb = 0
        for proc in self._procs:
            if proc.kind == "keeper" or proc.exited is not None:
                continue
            with contextlib.suppress(OSError, ValueError):
                for line in Path(f"/proc/{proc.popen.pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        total_kb += int(line.split()[1])
        return math.ceil(total_kb / 1024)

    # --------------------------------------------------------------------------------- INIT

    def _init_limit_s(self) -> float:
        if self.init_type == "on-demand":
            return self.on_demand_init_limit_s
        return max(LONG_INIT_LIMIT_S, self.spec.timeout_s)

    def _init_phase(self) -> InitResult:
        """INIT ahead of any invocation; on failure the sandbox is reset and left un-initialised."""
        self._platform_line(
            f"INIT_START Runtime Version: {self.spec.runtime}.sandbox\t"
            f"Runtime Version ARN: arn:aws:lambda:{self.spec.region}::runtime:sandbox"
        )
        result = self._run_init("init", limit_s=self._init_limit_s())
        if result.status == "success":
            if self.init_type == "snap-start":
                self._awaiting_restore = True
                if self._namespace is not None:
                    self._take_snapshot()
            elif self.init_type == "on-demand":
                # Provisioned concurrency: INIT is not part of any request, REPORT omits it.
                self._pending_init_duration = result.duration_ms
            self._freeze()
        else:
            self._platform_line(_init_report_line(result))
            self._teardown("timeout" if result.status == "timeout" else "failure")
        return result

    def _run_init(
        self,
        phase: Literal["init", "invoke"],
        deadline: float | None = None,
        limit_s: float | None = None,
    ) -> InitResult:
        """One INIT, bounded by ``deadline`` (monotonic) or by ``limit_s`` from its start."""
        start = time.monotonic()
        if deadline is None:
            assert limit_s is not None
            deadline = start + limit_s
        env, ext_env = self._environment()
        with self._cv:
            self._gen += 1
            self._phase = "init"
            self._ready = False
            self._launched = {}
            self._extensions = {}
            self._registration_closed = False
            self._runtime = None
            self._runtime_waiting = False
            self._runtime_first_next = None
            self._runtime_restore_waiting = False
            self._restore_released = phase == "invoke"  # an inline INIT is never snapshotted
            self._runtime_init_error = None
            self._runtime_init_error_type = None
            self._pending = None
            self._current = None
        self._record("init_start", phase=phase, init_type=self.init_type)
        self._pgid = None
        if self._criu is not None and phase == "init":
            # The snapshot's INIT: under a namespace init, the root of the tree to checkpoint.
            # It is also the keeper: when this process dies, the init kills the namespace.
            try:
                self._namespace = Namespace.start(self.task_root)
            except (SnapshotError, OSError) as exc:
                raise SandboxError(f"starting the SnapStart namespace failed: {exc}") from None
            self._pgid = self._namespace.root.pid
            self._track("nsinit", "keeper", self._namespace.root)
        else:
            # The group's first member, so that the group outlives any one process. If this
            # Python process dies without shutting the sandbox down, the keeper kills the whole
            # group (and if the group is frozen then, the kernel's SIGHUP to orphaned stopped
            # groups does).
            keeper_cmd = [
                "/bin/sh",
                "-c",
                'while kill -0 "$1" 2>/dev/null; do sleep 1; done; kill -KILL 0',
                "lambda-sandbox-keeper",
                str(os.getpid()),
            ]
            self._spawn("keeper", "keeper", keeper_cmd, {"PATH": "/usr/bin:/bin"})
        _LIVE.add(self)

        ext_dir = self.opt_dir / "extensions"
        files = sorted(p for p in ext_dir.iterdir() if p.is_file()) if ext_dir.is_dir() else []
        status: Literal["success", "error", "timeout"] = "success"
        error_type: str | None = None
        error: dict[str, Any] | None = None
        with self._cv:
            # Known before any starts: an extension may register before _spawn returns.
            self._external_names = {path.name for path in files}
        for path in files:
            try:
                proc = self._spawn(path.name, "extension", [str(path)], dict(ext_env))
            except OSError as exc:
                self._record("extension_launch_error", name=path.name, error=str(exc))
                status, error_type = "error", "Extension.LaunchError"
                break
            with self._cv:
                self._launched[path.name] = proc
        with self._cv:
            ok = self._wait(
                lambda: self._all_registered() or self._extension_failed() is not None, deadline
            )
            failed = self._extension_failed()
        if status != "success":
            pass
        elif failed is not None:
            status, error_type = "error", failed
        elif not ok:
            status = "timeout"
        else:
            self._runtime = self._spawn(
                "runtime",
                "runtime",
                [str(self._venv / "bin" / "python"), "-m", "awslambdaric", self.spec.handler],
                env,
            )
            with self._cv:
                ok = self._wait(
                    lambda: self._init_done() or self._init_failed() is not None, deadline
                )
                failed = self._init_failed()
                error = self._runtime_init_error
            if failed is not None:
                status, error_type = "error", failed
            elif not ok:
                status = "timeout"
        ended = time.monotonic()
        # What was written before INIT ended (an extension's last line before its next) is part
        # of INIT's output: do not let start() return before the readers have passed it on.
        self._drain_output()
        with self._cv:
            waiting_for = [] if status == "success" else self._init_waiting_for()
            self._phase = "ready" if status == "success" else "init"
            self._ready = status == "success"
            runtime_started = self._runtime.started if self._runtime else None
            runtime_next = self._runtime_first_next
            exts = list(self._extensions.values())

        def rel(t: float | None) -> float | None:
            return None if t is None else round((t - start) * 1000, 3)

        result = InitResult(
            phase=phase,
            status=status,
            error_type=error_type,
            duration_ms=round((ended - start) * 1000, 3),
            extensions_registered_ms={e.name: rel(e.registered) or 0.0 for e in exts},
            runtime_started_ms=rel(runtime_started),
            runtime_next_ms=rel(runtime_next),
            extensions_next_ms={
                e.name: rel(e.first_next) or 0.0 for e in exts if e.first_next is not None
            },
            error=error,
            waiting_for=waiting_for,
        )
        self.inits.append(result)
        self._record(
            "init_end",
            phase=phase,
            status=status,
            error_type=error_type,
            duration_ms=result.duration_ms,
            extensions_registered_ms=result.extensions_registered_ms,
            runtime_started_ms=result.runtime_started_ms,
            runtime_next_ms=result.runtime_next_ms,
            extensions_next_ms=result.extensions_next_ms,
            waiting_for=waiting_for,
        )
        return result

    def _init_waiting_for(self) -> list[str]:
        registered = {e.name for e in self._extensions.values()}
        out = [f"{name}: register" for name in sorted(self._external_names - registered)]
        if registered >= self._external_names:
            if self._runtime is None:
                out.append("runtime: start")
            elif not self._runtime_ready():
                out.append("runtime: next")
        out += [f"{e.name}: next" for e in self._extensions.values() if not e.waiting]
        return out

    def _invoke_waiting_for(self, inv: _Invocation) -> list[str]:
        out = []
        if not inv.taken:
            out.append("runtime: next (to take the event)")
        elif inv.answered is None:
            out.append("runtime: response")
        elif not self._runtime_waiting:
            out.append("runtime: next")
        out += [
            f"{e.name}: next"
            for e in self._extensions.values()
            if "INVOKE" in e.events and not (e.waiting and not e.events_queue)
        ]
        return out

    def _all_registered(self) -> bool:
        names = {e.name for e in self._extensions.values() if e.external}
        return all(name in names for name in self._external_names)

    def _extension_failed(self) -> str | None:
        """Error type if an extension failed (crashed, exited, or reported an error)."""
        # As rapid records them: the extension's own error type goes to the records only.
        for ext in self._extensions.values():
            if ext.init_error:
                return "Extension.InitError"
            if ext.exit_error:
                return "Extension.ExitError"
        for proc in self._launched.values():
            if proc.exited is not None:
                return "Extension.Crash"
        return None

    def _runtime_ready(self) -> bool:
        if self._lmi:  # ready once any worker has called next
            return self._runtime_first_next is not None
        if self.init_type == "snap-start" and not self._restore_released:
            return self._runtime_restore_waiting
        return self._runtime_waiting

    def _init_done(self) -> bool:
        return self._runtime_ready() and all(e.waiting for e in self._extensions.values())

    def _init_failed(self) -> str | None:
        if self._runtime_init_error_type is not None:
            return self._runtime_init_error_type
        failed = self._extension_failed()
        if failed is not None:
            return failed
        if self._runtime is not None and self._runtime.exited is not None:
            return "Runtime.ExitError"
        return None

    # ------------------------------------------------------------------------------- INVOKE

    def _invoke(self, body: bytes, client_context: Mapping[str, Any] | None) -> InvokeResult:
        spec = self.spec
        request_id = str(uuid.uuid4())
        logs: list[str] = []
        with self._cv:
            self._capture = logs
        start = time.monotonic()
        deadline = start + spec.timeout_s
        deadline_ms = int((time.time() + spec.timeout_s) * 1000)
        self._record("invoke_start", request_id=request_id)
        self._platform_line(f"START RequestId: {request_id} Version: {spec.version}")
        init_duration = self._pending_init_duration
        self._pending_init_duration = None
        restore_ms: float | None = None
        suppressed: InitResult | None = None
        status: Literal["success", "error", "timeout", "crash"]
        payload = b""
        error_type: str | None = None
        response_ms: float | None = None
        runtime_done_ms: float | None = None
        extensions_done_ms: dict[str, float] = {}
        waiting_for: list[str] = []
        memory = 0
        must_reset = False

        if self._ready and self._died_while_idle():
            self._teardown("failure")
        if not self._ready:
            self._platform_line(
                f"INIT_START Runtime Version: {spec.runtime}.sandbox\t"
                f"Runtime Version ARN: arn:aws:lambda:{spec.region}::runtime:sandbox"
            )
            suppressed = self._run_init("invoke", deadline)
            if suppressed.status != "success":
                self._platform_line(_init_report_line(suppressed))
        if suppressed is not None and suppressed.status != "success":
            if suppressed.status == "timeout":
                status, error_type = "timeout", "Sandbox.Timedout"
                waiting_for = suppressed.waiting_for
                payload = _timeout_payload(request_id, spec.timeout_s)
            else:
                status, error_type = "error", suppressed.error_type
                payload = json.dumps(
                    suppressed.error
                    or {
                        "errorType": error_type,
                        "errorMessage": f"RequestId: {request_id} Error: INIT failed: {error_type}",
                    }
                ).encode()
            memory = self._memory_used_mb()
        else:
            self._thaw()
            restore_error: str | None = None
            if self._awaiting_restore:
                self._awaiting_restore = False
                restore_ms, restore_error = self._restore(request_id)
            if restore_error is not None:
                status, error_type, must_reset = "error", restore_error, True
                payload = json.dumps(
                    self._runtime_init_error
                    or {
                        "errorType": restore_error,
                        "errorMessage": f"RequestId: {request_id} Error: restore failed",
                    }
                ).encode()
                memory = self._memory_used_mb()
            else:
                inv = _Invocation(
                    request_id=request_id,
                    body=body,
                    headers=self._event_headers(request_id, deadline_ms, client_context),
                )
                event = {
                    "eventType": "INVOKE",
                    "deadlineMs": deadline_ms,
                    "requestId": request_id,
                    "invokedFunctionArn": self._function_arn(),
                    "tracing": {
                        "type": "X-Amzn-Trace-Id",
                        "value": _header(inv.headers, "Lambda-Runtime-Trace-Id"),
                    },
                }
                handed = time.monotonic()
                with self._cv:
                    self._phase = "invoke"
                    self._pending = inv
                    self._current = inv
                    for ext in self._extensions.values():
                        if "INVOKE" in ext.events:
                            ext.events_queue.append(dict(event))
                    self._cv.notify_all()
                    self._wait(
                        lambda: self._invoke_done(inv) or self._invoke_crashed() is not None,
                        deadline,
                    )
                    crashed = self._invoke_crashed()
                    done = self._invoke_done(inv)
                    waiting_for = [] if done else self._invoke_waiting_for(inv)
                memory = self._memory_used_mb()
                if inv.answered is not None:
                    response_ms = round((inv.answered - handed) * 1000, 3)
                if inv.runtime_done is not None:
                    runtime_done_ms = round((inv.runtime_done - handed) * 1000, 3)
                extensions_done_ms = {
                    name: round((t - handed) * 1000, 3) for name, t in inv.extensions_done.items()
                }
                answered = done or (crashed is not None and inv.answered is not None)
                # The runtime answered, then died (e.g. after a 413): the caller gets the answer,
                # and the sandbox is reset all the same.
                must_reset = crashed is not None and not done
                if not answered and crashed is not None:
                    status, error_type = "crash", crashed
                    code = self._runtime.returncode if self._runtime else None
                    payload = json.dumps(
                        {
                            "errorType": crashed,
                            "errorMessage": f"RequestId: {request_id} Error: Runtime exited"
                            + (
                                f" with error: exit status {code}"
                                if code
                                else " without providing a reason"
                            ),
                        }
                    ).encode()
                elif not answered:
                    status, error_type = "timeout", "Sandbox.Timedout"
                    payload = _timeout_payload(request_id, spec.timeout_s)
                    ts = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
                    self._platform_line(
                        f"{ts} {request_id} Task timed out after {spec.timeout_s:.2f} seconds"
                    )
                else:
                    status, error_type, payload = _outcome_of(inv)
        duration = round((time.monotonic() - start) * 1000, 3)
        if (
            must_reset
            or status in ("timeout", "crash")
            or (suppressed is not None and suppressed.status != "success")
        ):
            self._teardown("timeout" if status == "timeout" else "failure")
        else:
            with self._cv:
                self._phase = "ready"
                self._current = None
            self._freeze()
        self._drain_output()
        with self._cv:
            self._capture = None
        billed = math.ceil(
            duration + (init_duration or 0) if self.init_type == "on-demand" else duration
        )
        result = InvokeResult(
            request_id=request_id,
            status=status,
            payload=payload,
            error_type=error_type,
            duration_ms=duration,
            billed_duration_ms=billed,
            max_memory_used_mb=memory,
            init_duration_ms=init_duration,
            restore_duration_ms=restore_ms,
            suppressed_init=suppressed,
            response_ms=response_ms,
            runtime_done_ms=runtime_done_ms,
            extensions_done_ms=extensions_done_ms,
            logs=logs,
            waiting_for=waiting_for if status == "timeout" else [],
        )
        self.invocations.append(result)
        self._platform_line(f"END RequestId: {request_id}")
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\t"
            f"Billed Duration: {billed} ms\tMemory Size: {spec.memory_mb} MB\t"
            f"Max Memory Used: {memory} MB\t"
        )
        if init_duration is not None:
            report += f"Init Duration: {init_duration:.2f} ms\t"
        if restore_ms is not None:
            report += f"Restore Duration: {restore_ms:.2f} ms\t"
        if status in ("timeout", "crash"):
            report += (
                f"Status: {status if status == 'timeout' else 'error'}\tError Type: {error_type}"
            )
        self._platform_line(report.rstrip("\t"))
        self._record(
            "invoke_end",
            request_id=request_id,
            status=status,
            error_type=error_type,
            duration_ms=duration,
            billed_duration_ms=billed,
            response_ms=response_ms,
            runtime_done_ms=runtime_done_ms,
            extensions_done_ms=extensions_done_ms,
            init_duration_ms=init_duration,
            restore_duration_ms=restore_ms,
            max_memory_used_mb=memory,
            suppressed_init=suppressed.status if suppressed else None,
            waiting_for=result.waiting_for,
        )
        return result

    def _died_while_idle(self) -> bool:
        with self._cv:
            return self._invoke_crashed() is not None

    def _restore(self, request_id: str) -> tuple[float, str | None]:
        """SnapStart: answer ``restore/next``, wait for the runtime's ``next`` (bounded by the
        restore limit); returns (duration ms, error type or None). With a snapshot, a new
        environment is restored from it first (that time is part of the restore, as on Lambda)."""
        start = time.monotonic()
        self.restores += 1
        self._record(
            "restore_start",
            request_id=request_id,
            restore=self.restores,
            from_snapshot=self._snapshot is not None,
        )
        if self._snapshot is not None:
            self._restore_snapshot(self._snapshot)
        with self._cv:
            self._restore_released = True
            self._cv.notify_all()
            ok = self._wait(
                lambda: self._runtime_waiting or self._init_failed() is not None,
                start + self.restore_limit_s,
            )
            failed = self._init_failed()
        error = failed or (None if ok else "SnapStartTimeoutException")
        ms = round((time.monotonic() - start) * 1000, 3)
        self._record("restore_end", duration_ms=ms, error_type=error)
        return ms, error

    # --------------------------------------------------------------------------- SnapStart

    def _take_snapshot(self) -> None:
        """End INIT's tree with a checkpoint: the blocked requests are handed over with it."""
        assert self._namespace is not None
        assert self._criu is not None
        start = time.monotonic()
        with self._cv:
            self._detaching = True
            self._detached = {}
            expected = {"runtime", *self._extensions}
            self._cv.notify_all()
            handed = self._wait(lambda: expected <= set(self._detached), start + 2.0)
            self._detaching = False
            detached, self._detached = self._detached, {}
        connections = {tag: conn for tag, (conn, _) in detached.items()}
        with self._cv:
            procs = list(self._procs)
            extensions = list(self._extensions.values())
        for proc in procs:  # CRIU ends them after the dump
            proc.checkpointed = True
        try:
            if not handed:
                raise SnapshotError(f"not blocked in next: {sorted(expected - set(detached))}")
            checkpoint = self._namespace.checkpoint(
                self._criu, self._root / "snapshot", connections
            )
        except SnapshotError as exc:
            # The tree runs on: answer its requests live, and restore it the one time.
            for proc in procs:
                proc.checkpointed = False
            self._record("snapshot_error", error=str(exc))
            self.snapshot_unavailable = f"the checkpoint failed: {exc}"
            self._criu = None
            with contextlib.suppress(SnapshotError):
                for held in self._namespace.release().values():
                    held.close()  # a copy of one of ours
            for tag, conn in connections.items():
                self._server.adopt(conn, detached[tag][1], self._resume(tag, self._gen))
            return
        for conn in connections.values():
            conn.close()  # the namespace init held the other reference: it is in the images
        cut = self._namespace.cut_connections
        self._end_processes()
        tmp_copy = self._root / "snapshot-tmp"
        shutil.copytree(self.tmp_dir, tmp_copy, symlinks=True)
        with self._cv:
            self._snapshot = _Snapshot(
                checkpoint=checkpoint,
                requests={tag: request for tag, (_, request) in detached.items()},
                extensions=extensions,
                tmp_dir=tmp_copy,
            )
        self._record(
            "snapshot",
            duration_ms=round((time.monotonic() - start) * 1000, 3),
            dump_ms=checkpoint.dump_ms,
            size_bytes=checkpoint.size_bytes,
            processes=sorted(checkpoint.ns_pids),
            cut_connections=cut,
        )

    def _restore_snapshot(self, snapshot: _Snapshot) -> None:
        """A new environment from ``snapshot``: its processes, /tmp, and blocked requests.

        On failure (the sandbox's, not the function's): whatever came back is shut down, the
        next invocation tries a new restore, and this one raises ``SandboxError``.
        """
        try:
            self._restore_from(snapshot)
        except SnapshotError as exc:
            self._record("snapshot_restore_error", restore=self.restores, error=str(exc))
            if self._procs:
                self._teardown("failure")
            self._awaiting_restore = True
            raise SandboxError(str(exc)) from None

    def _restore_from(self, snapshot: _Snapshot) -> None:
        assert self._criu is not None
        shutil.rmtree(self.tmp_dir, ignore_errors=True)
        shutil.copytree(snapshot.tmp_dir, self.tmp_dir, symlinks=True)
        start = time.monotonic()
        namespace, procs = Namespace.restore(
            self._criu, snapshot.checkpoint, f"restore-{self.restores}"
        )
        with self._cv:
            self._gen += 1
            gen = self._gen
            self._namespace = namespace
            self._pgid = namespace.root.pid
            self._extensions = {
                e.id: replace(e, waiting=True, events_queue=deque(), handling=None)
                for e in snapshot.extensions
            }
            self._runtime_waiting = False
            self._runtime_restore_waiting = True
            self._restore_released = False
            self._runtime_init_error = None
            self._runtime_init_error_type = None
        self._track("nsinit", "keeper", namespace.root)
        for name, popen in procs.items():
            proc = self._track(name, "runtime" if name == "runtime" else "extension", popen)
            with self._cv:
                if name == "runtime":
                    self._runtime = proc
                else:
                    self._launched[name] = proc
        for tag, conn in namespace.release().items():
            self._server.adopt(conn, snapshot.requests[tag], self._resume(tag, gen))
        self._record(
            "snapshot_restored",
            restore=self.restores,
            criu_ms=round((time.monotonic() - start) * 1000, 3),
            pids={name: proc.pid for name, proc in procs.items()},
        )

    def _on_detach(self, tag: str, conn: socket.socket, request: Request) -> None:
        with self._cv:
            self._detached[tag] = (conn, request)
            self._cv.notify_all()

    def _resume(self, tag: str, gen: int) -> Callable[[], Response | Detach | None]:
        """What answers a blocked request handed back after a restore (or a failed checkpoint)."""

        def answer() -> Response | Detach | None:
            with self._cv:
                if tag == "runtime":
                    return self._await_restore(gen)
                ext = self._extensions.get(tag)
                return None if ext is None else self._await_event(ext, gen)

        return answer

    def _event_headers(
        self, request_id: str, deadline_ms: int, client_context: Mapping[str, Any] | None
    ) -> list[tuple[str, str]]:
        epoch = f"{int(time.time()):08x}"
        trace = f"Root=1-{epoch}-{secrets.token_hex(12)};Parent={secrets.token_hex(8)};Sampled=0"
        headers = [
            ("Content-Type", "application/json"),
            ("Lambda-Runtime-Aws-Request-Id", request_id),
            ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
            ("Lambda-Runtime-Invoked-Function-Arn", self._function_arn()),
            ("Lambda-Runtime-Trace-Id", trace),
        ]
        if client_context is not None:
            headers.append(("Lambda-Runtime-Client-Context", json.dumps(client_context)))
        return headers

    def _invoke_done(self, inv: _Invocation) -> bool:
        return (
            inv.answered is not None
            and self._runtime_waiting
            and all(
                e.waiting and not e.events_queue
                for e in self._extensions.values()
                if "INVOKE" in e.events
            )
        )

    def _invoke_crashed(self) -> str | None:
        if self._runtime is not None and self._runtime.exited is not None:
            return "Runtime.ExitError"
        for ext in self._extensions.values():
            if ext.exit_error:
                return "Extension.ExitError"
        for proc in self._launched.values():
            if proc.exited is not None:
                return "Extension.Crash"
        return None

    # ----------------------------------------------------------------------------- SHUTDOWN

    def _teardown(self, reason: Literal["spindown", "timeout", "failure"]) -> None:
        """Shut the processes down within the budget; the sandbox can be initialised again."""
        start = time.monotonic()
        budget_end = start + self.shutdown_budget_s
        self._record("shutdown_start", reason=reason)
        self._thaw()
        with self._cv:
            self._phase = "shutdown"
            self._ready = False
            exts = list(self._extensions.values())
            runtime = self._runtime
            self._cv.notify_all()
        external = [e for e in exts if e.external]
        if runtime is not None and runtime.exited is None:
            if not external:
                runtime.popen.kill()
            else:
                workers = child_pids(runtime.popen.pid) if self._lmi else []
                with contextlib.suppress(ProcessLookupError):
                    runtime.popen.terminate()
                for pid in workers:  # Managed Instances: every worker gets SIGTERM
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGTERM)
                runtime_end = start + self.shutdown_budget_s * RUNTIME_SHUTDOWN_SHARE
                with self._cv:
                    self._wait(lambda: runtime.exited is not None, runtime_end)
                while any(_alive(pid) for pid in workers) and time.monotonic() < runtime_end:
                    time.sleep(0.002)
                if runtime.exited is None:
                    runtime.popen.kill()
        deadline_ms = int((time.time() + max(0.0, budget_end - time.monotonic())) * 1000)
        with self._cv:
            for ext in external:
                proc = self._launched.get(ext.name)
                if "SHUTDOWN" in ext.events:
                    ext.events_queue.append(
                        {
                            "eventType": "SHUTDOWN",
                            "shutdownReason": reason,
                            "deadlineMs": deadline_ms,
                        }
                    )
                elif proc is not None and proc.exited is None:
                    proc.popen.kill()
            registered = {e.name for e in external}
            for name, proc in self._launched.items():
                if name not in registered and proc.exited is None:
                    proc.popen.kill()  # never registered: nothing to tell it
            self._cv.notify_all()
            self._wait(
                lambda: all(p.exited is not None for p in self._procs if p.kind == "extension"),
                budget_end,
            )
        self._signal_group(signal.SIGKILL)
        exits = self._end_processes()
        if self._snapshot is not None:
            # SnapStart: a new environment comes from the snapshot, never from an INIT again.
            with self._cv:
                self._ready = True
                self._phase = "ready"
                self._awaiting_restore = True
        self._record(
            "shutdown_end",
            reason=reason,
            duration_ms=round((time.monotonic() - start) * 1000, 3),
            returncodes=exits,
        )

    def _end_processes(self) -> dict[str, int | None]:
        """Wait (bounded) for the ended processes and their readers; forget them. Returns their
        exit codes by name."""
        for proc in self._procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=2.0)
            for thread in proc.threads:
                thread.join(timeout=2.0)
            if proc.popen.stdout is not None:
                proc.popen.stdout.close()
        if self._namespace is not None:
            self._namespace.close()
            self._namespace = None
        with self._cv:
            exits = {p.name: p.returncode for p in self._procs if p.kind != "keeper"}
            self._gen += 1
            self._procs = []
            self._pgid = None
            self._frozen = False
            self._runtime = None
            self._launched = {}
            self._extensions = {}
            self._runtime_waiting = False
            self._pending = None
            self._current = None
            self._lmi_queue.clear()
            self._lmi_inflight.clear()
            self._cv.notify_all()
        return exits

    def _check_open(self) -> None:
        if self._phase == "closed":
            raise SandboxError("sandbox is shut down")

    # --------------------------------------------------------------------- Runtime/Ext APIs

    def _route(self, req: Request) -> Response | Detach | None:
        path = req.path
        if path.startswith("/2018-06-01/runtime/"):
            return self._runtime_api(req, path.removeprefix("/2018-06-01/runtime/"))
        if path.startswith("/2020-01-01/extension/"):
            return self._extension_api(req, path.removeprefix("/2020-01-01/extension/"))
        if path.startswith(("/2020-08-15/logs", "/2022-07-01/telemetry")):
            return _json(
                202,
                {
                    "errorMessage": "Telemetry API is not supported",
                    "errorType": "Telemetry.NotSupported",
                },
            )
        return _NOT_FOUND

    def _runtime_api(self, req: Request, rest: str) -> Response | Detach | None:
        parts = rest.split("/")
        match (req.method, parts):
            case ("GET", ["invocation", "next"]):
                return self._runtime_next()
            case ("POST", ["invocation", request_id, ("response" | "error") as kind]):
                return self._runtime_answer(req, request_id, kind)
            case ("POST", ["init", "error"]):
                return self._runtime_init_error_api(req)
            case ("GET", ["restore", "next"]):
                return self._runtime_restore_next()
            case ("POST", ["restore", "error"]):
                with self._cv:
                    if self._runtime_restore_waiting or not self._restore_released:
                        return _invalid_state(self._runtime_state(), "RestoreError")
                    self._runtime_init_error_type = (
                        req.header("Lambda-Runtime-Function-Error-Type") or "Runtime.Unknown"
                    )
                    self._runtime_init_error = _json_body(req.body)
                    self._cv.notify_all()
                self._record("runtime_restore_error", error_type=self._runtime_init_error_type)
                return _json(202, {"status": "OK"})
        return _NOT_FOUND

    def _runtime_state(self) -> str:
        """The runtime's state under rapid's names, for error messages."""
        inv = self._current
        if inv is not None and inv.taken and inv.answered is None:
            return "Running"
        if self._runtime_restore_waiting:
            return "RestoreReady"
        if self._runtime_waiting:
            return "Ready"
        return "Started" if self._runtime_first_next is None else "Ready"

    def _runtime_next(self) -> Response | None:
        if self._lmi:
            return self._lmi_next()
        with self._cv:
            gen = self._gen
            if self._runtime_waiting or (
                self._current is not None and self._current.taken and self._current.answered is None
            ):
                return _invalid_state(self._runtime_state(), "Ready")
            now = time.monotonic()
            self._runtime_waiting = True
            if self._current is not None and self._current.answered is not None:
                self._current.runtime_done = now
            if self._runtime_first_next is None:
                self._runtime_first_next = now
                self._registration_closed = True
                self._record("runtime_next", first=True, phase=self._phase)
            self._cv.notify_all()
            if not self._park(gen, lambda: self._pending is not None) or self._pending is None:
                return None
            inv = self._pending
            self._pending = None
            inv.taken = True
            self._runtime_waiting = False
            self._cv.notify_all()
        return Response(200, inv.body, inv.headers)

    def _runtime_answer(self, req: Request, request_id: str, kind: str) -> Response:
        with self._cv:
            inv = self._lmi_inflight.get(request_id) if self._lmi else self._current
            if self._lmi and inv is None:
                return _error(400, "InvalidRequestID", "Invalid request ID")
            if inv is None or not inv.taken or inv.answered is not None:
                return _invalid_state(
                    self._runtime_state(),
                    "InvocationResponse" if kind == "response" else "InvocationErrorResponse",
                )
            if request_id != inv.request_id:
                return _error(400, "InvalidRequestID", "Invalid request ID")
            if kind == "response" and len(req.body) > MAX_PAYLOAD:
                inv.error = json.dumps(
                    {
                        "errorMessage": (
                            f"Response payload size ({len(req.body)} bytes) exceeded maximum "
                            f"allowed payload size ({MAX_PAYLOAD - 100} bytes)."
                        ),
                        "errorType": "Function.ResponseSizeTooLarge",
                    }
                ).encode()
                inv.error_type = "Function.ResponseSizeTooLarge"
                inv.answered = time.monotonic()
                self._cv.notify_all()
                return _error(413, "RequestEntityTooLarge", "Exceeded maximum allowed payload size")
            if kind == "response":
                inv.response = req.body
            else:
                inv.error = req.body or b"{}"
                inv.error_type = req.header("Lambda-Runtime-Function-Error-Type")
            inv.answered = time.monotonic()
            self._cv.notify_all()
        self._record("runtime_" + kind, request_id=request_id, bytes=len(req.body))
        return _json(202, {"status": "OK"})

    def _runtime_init_error_api(self, req: Request) -> Response:
        with self._cv:
            if self._phase != "init" or self._runtime_first_next is not None:
                return _invalid_state(self._runtime_state(), "InitError")
            body = _json_body(req.body)
            self._runtime_init_error = body
            self._runtime_init_error_type = (
                req.header("Lambda-Runtime-Function-Error-Type")
                or (body or {}).get("errorType")
                or "Runtime.Unknown"
            )
            self._cv.notify_all()
        self._record("runtime_init_error", error_type=self._runtime_init_error_type, error=body)
        return _json(202, {"status": "OK"})

    def _park(self, gen: int, ready: Callable[[], bool], *, thawed: bool = True) -> bool:
        """Wait on ``self._cv`` (held) until ``ready()`` (and, by default, the sandbox is not
        frozen); ``False`` if the sandbox was reset (``gen`` moved on) or closed meanwhile."""
        while (
            self._gen == gen
            and self._phase != "closed"
            and (not ready() or (thawed and self._frozen))
        ):
            self._cv.wait()
        return self._gen == gen and self._phase != "closed"

    def _runtime_restore_next(self) -> Response | Detach | None:
        with self._cv:
            if self.init_type != "snap-start" or self._runtime_restore_waiting:
                return _invalid_state(self._runtime_state(), "RestoreReady")
            gen = self._gen
            self._runtime_restore_waiting = True
            if self._runtime_first_next is None:
                self._runtime_first_next = time.monotonic()
                self._registration_closed = True
                self._record("runtime_restore_next", phase=self._phase)
            self._cv.notify_all()
            return self._await_restore(gen)

    def _await_restore(self, gen: int) -> Response | Detach | None:
        """(cv held) Park in ``restore/next`` until the restore, or go into the snapshot."""
        if not self._park(gen, lambda: self._restore_released or self._detaching):
            return None
        if not self._restore_released:
            return Detach("runtime")
        self._runtime_restore_waiting = False
        return _json(200, {})

    def _lmi_next(self) -> Response | None:
        """Managed Instances: any idle worker takes the oldest queued event."""
        with self._cv:
            gen = self._gen
            self._runtime_waiting = True
            if self._runtime_first_next is None:
                self._runtime_first_next = time.monotonic()
                self._registration_closed = True
                self._record("runtime_next", first=True, phase=self._phase)
            self._cv.notify_all()
            if not self._park(gen, lambda: bool(self._lmi_queue), thawed=False):
                return None
            inv = self._lmi_queue.popleft()
            inv.taken = True
            self._cv.notify_all()
        return Response(200, inv.body, inv.headers)

    def _lmi_invoke(self, body: bytes, client_context: Mapping[str, Any] | None) -> InvokeResult:
        """One event on Managed Instances: queued for any worker; no freeze, no reset."""
        spec = self.spec
        request_id = str(uuid.uuid4())
        start = time.monotonic()
        deadline = start + spec.timeout_s
        deadline_ms = int((time.time() + spec.timeout_s) * 1000)
        inv = _Invocation(
            request_id=request_id,
            body=body,
            headers=self._event_headers(request_id, deadline_ms, client_context),
        )
        self._record("invoke_start", request_id=request_id)
        self._platform_line(f"START RequestId: {request_id} Version: {spec.version}")
        status: Literal["success", "error", "timeout", "crash"]
        error_type: str | None = None
        with self._cv:
            gen = self._gen
            busy = len(self._lmi_inflight)
            if busy >= self.max_concurrency:
                # Lambda rejects a request when every worker is busy.
                status, error_type = "error", "TooManyRequestsException"
                payload = json.dumps(
                    {
                        "errorType": error_type,
                        "errorMessage": f"all {self.max_concurrency} workers are busy",
                    }
                ).encode()
            else:
                self._lmi_inflight[request_id] = inv
                self._lmi_queue.append(inv)
                self._cv.notify_all()
                runtime = self._runtime
                self._wait(
                    lambda: (
                        inv.answered is not None
                        or self._gen != gen
                        or self._phase == "closed"
                        or (runtime is not None and runtime.exited is not None)
                    ),
                    deadline,
                )
                self._lmi_inflight.pop(request_id, None)
                if not inv.taken:
                    with contextlib.suppress(ValueError):
                        self._lmi_queue.remove(inv)
                if inv.answered is None:
                    crashed = self._gen != gen or (runtime is not None and runtime.exited)
                    status = "crash" if crashed else "timeout"
                    error_type = "Runtime.ExitError" if crashed else "Sandbox.Timedout"
                    payload = (
                        _timeout_payload(request_id, spec.timeout_s)
                        if status == "timeout"
                        else json.dumps(
                            {"errorType": error_type, "errorMessage": "Runtime exited"}
                        ).encode()
                    )
                else:
                    status, error_type, payload = _outcome_of(inv)
        duration = round((time.monotonic() - start) * 1000, 3)
        response_ms = round((inv.answered - start) * 1000, 3) if inv.answered else None
        result = InvokeResult(
            request_id=request_id,
            status=status,
            payload=payload,
            error_type=error_type,
            duration_ms=duration,
            billed_duration_ms=math.ceil(duration),
            max_memory_used_mb=0,
            init_duration_ms=None,
            restore_duration_ms=None,
            suppressed_init=None,
            response_ms=response_ms,
            runtime_done_ms=None,
            extensions_done_ms={},
            logs=[],
        )
        with self._cv:
            self.invocations.append(result)
        self._platform_line(f"END RequestId: {request_id}")
        self._platform_line(f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms")
        self._record(
            "invoke_end",
            request_id=request_id,
            status=status,
            error_type=error_type,
            duration_ms=duration,
            response_ms=response_ms,
        )
        return result

    def _extension_api(self, req: Request, rest: str) -> Response | Detach | None:
        match (req.method, rest):
            case ("POST", "register"):
                return self._register(req)
            case ("GET", "event/next"):
                ext_or_err = self._identify(req)
                if isinstance(ext_or_err, Response):
                    return ext_or_err
                return self._extension_next(ext_or_err)
            case ("POST", ("init/error" | "exit/error") as what):
                ext_or_err = self._identify(req)
                if isinstance(ext_or_err, Response):
                    return ext_or_err
                error_type = req.header("Lambda-Extension-Function-Error-Type")
                if not error_type:
                    return _error(
                        403,
                        "Extension.MissingHeader",
                        "Missing Lambda-Extension-Function-Error-Type header",
                    )
                with self._cv:
                    if what == "init/error":
                        ext_or_err.init_error = error_type
                    else:
                        ext_or_err.exit_error = error_type
                    self._cv.notify_all()
                self._record(
                    "extension_" + what.replace("/", "_"),
                    name=ext_or_err.name,
                    error_type=error_type,
                )
                return _json(202, {"status": "OK"})
        return _NOT_FOUND

    def _register(self, req: Request) -> Response:
        name = req.header("Lambda-Extension-Name") or ""
        if not name:
            return _error(403, "Extension.InvalidExtensionName", "Empty extension name")
        try:
            body = json.loads(req.body or b"null")
        except ValueError:
            return _error(403, "InvalidRequestFormat", "Request body is not valid JSON")
        if not isinstance(body, dict):
            return _error(403, "InvalidRequestFormat", "Request body must be a JSON object")
        if "configurationKeys" in body:
            return _error(403, "InvalidRequestFormat", "configurationKeys is not supported")
        events = body.get("events") or []
        if not isinstance(events, list) or any(e not in ("INVOKE", "SHUTDOWN") for e in events):
            return _error(403, "Extension.InvalidEventType", f"Invalid event types {events!r}")
        if self._lmi and "INVOKE" in events:  # as RIE-LMI: no INVOKE events on Managed Instances
            return _error(
                403, "Extension.InvalidEventType", "INVOKE is not supported on Managed Instances"
            )
        with self._cv:
            if self._phase != "init" or self._registration_closed:
                return _error(
                    403, "Extension.RegistrationClosed", "Extension registration closed already"
                )
            external = name in self._external_names
            if not external and "SHUTDOWN" in events:
                return _error(
                    403,
                    "Extension.InvalidEventType",
                    "Internal extensions cannot register for SHUTDOWN",
                )
            if any(e.name == name for e in self._extensions.values()):
                return _error(
                    403, "Extension.InvalidExtensionState", f"Extension {name} already registered"
                )
            if len(self._extensions) >= MAX_EXTENSIONS:
                return _error(403, "Extension.TooManyExtensions", "Too many extensions registered")
            ext = _Extension(
                id=str(uuid.uuid4()),
                name=name,
                events=list(events),
                external=external,
                registered=time.monotonic(),
            )
            self._extensions[ext.id] = ext
            self._cv.notify_all()
        self._record("extension_register", name=name, events=events, external=external)
        payload: dict[str, str] = {
            "functionName": self.spec.name,
            "functionVersion": self.spec.version,
            "handler": self.spec.handler,
        }
        if "accountId" in (req.header("Lambda-Extension-Accept-Feature") or ""):
            payload["accountId"] = ACCOUNT_ID
        return Response(
            200,
            json.dumps(payload).encode(),
            [("Content-Type", "application/json"), ("Lambda-Extension-Identifier", ext.id)],
        )

    def _identify(self, req: Request) -> _Extension | Response:
        ident = req.header("Lambda-Extension-Identifier")
        if not ident:
            return _error(
                403,
                "Extension.MissingExtensionIdentifier",
                "Missing Lambda-Extension-Identifier header",
            )
        try:
            uuid.UUID(ident)
        except ValueError:
            return _error(
                403, "Extension.InvalidExtensionIdentifier", "Invalid Lambda-Extension-Identifier"
            )
        with self._cv:
            ext = self._extensions.get(ident)
        if ext is None:
            return _error(403, "Extension.UnknownExtensionIdentifier", "Unknown extension " + ident)
        return ext

    def _extension_next(self, ext: _Extension) -> Response | Detach | None:
        with self._cv:
            if ext.waiting:
                return _invalid_state("Ready", "Ready", who="extension")
            gen = self._gen
            ext.waiting = True
            inv = self._current
            if inv is not None and ext.handling == inv.request_id:
                inv.extensions_done[ext.name] = time.monotonic()
            ext.handling = None
            if ext.first_next is None:
                ext.first_next = time.monotonic()
                self._record("extension_next", name=ext.name, first=True, phase=self._phase)
            self._cv.notify_all()
            return self._await_event(ext, gen)

    def _await_event(self, ext: _Extension, gen: int) -> Response | Detach | None:
        """(cv held) Park in ``event/next`` until an event, or go into the snapshot."""
        if not self._park(gen, lambda: bool(ext.events_queue) or self._detaching):
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


# ---------------------------------------------------------------------------------- helpers

_LIVE: weakref.WeakSet[Sandbox] = weakref.WeakSet()


@atexit.register
def _kill_leftovers() -> None:
    """Never leave stopped processes behind when the interpreter exits without a shutdown()."""
    for sandbox in list(_LIVE):
        sandbox._signal_group(signal.SIGKILL)


def _link_or_copy(src: str, dst: str) -> object:
    try:
        if os.path.lexists(dst):  # a later layer overrides an earlier one's file
            os.unlink(dst)
        os.link(src, dst)
    except OSError:  # another file system, or links not allowed
        return shutil.copy2(src, dst)
    return dst


def _alive(pid: int) -> bool:
    return _proc_state(pid) not in "ZX"


def _proc_state(pid: int) -> str:
    """The one-letter state of a process ("X" if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "X"
    return stat.rsplit(")", 1)[1].split()[0]


def _json(status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()) -> Response:
    return Response(
        status, json.dumps(payload).encode(), [("Content-Type", "application/json"), *headers]
    )


def _error(status: int, error_type: str, message: str) -> Response:
    return _json(status, {"errorMessage": message, "errorType": error_type})


_NOT_FOUND = Response(404, b"404 page not found\n", [("Content-Type", "text/plain; charset=utf-8")])
"""What rapid (a Go ``http.ServeMux``) answers for a path it does not serve."""


def _invalid_state(src: str, dst: str, who: str = "runtime") -> Response:
    return _error(
        403,
        "InvalidStateTransition",
        f"State transition from {src} to {dst} failed for {who}. "
        "Error: State transition is not allowed",
    )


def _json_body(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _outcome_of(
    inv: _Invocation,
) -> tuple[Literal["success", "error"], str | None, bytes]:
    """What the runtime answered: ``error`` with its type (header, body, else rapid's default)."""
    if inv.error is not None:
        error_type = inv.error_type or _json_field(inv.error, "errorType") or "Runtime.Unknown"
        return "error", error_type, inv.error
    return "success", None, inv.response or b""


def _json_field(body: bytes, name: str) -> str | None:
    value = (_json_body(body) or {}).get(name)
    return value if isinstance(value, str) else None


def _header(headers: list[tuple[str, str]], name: str) -> str:
    return next((v for k, v in headers if k == name), "")


def _timeout_payload(request_id: str, timeout_s: float) -> bytes:
    return json.dumps(
        {
            "errorType": "Sandbox.Timedout",
            "errorMessage": (
                f"RequestId: {request_id} Error: Task timed out after {timeout_s:.2f} seconds"
            ),
        }
    ).encode()


def _init_report_line(result: InitResult) -> str:
    line = (
        f"INIT_REPORT Init Duration: {result.duration_ms:.2f} ms\t"
        f"Phase: {result.phase}\tStatus: {result.status}"
    )
    if result.error_type:
        line += f"\tError Type: {result.error_type}"
    return line
