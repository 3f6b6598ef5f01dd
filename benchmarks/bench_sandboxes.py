"""The benchmark's functions in the local Lambda sandbox: specs, one cold start, memory."""

from __future__ import annotations

import dataclasses
import json
import shutil
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from lambda_sandbox import FunctionSpec, InitResult, InvokeResult, Sandbox

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = Path(__file__).resolve().parent / "functions"
#: ``full``: the layer as built (extension + library); ``library``: its ``python/`` only.
LayerKind = Literal["none", "full", "library"]
HOLD = "10s"
EXTENSION = "lambda-warmup"


class Layers:
    """The built layer (``/opt``), and a copy of it without the extension."""

    def __init__(self, layer: Path, scratch: Path) -> None:
        if not (layer / "python" / "lambda_warmup").is_dir():
            raise SystemExit(f"benchmarks: no built layer in {layer}; run `make bench`")
        self.full = layer.resolve()
        self.library = scratch / "library-layer"
        shutil.rmtree(self.library, ignore_errors=True)
        self.library.mkdir(parents=True)
        (self.library / "python").symlink_to(self.full / "python")

    def dirs(self, kind: LayerKind) -> list[Path]:
        return {"none": [], "full": [self.full], "library": [self.library]}[kind]


def spec(
    handler: str,
    layers: Layers,
    kind: LayerKind,
    environment: Mapping[str, str],
    *,
    hold: bool = False,
) -> FunctionSpec:
    env = {**environment, "WARMUP_PORT": str(free_port())}
    if hold:
        env["WARMING_TIMEOUT"] = HOLD
    return FunctionSpec(
        code_dir=FUNCTIONS,
        handler=handler,
        layers=layers.dirs(kind),
        environment=env,
        name="bench",
        timeout_s=30.0,
        memory_mb=1024,
    )


@dataclass
class ColdStart:
    """One on-demand cold start: INIT, then the first invocation."""

    init: InitResult
    first: InvokeResult
    payload: Any
    #: ms from INIT start (the sandbox's clock) to when the extension logged the report's arrival.
    report_received_ms: float | None
    init_end_ms: float
    #: Per process kind (``runtime``, ``extension``): resident and proportional set size, MB.
    memory_mb: dict[str, dict[str, float]] = field(default_factory=dict)
    #: Per process kind: CPU time (ms, every thread, user and system) used by INIT's end.
    init_cpu_ms: dict[str, float] = field(default_factory=dict)
    #: ms from the extension's process start (``Popen`` returned) to its ``register`` reaching
    #: the Extensions API, both on the sandbox's records' clock; ``None`` without an extension.
    extension_registered_ms: float | None = None
    #: ``sandbox_t0``: the sandbox's monotonic origin, to place the function's own timestamps.
    sandbox_t0: float = 0.0
    init_start_ms: float = 0.0

    @property
    def init_ms(self) -> float:
        return self.init.duration_ms

    @property
    def first_ms(self) -> float:
        return self.first.duration_ms

    def from_init_start(self, monotonic: float) -> float:
        """A ``time.monotonic()`` (= ``perf_counter()`` on Linux) instant, in ms from INIT start."""
        return (monotonic - self.sandbox_t0) * 1000 - self.init_start_ms


#: A cold start whose extension could not listen on its port (taken by another process between
#: ``free_port()`` and the extension's bind, on a busy machine) ran without the hold: not a
#: sample of what was asked for. It is run again, on another port, this many times at most.
PORT_ATTEMPTS = 3


def cold_start(spec: FunctionSpec, log: IO[str], event: Any = None) -> ColdStart:
    """One on-demand cold start (see :class:`ColdStart`); again on another ``WARMUP_PORT`` when
    the extension found its port taken."""
    for _ in range(PORT_ATTEMPTS - 1):
        try:
            return _cold_start(spec, log, event)
        except PortTakenError:
            port = str(free_port())
            log.write(f"\n(port taken: the same cold start again, WARMUP_PORT={port})\n")
            spec = dataclasses.replace(spec, environment={**spec.environment, "WARMUP_PORT": port})
    return _cold_start(spec, log, event)


class PortTakenError(RuntimeError):
    """The extension could not listen for reports: its ``WARMUP_PORT`` was taken."""


def _cold_start(spec: FunctionSpec, log: IO[str], event: Any = None) -> ColdStart:
    log.write(f"\n===== {spec.handler} layers={[p.name for p in spec.layers]} =====\n")
    with Sandbox(spec, log=log, shutdown_budget_s=1.0) as sandbox:
        sandbox.start()  # INIT, then every process stopped: their CPU clocks stand still
        init_cpu = cpu_ms(sandbox)
        first = sandbox.invoke({} if event is None else event)
        init = sandbox.inits[-1]
        memory = _memory(sandbox)
        records = list(sandbox.records)
        t0 = sandbox._t0  # the records' origin; the function's perf_counter is the same clock
    if init.status != "success" or first.status != "success":
        raise RuntimeError(f"{spec.handler}: INIT {init.status}, invocation {first.status}")
    if any(
        r["event"] == "log" and r.get("source") == EXTENSION and "cannot listen" in r["line"]
        for r in records
    ):
        raise PortTakenError(f"{spec.handler}: WARMUP_PORT {spec.environment.get('WARMUP_PORT')}")
    init_start = next(r["t_ms"] for r in records if r["event"] == "init_start")
    init_end = next(r["t_ms"] for r in records if r["event"] == "init_end")
    received = next(
        (
            r["t_ms"]
            for r in records
            if r["event"] == "log"
            and r.get("source") == EXTENSION
            and "released after" in r["line"]
            and "report" in r["line"]
        ),
        None,
    )
    extension_started = next(
        (r["t_ms"] for r in records if r["event"] == "process_start" and r["kind"] == "extension"),
        None,
    )
    registered = next((r["t_ms"] for r in records if r["event"] == "extension_register"), None)
    return ColdStart(
        init=init,
        first=first,
        payload=first.json(),
        report_received_ms=None if received is None else received - init_start,
        init_end_ms=init_end - init_start,
        memory_mb=memory,
        init_cpu_ms=init_cpu,
        extension_registered_ms=(
            None
            if extension_started is None or registered is None
            else registered - extension_started
        ),
        sandbox_t0=t0,
        init_start_ms=init_start,
    )


def cpu_ms(sandbox: Sandbox) -> dict[str, float]:
    """CPU time of each live process so far, by kind: the kernel's per-process CPU clock (every
    thread, exited ones included, to the nanosecond), which another process may read."""
    kinds = {r["pid"]: r["kind"] for r in sandbox.records if r["event"] == "process_start"}
    out: dict[str, float] = {}
    for pid in sandbox.pids:
        try:
            ns = time.clock_gettime_ns(process_cpu_clock(pid))
        except OSError:
            continue  # ended meanwhile
        kind = kinds.get(pid, "other")
        out[kind] = out.get(kind, 0.0) + ns / 1e6
    return out


def process_cpu_clock(pid: int) -> int:
    """The clock id of ``pid``'s CPU time (Linux's ``clock_getcpuclockid``: ``CPUCLOCK_SCHED``
    of the whole process)."""
    return ((~pid) << 3) | 2


def _memory(sandbox: Sandbox) -> dict[str, dict[str, float]]:
    """RSS and PSS (shared pages split between the processes that map them: what a cgroup
    counts once, as Lambda's Max Memory Used does) of each live process, by kind."""
    kinds = {r["pid"]: r["kind"] for r in sandbox.records if r["event"] == "process_start"}
    out: dict[str, dict[str, float]] = {}
    for pid in sandbox.pids:
        kind = kinds.get(pid, "other")
        figures = out.setdefault(kind, {"rss": 0.0, "pss": 0.0})
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                name, _, rest = line.partition(":")
                if name in ("Rss", "Pss"):
                    figures[name.lower()] += int(rest.split()[0]) / 1024
        except OSError:
            continue
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def warm_invocations(sandbox: Sandbox, count: int) -> list[float]:
    """``count`` warm invocations: ms from the event handed over to the response."""
    out = []
    for _ in range(count):
        result = sandbox.invoke({})
        if result.status != "success" or result.response_ms is None:
            raise RuntimeError(f"{sandbox.spec.handler}: {result.status} {result.payload!r}")
        out.append(result.response_ms)
    return out


def dump(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=str) + "\n")


def now() -> float:
    return time.monotonic()
