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

The rooms: :class:`Sandbox` (here) runs that lifecycle over the phase in ``_phase.py`` (the
enum, its legal moves, and the condition every room waits on). Around it: the Runtime API
(``_runtime_api.py``), the Extensions API (``_extensions_api.py``), the processes (spawn,
freeze, thaw, keeper: ``_processes.py``), SnapStart's checkpoint and restores
(``_snapstart.py``), the records and platform lines (``_records.py``), the file system and
environment variables (``_layout.py``), and the caller's types (``_spec.py``).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import shutil
import signal
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ._answers import NOT_FOUND, json_response, timeout_error
from ._criu import Criu, SnapshotUnavailableError, find_criu
from ._extensions_api import ACCOUNT_ID, Extension, ExtensionsApi
from ._http import Detach, HttpServer, Request, Response
from ._layout import copy_layout, lambda_environment
from ._phase import Lifecycle, Phase
from ._processes import LogSocket, Process, ProcessGroup, alive
from ._records import (
    LogTarget,
    Recorder,
    end_line,
    init_report_line,
    init_start_line,
    report_invocation,
    start_line,
    timed_out_line,
)
from ._runtime_api import Invocation, RuntimeApi
from ._runtime_venv import runtime_venv
from ._snapshot import NsProcess, SnapshotError, child_pids
from ._snapstart import Snapshots
from ._spec import (
    INIT_TYPES,
    LMI,
    FunctionSpec,
    InitResult,
    InitType,
    InvokeResult,
    SandboxError,
)

__all__ = [
    "INIT_TYPES",
    "FunctionSpec",
    "InitResult",
    "InitType",
    "InvokeResult",
    "Sandbox",
    "SandboxError",
]

LONG_INIT_LIMIT_S = 130.0
RESTORE_LIMIT_S = 10.0
RUNTIME_SHUTDOWN_SHARE = 300 / 2000
"""With external extensions the runtime gets 300 ms of the 2,000 ms shutdown budget."""

InitStatus = Literal["success", "error", "timeout"]
InvokeStatus = Literal["success", "error", "timeout", "crash"]


@dataclass
class _Outcome:
    """How one invocation went, before its REPORT."""

    status: InvokeStatus
    error_type: str | None
    payload: bytes
    memory_mb: int = 0
    must_reset: bool = False
    """Reset even if the caller got an answer (the runtime answered, then died)."""
    restore_ms: float | None = None
    response_ms: float | None = None
    runtime_done_ms: float | None = None
    extensions_done_ms: dict[str, float] = field(default_factory=dict)
    waiting_for: list[str] = field(default_factory=list)


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
        log: LogTarget = None,
        prefix_logs: bool = True,
        records_path: str | os.PathLike[str] | None = None,
        workdir: Path | None = None,
        copy_files: bool = False,
        snapshots: bool | None = None,
    ) -> None:
        _check_options(spec, init_type, max_concurrency)
        self.spec = spec
        self.init_type: InitType = init_type
        self._lmi = init_type == LMI
        self.max_concurrency = max_concurrency
        self.on_demand_init_limit_s = on_demand_init_limit_s
        self.shutdown_budget_s = shutdown_budget_s
        self.restore_limit_s = restore_limit_s
        self.prefix_logs = prefix_logs
        self.copy_files = copy_files
        self._recorder = Recorder(log, prefix_logs=prefix_logs, records_path=records_path)
        self.records = self._recorder.records
        self._t0 = self._recorder.t0
        self.inits: list[InitResult] = []
        self.invocations: list[InvokeResult] = []
        self._lifecycle = Lifecycle()
        self._cv = self._lifecycle.cv
        self._op_lock = threading.RLock()
        """One caller operation at a time (but Managed Instances' events run concurrently)."""
        self._own_workdir = workdir is None
        self._root = (
            Path(tempfile.mkdtemp(prefix="lambda-sandbox-")) if workdir is None else workdir
        )
        self.task_root = self._root / "var" / "task"
        self.opt_dir = self._root / "opt"
        self.tmp_dir = self._root / "tmp"
        self._server = HttpServer(self._route, on_detach=self._on_detach)
        self.runtime_api = self._server.address
        self._make_rooms()
        try:
            self._venv = runtime_venv(spec.python_version)
            self._criu: Criu | None
            self.snapshot_unavailable: str | None
            self._criu, self.snapshot_unavailable = _snapshot_tool(init_type, snapshots)
            copy_layout(spec, self.task_root, self.opt_dir, self.tmp_dir, copy=copy_files)
        except BaseException:
            self._server.stop()
            self._recorder.close()
            if self._own_workdir:
                shutil.rmtree(self._root, ignore_errors=True)
            raise
        self._server.start()

    def _make_rooms(self) -> None:
        """The rooms, and the orchestration state that spans them (guarded by ``_cv``)."""
        self._group = ProcessGroup(self._lifecycle, self._recorder, self.task_root)
        self._runtime = RuntimeApi(self._lifecycle, self._recorder, self.init_type)
        self._extensions = ExtensionsApi(
            self._lifecycle,
            self._recorder,
            self.spec,
            managed_instances=self._lmi,
            registration_closed=lambda: self._runtime.first_next is not None,
            current=lambda: self._runtime.current,
        )
        self._log_socket = LogSocket(self._root / "log-fd.sock", self._recorder)
        self._runtime_proc: Process | None = None
        self._launched: dict[str, Process] = {}
        """The extension files started, by name (registered or not)."""
        self._pending_init_duration: float | None = None
        """On-demand: the INIT's duration, for the first invocation's REPORT."""
        self._restore_due = False
        """SnapStart: the next invocation restores an environment first."""
        # SnapStart (see _snapstart.py); _criu and snapshot_unavailable are set in __init__.
        self.restores = 0
        """Restores so far (SnapStart); each one a new environment from the same snapshot."""
        self._snapshots = Snapshots(
            self._lifecycle,
            self._recorder,
            self._group,
            self._runtime,
            self._extensions,
            self._server,
            images_dir=self._root / "snapshot",
            tmp_dir=self.tmp_dir,
        )

    # ----------------------------------------------------------------------------------- API

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def start(self) -> InitResult:
        """Run INIT now (if not done yet) and freeze the sandbox; returns that INIT's result."""
        with self._op_lock:
            self._check_open()
            if self._lifecycle.ready or self.inits:
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
            if not self._lifecycle.ready:
                raise SandboxError(
                    "this Managed Instances environment failed its INIT; Lambda replaces it "
                    "(there is no re-init): make a new Sandbox"
                )
        # Managed Instances: no lock held while the event runs, so threads invoke concurrently.
        return self._lmi_invoke(body, client_context)

    def shutdown(self) -> None:
        """SHUTDOWN (reason ``spindown``), then stop the API server and remove the work dir."""
        with self._op_lock:
            if self._lifecycle.closed:
                return
            try:
                if self._group.procs:
                    self._teardown("spindown")
            finally:
                self._lifecycle.move_to(Phase.CLOSED)
                self._server.stop()
                self._log_socket.close()
                self._recorder.record("closed")
                self._recorder.close()
                if self._own_workdir:
                    shutil.rmtree(self._root, ignore_errors=True)

    @property
    def pids(self) -> list[int]:
        """Pids of the live processes of the sandbox (runtime and extensions)."""
        with self._cv:
            return self._group.pids

    @property
    def frozen(self) -> bool:
        return self._lifecycle.frozen

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
            if self._snapshots.snapshot is not None and self._group.procs:
                self._teardown("spindown")

    def _check_open(self) -> None:
        if self._lifecycle.closed:
            raise SandboxError("sandbox is shut down")

    # ------------------------------------------------------------------------------- layout

    def _environment(self) -> tuple[dict[str, str], dict[str, str]]:
        """(runtime env, extension env) for a new INIT."""
        env, ext_env = lambda_environment(
            self.spec,
            task_root=self.task_root,
            opt_dir=self.opt_dir,
            tmp_dir=self.tmp_dir,
            venv=self._venv,
            init_type=self.init_type,
            runtime_api=self.runtime_api,
        )
        if not self._lmi:
            # As on Lambda, the runtime writes each log record as one frame (FramedTelemetry-
            # LogSink), so a record of several lines stays one. Here the frames go to its
            # stdout, in order with what it prints. On Managed Instances the parent would take
            # the variable and close that fd before forking the workers, so they keep stdout.
            env["_LAMBDA_TELEMETRY_LOG_FD"] = "1"
        else:
            # awslambdaric forks this many workers. Whether extensions see it on Lambda is not
            # documented; ours must not rely on it, so they do not get it here.
            env["AWS_LAMBDA_MAX_CONCURRENCY"] = str(self.max_concurrency)
            log_socket = self._log_socket.open()
            if log_socket is not None:
                env["_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET"] = log_socket
        return env, ext_env

    def _function_arn(self) -> str:
        return f"arn:aws:lambda:{self.spec.region}:{ACCOUNT_ID}:function:{self.spec.name}"

    def _freeze(self) -> None:
        if not self._lmi:  # Managed Instances never freeze
            self._group.freeze()

    # --------------------------------------------------------------------------------- INIT

    def _init_limit_s(self) -> float:
        if self.init_type == "on-demand":
            return self.on_demand_init_limit_s
        return max(LONG_INIT_LIMIT_S, self.spec.timeout_s)

    def _init_phase(self) -> InitResult:
        """INIT ahead of any invocation; on failure the sandbox is reset and left un-initialised."""
        self._recorder.platform_line(init_start_line(self.spec))
        result = self._run_init("init", limit_s=self._init_limit_s())
        if result.status == "success":
            if self.init_type == "snap-start":
                self._restore_due = True
                if self._group.namespace is not None:
                    self._take_snapshot()
            elif self.init_type == "on-demand":
                # Provisioned concurrency: INIT is not part of any request, REPORT omits it.
                self._pending_init_duration = result.duration_ms
            self._freeze()
        else:
            self._recorder.platform_line(init_report_line(result))
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
            self._lifecycle.next_generation()
            self._lifecycle.move_to(Phase.INIT)
            self._launched = {}
            self._extensions.extensions = {}
            self._runtime_proc = None
            # An INIT inside an invocation is never snapshotted: nothing to wait for.
            self._runtime.reset_for_init(restore_released=phase == "invoke")
        self._recorder.record("init_start", phase=phase, init_type=self.init_type)
        self._group.start_root(in_namespace=self._criu is not None and phase == "init")
        status, error_type = self._start_extensions(ext_env, deadline)
        if status == "success":
            status, error_type = self._start_runtime(env, deadline)
        ended = time.monotonic()
        # What was written before INIT ended (an extension's last line before its next) is part
        # of INIT's output: do not let start() return before the readers have passed it on.
        self._group.drain_output()
        result = self._end_init(phase, start, ended, status, error_type)
        self.inits.append(result)
        self._recorder.record(
            "init_end",
            phase=phase,
            status=status,
            error_type=error_type,
            duration_ms=result.duration_ms,
            extensions_registered_ms=result.extensions_registered_ms,
            runtime_started_ms=result.runtime_started_ms,
            runtime_next_ms=result.runtime_next_ms,
            extensions_next_ms=result.extensions_next_ms,
            waiting_for=result.waiting_for,
        )
        return result

    def _start_extensions(
        self, ext_env: dict[str, str], deadline: float
    ) -> tuple[InitStatus, str | None]:
        """Start every file in ``opt/extensions``; wait until each has registered."""
        ext_dir = self.opt_dir / "extensions"
        files = sorted(p for p in ext_dir.iterdir() if p.is_file()) if ext_dir.is_dir() else []
        launch_error: str | None = None
        with self._cv:
            self._extensions.external_names = {path.name for path in files}
        for path in files:
            try:
                proc = self._group.spawn(path.name, "extension", [str(path)], dict(ext_env))
            except OSError as exc:
                self._recorder.record("extension_launch_error", name=path.name, error=str(exc))
                launch_error = "Extension.LaunchError"
                break
            with self._cv:
                self._launched[path.name] = proc
        with self._cv:
            ok = self._lifecycle.wait(
                lambda: self._all_registered() or self._extension_failed() is not None, deadline
            )
            failed = self._extension_failed()
        if launch_error is not None or failed is not None:
            return "error", launch_error or failed
        return ("success" if ok else "timeout"), None

    def _start_runtime(self, env: dict[str, str], deadline: float) -> tuple[InitStatus, str | None]:
        """Start the runtime; wait until it and every extension have called ``next``."""
        self._runtime_proc = self._group.spawn(
            "runtime",
            "runtime",
            [str(self._venv / "bin" / "python"), "-m", "awslambdaric", self.spec.handler],
            env,
        )
        with self._cv:
            ok = self._lifecycle.wait(
                lambda: self._init_done() or self._init_failed() is not None, deadline
            )
            failed = self._init_failed()
        if failed is not None:
            return "error", failed
        return ("success" if ok else "timeout"), None

    def _end_init(
        self,
        phase: Literal["init", "invoke"],
        start: float,
        ended: float,
        status: InitStatus,
        error_type: str | None,
    ) -> InitResult:
        """INIT's result; the phase moves on to READY if it succeeded (else stays INIT until the
        teardown)."""

        def rel(t: float | None) -> float | None:
            return None if t is None else round((t - start) * 1000, 3)

        with self._cv:
            waiting_for = [] if status == "success" else self._init_waiting_for()
            if status == "success":
                self._lifecycle.move_to(Phase.READY)
            runtime_started = self._runtime_proc.started if self._runtime_proc else None
            exts = list(self._extensions.extensions.values())
            return InitResult(
                phase=phase,
                status=status,
                error_type=error_type,
                duration_ms=round((ended - start) * 1000, 3),
                extensions_registered_ms={e.name: rel(e.registered) or 0.0 for e in exts},
                runtime_started_ms=rel(runtime_started),
                runtime_next_ms=rel(self._runtime.first_next),
                extensions_next_ms={
                    e.name: rel(e.first_next) or 0.0 for e in exts if e.first_next is not None
                },
                error=self._runtime.init_error if status == "error" else None,
                waiting_for=waiting_for,
            )

    # The conditions INIT and INVOKE wait for, across the rooms (cv held).

    def _all_registered(self) -> bool:
        names = {e.name for e in self._extensions.extensions.values() if e.external}
        return all(name in names for name in self._extensions.external_names)

    def _extension_failed(self) -> str | None:
        """Error type if an extension failed (crashed, exited, or reported an error)."""
        # As rapid records them: the extension's own error type goes to the records only.
        for ext in self._extensions.extensions.values():
            if ext.init_error:
                return "Extension.InitError"
            if ext.exit_error:
                return "Extension.ExitError"
        for proc in self._launched.values():
            if proc.exited is not None:
                return "Extension.Crash"
        return None

    def _init_done(self) -> bool:
        return self._runtime.ready() and all(
            e.waiting for e in self._extensions.extensions.values()
        )

    def _init_failed(self) -> str | None:
        if self._runtime.init_error_type is not None:
            return self._runtime.init_error_type
        failed = self._extension_failed()
        if failed is not None:
            return failed
        if self._runtime_proc is not None and self._runtime_proc.exited is not None:
            return "Runtime.ExitError"
        return None

    def _init_waiting_for(self) -> list[str]:
        extensions = self._extensions.extensions.values()
        external = self._extensions.external_names
        registered = {e.name for e in extensions}
        out = [f"{name}: register" for name in sorted(external - registered)]
        if registered >= external:
            if self._runtime_proc is None:
                out.append("runtime: start")
            elif not self._runtime.ready():
                out.append("runtime: next")
        out += [f"{e.name}: next" for e in extensions if not e.waiting]
        return out

    def _invoke_done(self, inv: Invocation) -> bool:
        return (
            inv.answered is not None
            and self._runtime.waiting
            and all(e.invoke_done for e in self._extensions.extensions.values())
        )

    def _invoke_crashed(self) -> str | None:
        if self._runtime_proc is not None and self._runtime_proc.exited is not None:
            return "Runtime.ExitError"
        for ext in self._extensions.extensions.values():
            if ext.exit_error:
                return "Extension.ExitError"
        for proc in self._launched.values():
            if proc.exited is not None:
                return "Extension.Crash"
        return None

    def _invoke_waiting_for(self, inv: Invocation) -> list[str]:
        out = []
        if not inv.taken:
            out.append("runtime: next (to take the event)")
        elif inv.answered is None:
            out.append("runtime: response")
        elif not self._runtime.waiting:
            out.append("runtime: next")
        extensions = self._extensions.extensions.values()
        out += [f"{e.name}: next" for e in extensions if not e.invoke_done]
        return out

    # ------------------------------------------------------------------------------- INVOKE

    def _invoke(self, body: bytes, client_context: Mapping[str, Any] | None) -> InvokeResult:
        """One event: INIT first if needed, the restore if due, the event, then the reset or
        freeze, and REPORT."""
        spec = self.spec
        request_id = str(uuid.uuid4())
        logs: list[str] = []
        self._recorder.capture(logs)
        start = time.monotonic()
        deadline = start + spec.timeout_s
        deadline_ms = int((time.time() + spec.timeout_s) * 1000)
        self._recorder.record("invoke_start", request_id=request_id)
        self._recorder.platform_line(start_line(request_id, spec.version))
        init_duration, self._pending_init_duration = self._pending_init_duration, None
        suppressed = self._init_if_needed(deadline)
        if suppressed is not None and suppressed.status != "success":
            outcome = self._init_failed_outcome(request_id, suppressed)
        else:
            self._group.thaw()
            inv = Invocation(
                request_id=request_id,
                body=body,
                headers=self._event_headers(request_id, deadline_ms, client_context),
            )
            outcome = self._restore_and_deliver(inv, deadline, deadline_ms)
        duration = round((time.monotonic() - start) * 1000, 3)
        self._after_invocation(outcome, suppressed)
        self._recorder.capture(None)
        billed = math.ceil(
            duration + (init_duration or 0) if self.init_type == "on-demand" else duration
        )
        result = InvokeResult(
            request_id=request_id,
            status=outcome.status,
            payload=outcome.payload,
            error_type=outcome.error_type,
            duration_ms=duration,
            billed_duration_ms=billed,
            max_memory_used_mb=outcome.memory_mb,
            init_duration_ms=init_duration,
            restore_duration_ms=outcome.restore_ms,
            suppressed_init=suppressed,
            response_ms=outcome.response_ms,
            runtime_done_ms=outcome.runtime_done_ms,
            extensions_done_ms=outcome.extensions_done_ms,
            logs=logs,
            waiting_for=outcome.waiting_for if outcome.status == "timeout" else [],
        )
        self.invocations.append(result)
        report_invocation(self._recorder, result, memory_size_mb=self.spec.memory_mb)
        return result

    def _init_if_needed(self, deadline: float) -> InitResult | None:
        """The INIT this invocation has to do itself (suppressed init, or after a reset)."""
        if self._lifecycle.ready and self._died_while_idle():
            self._teardown("failure")
        if self._lifecycle.ready:
            return None
        self._recorder.platform_line(init_start_line(self.spec))
        suppressed = self._run_init("invoke", deadline)
        if suppressed.status != "success":
            self._recorder.platform_line(init_report_line(suppressed))
        return suppressed

    def _died_while_idle(self) -> bool:
        with self._cv:
            return self._invoke_crashed() is not None

    def _init_failed_outcome(self, request_id: str, init: InitResult) -> _Outcome:
        if init.status == "timeout":
            outcome = _Outcome(
                "timeout", "Sandbox.Timedout", timeout_error(request_id, self.spec.timeout_s)
            )
            outcome.waiting_for = init.waiting_for
        else:
            error = init.error or {
                "errorType": init.error_type,
                "errorMessage": f"RequestId: {request_id} Error: INIT failed: {init.error_type}",
            }
            outcome = _Outcome("error", init.error_type, json.dumps(error).encode())
        outcome.memory_mb = self._group.memory_used_mb()
        return outcome

    def _restore_and_deliver(self, inv: Invocation, deadline: float, deadline_ms: int) -> _Outcome:
        """SnapStart's first invocation of an environment is its restore; then the event."""
        if not self._restore_due:
            return self._deliver(inv, deadline, deadline_ms)
        self._restore_due = False
        restore_ms, restore_error = self._restore(inv.request_id)
        if restore_error is None:
            outcome = self._deliver(inv, deadline, deadline_ms)
        else:
            error = self._runtime.init_error or {
                "errorType": restore_error,
                "errorMessage": f"RequestId: {inv.request_id} Error: restore failed",
            }
            outcome = _Outcome("error", restore_error, json.dumps(error).encode(), must_reset=True)
            outcome.memory_mb = self._group.memory_used_mb()
        outcome.restore_ms = restore_ms
        return outcome

    def _deliver(self, inv: Invocation, deadline: float, deadline_ms: int) -> _Outcome:
        """Hand the event to the runtime and INVOKE to the extensions; wait for them to be done."""
        event = {
            "eventType": "INVOKE",
            "deadlineMs": deadline_ms,
            "requestId": inv.request_id,
            "invokedFunctionArn": self._function_arn(),
            "tracing": {
                "type": "X-Amzn-Trace-Id",
                "value": _header(inv.headers, "Lambda-Runtime-Trace-Id"),
            },
        }
        handed = time.monotonic()
        self._recorder.record("invoke_handed", request_id=inv.request_id)
        with self._cv:
            self._lifecycle.move_to(Phase.INVOKE)
            self._runtime.hand_over(inv)
            for ext in self._extensions.extensions.values():
                if "INVOKE" in ext.events:
                    ext.events_queue.append(dict(event))
            self._cv.notify_all()
            self._lifecycle.wait(
                lambda: self._invoke_done(inv) or self._invoke_crashed() is not None, deadline
            )
            crashed = self._invoke_crashed()
            done = self._invoke_done(inv)
            waiting_for = [] if done else self._invoke_waiting_for(inv)
        outcome = self._judge(inv, done=done, crashed=crashed)
        outcome.memory_mb = self._group.memory_used_mb()
        outcome.waiting_for = waiting_for

        def since_handed(t: float) -> float:
            return round((t - handed) * 1000, 3)

        if inv.answered is not None:
            outcome.response_ms = since_handed(inv.answered)
        if inv.runtime_done is not None:
            outcome.runtime_done_ms = since_handed(inv.runtime_done)
        outcome.extensions_done_ms = {n: since_handed(t) for n, t in inv.extensions_done.items()}
        return outcome

    def _judge(self, inv: Invocation, *, done: bool, crashed: str | None) -> _Outcome:
        """What the caller gets: the answer, or a crash or timeout error."""
        answered = done or (crashed is not None and inv.answered is not None)
        if answered:
            # The runtime answered, then died (e.g. after a 413): the caller gets the answer,
            # and the sandbox is reset all the same.
            status, error_type, payload = inv.outcome()
            must_reset = crashed is not None and not done
            return _Outcome(status, error_type, payload, must_reset=must_reset)
        if crashed is not None:
            code = self._runtime_proc.returncode if self._runtime_proc else None
            reason = f" with error: exit status {code}" if code else " without providing a reason"
            error = {
                "errorType": crashed,
                "errorMessage": f"RequestId: {inv.request_id} Error: Runtime exited{reason}",
            }
            return _Outcome("crash", crashed, json.dumps(error).encode(), must_reset=True)
        timeout_s = self.spec.timeout_s
        self._recorder.platform_line(timed_out_line(inv.request_id, timeout_s))
        return _Outcome("timeout", "Sandbox.Timedout", timeout_error(inv.request_id, timeout_s))

    def _after_invocation(self, outcome: _Outcome, suppressed: InitResult | None) -> None:
        """Reset after a timeout, a crash or a failed INIT; otherwise freeze until the next."""
        if (
            outcome.must_reset
            or outcome.status in ("timeout", "crash")
            or (suppressed is not None and suppressed.status != "success")
        ):
            self._teardown("timeout" if outcome.status == "timeout" else "failure")
        else:
            with self._cv:
                self._lifecycle.move_to(Phase.READY)
                self._runtime.current = None
            self._freeze()
        self._group.drain_output()

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

    # ----------------------------------------------------------------- Managed Instances

    def _lmi_invoke(self, body: bytes, client_context: Mapping[str, Any] | None) -> InvokeResult:
        """One event on Managed Instances: queued for any worker; no freeze, no reset."""
        spec = self.spec
        request_id = str(uuid.uuid4())
        start = time.monotonic()
        deadline_ms = int((time.time() + spec.timeout_s) * 1000)
        inv = Invocation(
            request_id=request_id,
            body=body,
            headers=self._event_headers(request_id, deadline_ms, client_context),
        )
        self._recorder.record("invoke_start", request_id=request_id)
        self._recorder.platform_line(start_line(request_id, spec.version))
        status, error_type, payload = self._runtime.run_queued(
            inv, start + spec.timeout_s, self.max_concurrency, self._runtime_proc, spec.timeout_s
        )
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
        self._recorder.platform_line(end_line(request_id))
        self._recorder.platform_line(f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms")
        self._recorder.record(
            "invoke_end",
            request_id=request_id,
            status=status,
            error_type=error_type,
            duration_ms=duration,
            response_ms=response_ms,
        )
        return result

    # --------------------------------------------------------------------------- SnapStart

    def _restore(self, request_id: str) -> tuple[float, str | None]:
        """SnapStart: answer ``restore/next``, wait for the runtime's ``next`` (bounded by the
        restore limit); returns (duration ms, error type or None). With a snapshot, a new
        environment is restored from it first (that time is part of the restore, as on Lambda)."""
        start = time.monotonic()
        self.restores += 1
        self._recorder.record(
            "restore_start",
            request_id=request_id,
            restore=self.restores,
            from_snapshot=self._snapshots.snapshot is not None,
        )
        if self._snapshots.snapshot is not None:
            self._restore_snapshot()
        with self._cv:
            self._runtime.release_restore()
            ok = self._lifecycle.wait(
                lambda: self._runtime.waiting or self._init_failed() is not None,
                start + self.restore_limit_s,
            )
            failed = self._init_failed()
        error = failed or (None if ok else "SnapStartTimeoutException")
        ms = round((time.monotonic() - start) * 1000, 3)
        self._recorder.record("restore_end", duration_ms=ms, error_type=error)
        return ms, error

    def _take_snapshot(self) -> None:
        """End INIT's tree with a checkpoint; if that fails, it runs on for a single restore."""
        assert self._criu is not None
        failed = self._snapshots.take(self._criu, self._end_processes)
        if failed is not None:
            self.snapshot_unavailable = f"the checkpoint failed: {failed}"
            self._criu = None

    def _restore_snapshot(self) -> None:
        """A new environment from the snapshot: its processes, /tmp, and blocked requests.

        On failure (the sandbox's, not the function's): whatever came back is shut down, the
        next invocation tries a new restore, and this one raises ``SandboxError``.
        """
        assert self._criu is not None
        try:
            self._snapshots.restore(self._criu, self.restores, self._track_restored)
        except SnapshotError as exc:
            self._recorder.record("snapshot_restore_error", restore=self.restores, error=str(exc))
            if self._group.procs:
                self._teardown("failure")
            self._restore_due = True
            raise SandboxError(str(exc)) from None

    def _on_detach(self, tag: str, conn: socket.socket, request: Request) -> None:
        self._snapshots.on_detach(tag, conn, request)

    def _track_restored(self, name: str, popen: NsProcess) -> None:
        proc = self._group.track(name, "runtime" if name == "runtime" else "extension", popen)
        with self._cv:
            if name == "runtime":
                self._runtime_proc = proc
            else:
                self._launched[name] = proc

    # ----------------------------------------------------------------------------- SHUTDOWN

    def _teardown(self, reason: Literal["spindown", "timeout", "failure"]) -> None:
        """Shut the processes down within the budget; the sandbox can be initialised again."""
        start = time.monotonic()
        budget_end = start + self.shutdown_budget_s
        self._recorder.record("shutdown_start", reason=reason)
        self._group.thaw()
        with self._cv:
            self._lifecycle.move_to(Phase.SHUTDOWN)
            external = [e for e in self._extensions.extensions.values() if e.external]
            runtime = self._runtime_proc
        if runtime is not None and runtime.exited is None:
            if external:
                self._stop_runtime(runtime, start + self.shutdown_budget_s * RUNTIME_SHUTDOWN_SHARE)
            else:
                runtime.popen.kill()  # nobody to tell: Lambda kills it at once
        self._shut_extensions_down(reason, external, budget_end)
        self._group.signal(signal.SIGKILL)
        exits = self._end_processes()
        if self._snapshots.snapshot is not None:
            # SnapStart: a new environment comes from the snapshot, never from an INIT again.
            self._lifecycle.move_to(Phase.READY)
            self._restore_due = True
        self._recorder.record(
            "shutdown_end",
            reason=reason,
            duration_ms=round((time.monotonic() - start) * 1000, 3),
            returncodes=exits,
        )

    def _stop_runtime(self, runtime: Process, runtime_end: float) -> None:
        """SIGTERM (to every worker on Managed Instances); SIGKILL when its share is spent."""
        workers = child_pids(runtime.popen.pid) if self._lmi else []
        with contextlib.suppress(ProcessLookupError):
            runtime.popen.terminate()
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        with self._cv:
            self._lifecycle.wait(lambda: runtime.exited is not None, runtime_end)
        while any(alive(pid) for pid in workers) and time.monotonic() < runtime_end:
            time.sleep(0.002)
        if runtime.exited is None:
            runtime.popen.kill()

    def _shut_extensions_down(
        self,
        reason: Literal["spindown", "timeout", "failure"],
        external: list[Extension],
        budget_end: float,
    ) -> None:
        """SHUTDOWN to the extensions subscribed to it; kill the others; wait (bounded) for all
        to exit."""
        deadline_ms = int((time.time() + max(0.0, budget_end - time.monotonic())) * 1000)
        event = {"eventType": "SHUTDOWN", "shutdownReason": reason, "deadlineMs": deadline_ms}
        with self._cv:
            for ext in external:
                proc = self._launched.get(ext.name)
                if "SHUTDOWN" in ext.events:
                    ext.events_queue.append(dict(event))
                elif proc is not None and proc.exited is None:
                    proc.popen.kill()
            registered = {e.name for e in external}
            for name, proc in self._launched.items():
                if name not in registered and proc.exited is None:
                    proc.popen.kill()  # never registered: nothing to tell it
            self._cv.notify_all()
            self._lifecycle.wait(
                lambda: all(
                    p.exited is not None for p in self._group.procs if p.kind == "extension"
                ),
                budget_end,
            )

    def _end_processes(self) -> dict[str, int | None]:
        """Wait (bounded) for the ended processes and their readers; forget them and what they
        were doing. Returns their exit codes by name."""
        self._group.reap()
        with self._cv:
            exits = self._group.forget()
            self._lifecycle.next_generation()
            self._runtime_proc = None
            self._launched = {}
            self._extensions.extensions = {}
            self._runtime.forget_invocations()
        return exits

    # ------------------------------------------------------------------------------ routing

    def _route(self, req: Request) -> Response | Detach | None:
        path = req.path
        if path.startswith("/2018-06-01/runtime/"):
            return self._runtime.route(req, path.removeprefix("/2018-06-01/runtime/"))
        if path.startswith("/2020-01-01/extension/"):
            return self._extensions.route(req, path.removeprefix("/2020-01-01/extension/"))
        if path.startswith(("/2020-08-15/logs", "/2022-07-01/telemetry")):
            return json_response(
                202,
                {
                    "errorMessage": "Telemetry API is not supported",
                    "errorType": "Telemetry.NotSupported",
                },
            )
        return NOT_FOUND


# ---------------------------------------------------------------------------------- helpers


def _check_options(spec: FunctionSpec, init_type: InitType, max_concurrency: int) -> None:
    if init_type not in INIT_TYPES:
        raise SandboxError(f"init type {init_type!r}: expected one of {', '.join(INIT_TYPES)}")
    if init_type == LMI:
        if max_concurrency < 1:
            raise SandboxError(f"max_concurrency must be 1 or more, not {max_concurrency}")
        if tuple(int(x) for x in spec.python_version.split(".")) < (3, 13):
            raise SandboxError("Lambda Managed Instances need python3.13 or later")


def _snapshot_tool(init_type: InitType, snapshots: bool | None) -> tuple[Criu | None, str | None]:
    """(CRIU, or None with the reason it is not used)."""
    if init_type != "snap-start" or snapshots is False:
        if snapshots:
            raise SandboxError("snapshots=True is for init_type='snap-start' only")
        return None, None
    try:
        return find_criu(), None
    except SnapshotUnavailableError as exc:
        if snapshots:
            raise SandboxError(f"SnapStart snapshots unavailable: {exc}") from None
        return None, str(exc)


def _header(headers: list[tuple[str, str]], name: str) -> str:
    return next((v for k, v in headers if k == name), "")
