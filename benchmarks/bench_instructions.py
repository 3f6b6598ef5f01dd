"""CPU work by instruction count (issue 18): figures a busy machine cannot move.

valgrind's cachegrind (``--cache-sim=no``) counts every instruction a process executes, whatever
the hypervisor's load: the same probe repeats within ~0.3% (exactly, for a single-threaded one
with a fixed hash seed). Each probe is a fresh process of the runtime's Python
(``lambda_sandbox.runtime_venv``) with the built layer's ``python/`` (its ``.pyc``; every probe
runs once without valgrind first, so that none counts byte-compiling); a figure is a difference
of two probes (the step, minus the same process without it), or a whole process (the
extension, which a bare function does not have at all).

- **The library's side of INIT** (``AWS_LAMBDA_RUNTIME_API`` set, a fresh ``TMPDIR`` for the
  INIT marker, awslambdaric imported in every probe, as ``import_breakdown.py`` does): ``import
  lambda_warmup`` and a ``@warm_handler`` (the tax table's "no inits" function); the same with
  one ``@warm_init``, its result, and the report POSTed to a stub listener on 127.0.0.1 that
  answers 202 (the tax table's "1 init, hold" function). The probe ends (``os._exit``) once the
  stub has the report.
- **The extension**, run as its launcher runs it (the ``exec`` line of ``extensions/``; ``python3
  -E -s -S -u``, from the layer's root) against a stub Extensions API here: to ``register`` (the
  stub stops it with SIGTERM when the request arrives: valgrind still prints its count); its
  INIT, to its first ``event/next`` (stopped there, once the listener has answered the
  report), with the hold (the stub POSTs :data:`SAMPLE_REPORT` to its listener after
  ``register``) and without; its whole life (``event/next`` answered SHUTDOWN: it exits 0);
  and ``python3 -E -s -S -c pass``, Python's own start.
- **Per call, hot, in-process** (as ``bench_percall.py``, no Lambda environment): N calls of an
  empty ``@warm_handler`` after 20 warm-up calls, minus the same process with 0 calls, / N.

Instructions become "ms at the record's speed": ``import asyncio`` (after awslambdaric) took
:data:`RECORD_ASYNCIO_IMPORT_MS` on the README's quiet record; its instructions, counted in the
same run, give the rate. This assumes the library's code runs at about the instructions per ms of
``import asyncio`` (both are CPython's interpreter loop, imports and small objects); it is a
conversion for reading a figure against its target, not a measurement of time.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_sandboxes import EXTENSION, HOLD, Layers, free_port
from bench_stats import Series, table

from lambda_sandbox import runtime_venv

#: ``import asyncio`` in the runtime's Python 3.13 with awslambdaric imported, on the README's
#: quiet record (benchmarks/README.md, section 2: "`import asyncio` alone 23.7 ms"); the targets
#: of issue 18 were set against that machine's speed.
RECORD_ASYNCIO_IMPORT_MS = 23.7
REPEATS, QUICK_REPEATS = 3, 1
#: Calls per per-call probe (each minus the same process with 0 calls): enough that the
#: process-to-process noise (~10 k instructions) is a few instructions per call.
CALLS = {"sync": 2000, "async": 300}
QUICK_CALLS = {"sync": 200, "async": 30}
WARM_UP_CALLS = 20
#: valgrind runs each process ~20-50x slower; two at a time (the counts do not depend on it).
WORKERS = 2
PROBE_TIMEOUT_S = 180.0
#: After the stub has the report, before the probe may exit: the warm loop reads the 202.
REPORT_GRACE_S = 0.3
#: Runs of a library probe before its report's going by httpx is an error (see ``library``).
PLAIN_POST_ATTEMPTS = 3
IDENTIFIER = "bench-instructions"

RUNTIME = "import awslambdaric.bootstrap, os, sys"  # what the runtime has loaded before
#: Every runtime probe: setup, the step, then waits for the bench's go-ahead (a line on stdin:
#: at once, or once the stub has the report) and says whether httpx got imported (the report's
#: slow path, which would count httpx's import).
PROBE = """{setup}
{step}
sys.stdin.buffer.readline()
print(json.dumps({{"httpx": "httpx" in sys.modules}}), flush=True)
os._exit(0)  # the warm loop's thread must not keep the process alive
"""
HANDLER = (
    "import lambda_warmup\n@lambda_warmup.warm_handler\ndef handler(event, context): return None"
)
ONE_INIT = (
    "import lambda_warmup\n"
    "@lambda_warmup.warm_init\n"
    "async def probe(): return 1\n"
    "@lambda_warmup.warm_handler\n"
    "def handler(event, context): return None\n"
    "probe.result(5)"
)
#: ``functions/bench_growth.py``'s N trivial inits (each yields to the loop once), their results
#: and the report: the growth target's runtime side, by instructions.
GROWTH = (
    "import asyncio, lambda_warmup\n"
    "def make(index):\n"
    "    async def init():\n"
    "        await asyncio.sleep(0)\n"
    "        return index\n"
    "    return init\n"
    "handles = [lambda_warmup.warm_init(name=f'init{{i:03d}}')(make(i)) for i in range({inits})]\n"
    "for handle in handles: handle.result(60)"
)
GROWTH_INITS = (1, 100, 1000)
#: name -> (step, the inits its report lists: ``None`` when the hold is off and no report goes).
#: Each is counted minus ``baseline``.
LIBRARY: dict[str, tuple[str, int | None]] = {
    "baseline": ("pass", None),
    "asyncio": ("import asyncio", None),
    "handler": (HANDLER, None),
    "one_init": (ONE_INIT, 1),
    **{f"growth_{n}": (GROWTH.format(inits=n), n) for n in GROWTH_INITS},
}
PER_CALL = """import lambda_warmup
@lambda_warmup.warm_init
async def ready(): return 1
ready.result(5)
@lambda_warmup.warm_handler
{prefix}def handler(event, context): return None
class Context:
    def get_remaining_time_in_millis(self): return 30000
context = Context()
for _ in range({warm_up}): handler({{}}, context)
for _ in range({calls}): handler({{}}, context)"""


@dataclass(frozen=True)
class ExtensionProbe:
    """How the stub Extensions API treats one run of the extension."""

    stop_at: str | None
    """``register`` or ``next``: SIGTERM when that request arrives; ``None``: answer SHUTDOWN."""
    hold: bool = False
    """``WARMING_TIMEOUT`` set; the stub POSTs :data:`SAMPLE_REPORT` to its listener."""


EXTENSION_PROBES = {
    "to_register": ExtensionProbe("register"),
    "init": ExtensionProbe("next"),
    "init_hold": ExtensionProbe("next", hold=True),
    "life_hold": ExtensionProbe(None, hold=True),
}
#: A report as the library sends it for one init (the ``one_init`` probe checks the shape):
#: what the stub POSTs to the extension's listener.
SAMPLE_REPORT = (
    b'{"format":"lambda-warmup/1","status":"ok","pid":1,"workers":1,"duration_ms":0.1,'
    b'"inits":[{"name":"probe","required":true,"status":"ok","duration_ms":0.1,"attempts":1,'
    b'"error":null}]}'
)
I_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def valgrind() -> str | None:
    """``valgrind-3.19.0``, or ``None`` when it is not installed."""
    path = shutil.which("valgrind")
    if path is None:
        return None
    done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    return done.stdout.strip() or "valgrind"


def measure(layers: Layers, *, quick: bool) -> dict[str, Any]:
    """Every probe's instruction counts, ``repeats`` times; ``{"valgrind": None, ...}`` without
    valgrind."""
    version = valgrind()
    if version is None:
        return {"valgrind": None, "reason": "valgrind is not installed (apt-get install valgrind)"}
    repeats = QUICK_REPEATS if quick else REPEATS
    calls = QUICK_CALLS if quick else CALLS
    python = runtime_venv("3.13") / "bin" / "python"
    started = time.monotonic()
    for job in _jobs(Counter(python, layers.full, counting=False), calls).values():
        job()  # once without valgrind first: every .pyc a probe needs exists, none is counted
    jobs = _jobs(Counter(python, layers.full), calls)
    counts: dict[str, list[int]] = {name: [] for name in jobs}
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for _ in range(repeats):
            futures = {name: pool.submit(job) for name, job in jobs.items()}
            for name, future in futures.items():
                counts[name].append(future.result())
    return {
        "valgrind": version,
        "python": str(python),
        "repeats": repeats,
        "calls": calls,
        "rate_ms": RECORD_ASYNCIO_IMPORT_MS,
        "counts": counts,
        "seconds": round(time.monotonic() - started, 1),
    }


def _jobs(counter: Counter, calls: dict[str, int]) -> dict[str, Callable[[], int]]:
    """Every probe, by name: a call runs it once and returns its count."""
    jobs: dict[str, Callable[[], int]] = {}
    for name, (step, inits) in LIBRARY.items():
        jobs[name] = _bind(counter.library, step, inits)
    for kind, prefix in (("sync", ""), ("async", "async ")):
        for label, count in ((f"{kind}_0", 0), (f"{kind}_n", calls[kind])):
            code = PER_CALL.format(prefix=prefix, warm_up=WARM_UP_CALLS, calls=count)
            jobs[label] = _bind(counter.per_call, code)
    jobs["extension_floor"] = counter.extension_floor
    for name, probe in EXTENSION_PROBES.items():
        jobs[f"extension_{name}"] = _bind(counter.extension, probe)
    return jobs


def _bind(function: Callable[..., int], *args: Any) -> Callable[[], int]:
    return lambda: function(*args)


@dataclass
class Counter:
    """Runs probes under cachegrind; each method returns one process's instruction count."""

    python: Path
    layer: Path
    counting: bool = True
    """``False``: run the probes as they are, without valgrind (counts 0)."""

    def library(self, step: str, inits: int | None) -> int:
        """``step`` after awslambdaric, as in the runtime (see the module's docstring).

        A run whose report went by httpx is taken again (up to ``PLAIN_POST_ATTEMPTS`` runs):
        under valgrind, on a busy host, the plain POST can miss its 0.25 s bound, and httpx's
        import would then be counted as the library's."""
        for _ in range(PLAIN_POST_ATTEMPTS):
            count, by_httpx = self._library_once(step, inits)
            if not by_httpx:
                return count
        raise RuntimeError(
            f"the report went by httpx in {PLAIN_POST_ATTEMPTS} runs (the plain POST was not "
            "answered 202 within its bound under valgrind): its count would include httpx's import"
        )

    def _library_once(self, step: str, inits: int | None) -> tuple[int, bool]:
        """One counted run of ``step``; whether its report went by httpx."""
        code = PROBE.format(setup=f"{RUNTIME}, json", step=step)
        with tempfile.TemporaryDirectory(prefix="bench-instr-") as tmp, _Stub(_accept) as sink:
            env = {
                **self._env(),
                "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9",  # nothing listens: the library needs none
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "TMPDIR": tmp,  # the INIT marker goes here, fresh each time
                "WARMUP_PORT": str(sink.port),  # the report goes here...
            }
            reports = inits is not None
            if reports:  # ...when the hold is on, as in the tax table's sandboxes (spec(hold=))
                env["WARMING_TIMEOUT"] = HOLD

            def go_ahead(child: subprocess.Popen[bytes]) -> None:
                if reports and not sink.received.wait(PROBE_TIMEOUT_S):
                    raise RuntimeError("the library's report never reached the stub listener")
                if reports:
                    time.sleep(REPORT_GRACE_S)
                assert child.stdin is not None
                child.stdin.write(b"\n")
                child.stdin.flush()  # communicate() closes it

            count, out, _ = self._counted([str(self.python), "-c", code], env, None, go_ahead)
            if json.loads(out.strip().splitlines()[-1])["httpx"]:
                return count, True
            if inits is not None:
                _check_report(sink.bodies, inits)
            return count, False

    def per_call(self, code: str) -> int:
        """In-process, as ``bench_percall.py``: no Lambda environment."""
        return self._counted(
            [str(self.python), "-c", PROBE.format(setup="import json, os, sys", step=code)],
            self._env(),
            None,
            _at_once,
        )[0]

    def extension_floor(self) -> int:
        """``python3 -E -s -S -c pass``, from the layer's root: Python's own start."""
        argv = [os.path.realpath(self.python), "-E", "-s", "-S", "-c", "pass"]
        return self._counted(argv, {}, self.layer, _at_once)[0]

    def extension(self, probe: ExtensionProbe) -> int:
        api = _ExtensionsApi(probe, SAMPLE_REPORT)
        with _Stub(api.answer) as stub:
            env = {
                "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{stub.port}",
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "WARMUP_PORT": str(api.report_port),
            }
            if probe.hold:
                env["WARMING_TIMEOUT"] = HOLD

            def started(child: subprocess.Popen[bytes]) -> None:
                api.child = child
                api.started.set()

            argv = launcher_argv(self.layer, os.path.realpath(self.python))
            count, _, err = self._counted(argv, env, self.layer, started, stop_signal=probe.stop_at)
        api.check(err)
        return count

    def _counted(
        self,
        argv: list[str],
        env: dict[str, str],
        cwd: Path | None,
        while_running: Callable[[subprocess.Popen[bytes]], None],
        *,
        stop_signal: str | None = None,
    ) -> tuple[int, str, str]:
        return _counted(
            argv, env, cwd, while_running, stop_signal=stop_signal, counting=self.counting
        )

    def _env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(self.layer / "python"),
            # No hash randomization: set and dict orders otherwise move a count by ~0.2%. (The
            # extension runs with -E, which ignores this: its counts keep that spread.)
            "PYTHONHASHSEED": "0",
        }


def _check_report(bodies: list[bytes], inits: int) -> None:
    """One report: of :data:`SAMPLE_REPORT`'s shape (the extension probes send that one) for one
    init; listing inits (at most ``inits``: past 64 KiB the library cuts the list) for more."""
    if len(bodies) != 1:
        raise RuntimeError(f"the stub listener got {len(bodies)} reports, not 1")
    sent, sample = json.loads(bodies[0]), json.loads(SAMPLE_REPORT)
    if inits > 1:
        if not 0 < len(sent.get("inits", ())) <= inits:
            raise RuntimeError(f"the library's report for {inits} inits: {bodies[0][:200]!r}")
        return
    shape = (sorted(sent), [sorted(init) for init in sent["inits"]])
    if shape != (sorted(sample), [sorted(init) for init in sample["inits"]]):
        raise RuntimeError(f"the library's report {bodies[0]!r} is not SAMPLE_REPORT's shape")


def launcher_argv(layer: Path, python: str) -> list[str]:
    """The command the layer's launcher ``exec``s (its last ``exec python3`` line), with
    ``python`` for ``python3``, the extension's name and ``$EPOCHREALTIME`` as now."""
    script = (layer / "extensions" / EXTENSION).read_text()
    lines = [line for line in script.splitlines() if line.startswith("exec python3 ")]
    if not lines:
        raise RuntimeError(f"no 'exec python3 ...' line in {layer / 'extensions' / EXTENSION}")
    words = shlex.split(lines[-1])[1:]
    values = {"$name": EXTENSION, "$started": f"{time.time():.6f}"}
    return [python, *(values.get(word, word) for word in words[1:])]


def _at_once(child: subprocess.Popen[bytes]) -> None:
    assert child.stdin is not None
    child.stdin.write(b"\n")
    child.stdin.flush()  # communicate() closes it


def _counted(
    argv: list[str],
    env: dict[str, str],
    cwd: Path | None,
    while_running: Callable[[subprocess.Popen[bytes]], None],
    *,
    stop_signal: str | None = None,
    counting: bool = True,
) -> tuple[int, str, str]:
    """``argv`` under cachegrind: its instruction count, its stdout and its stderr.
    ``while_running`` gets the process as soon as it is started. It must exit 0, or by SIGTERM
    if ``stop_signal``. Not ``counting``: ``argv`` alone, and a count of 0."""
    with tempfile.TemporaryDirectory(prefix="bench-instr-log-") as tmp:
        log = Path(tmp) / "valgrind.log"
        tool = [
            "valgrind",
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
            f"--log-file={log}",
        ]
        child = subprocess.Popen(
            [*tool, *argv] if counting else argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            while_running(child)
            out, err = child.communicate(timeout=PROBE_TIMEOUT_S)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        expected = -signal.SIGTERM if stop_signal else 0
        found = ["0"]
        if counting:
            found = I_REFS.findall(log.read_text()) if log.exists() else []
        if child.returncode != expected or not found:
            raise RuntimeError(
                f"{shlex.join(argv[:3])}... {'under valgrind ' if counting else ''}exited "
                f"{child.returncode} (expected {expected}), {'a' if found else 'no'} count: "
                f"{(err or out).decode(errors='replace')[-600:]}"
            )
        return (
            int(found[-1].replace(",", "")),
            out.decode(errors="replace"),
            err.decode(errors="replace"),
        )


# -- stubs on 127.0.0.1 ------------------------------------------------------------------------
Answer = Callable[[str, bytes, socket.socket], None]


class _Stub:
    """An HTTP/1.1 server on 127.0.0.1 (a free port), one request per connection, in order;
    ``answer(request_line, body, connection)`` answers each. The bodies are kept."""

    def __init__(self, answer: Answer) -> None:
        self._answer = answer
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port: int = self._sock.getsockname()[1]
        self.bodies: list[bytes] = []
        self.received = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> _Stub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(PROBE_TIMEOUT_S)
                try:
                    line, body = _read_request(conn)
                    self.bodies.append(body)
                    self.received.set()
                    self._answer(line, body, conn)
                except OSError:
                    continue


def _read_request(conn: socket.socket) -> tuple[str, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the request's head")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the request's body")
        body += chunk
    return lines[0], body


def _respond(conn: socket.socket, status: str, body: bytes, headers: str = "") -> None:
    conn.sendall(
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{headers}"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode("latin-1")
        + body
    )


def _accept(line: str, body: bytes, conn: socket.socket) -> None:
    """The extension's report listener, as far as the library can tell: 202."""
    _respond(conn, "202 Accepted", b'{"status":"accepted"}')


class _ExtensionsApi:
    """The Extensions API, for one run of the extension (``probe`` says how)."""

    def __init__(self, probe: ExtensionProbe, report: bytes) -> None:
        self.probe = probe
        self.report = report
        self.report_port = free_port()
        self.child: subprocess.Popen[bytes] | None = None
        self.started = threading.Event()
        self.seen: list[str] = []
        self.report_answer = b""
        self.report_done = threading.Event()

    def answer(self, line: str, body: bytes, conn: socket.socket) -> None:
        self.seen.append(line)
        if not self.started.wait(PROBE_TIMEOUT_S) or self.child is None:
            raise RuntimeError("the extension's process was never started")
        if line.startswith("POST /2020-01-01/extension/register"):
            if self.probe.stop_at == "register":
                self.child.send_signal(signal.SIGTERM)
                return
            _respond(
                conn,
                "200 OK",
                b'{"functionName":"bench","functionVersion":"$LATEST","handler":"h.handler"}',
                f"Lambda-Extension-Identifier: {IDENTIFIER}\r\n",
            )
            if self.probe.hold:  # as the library would, once its init settled
                threading.Thread(target=self._send_report, daemon=True).start()
        elif line.startswith("GET /2020-01-01/extension/event/next"):
            # The listener's answer to the report is INIT work too: counted, every time.
            if self.probe.hold:
                self.report_done.wait(PROBE_TIMEOUT_S)
            if self.probe.stop_at == "next":
                self.child.send_signal(signal.SIGTERM)
                return
            deadline = int(time.time() * 1000) + 2000
            _respond(
                conn,
                "200 OK",
                json.dumps(
                    {"eventType": "SHUTDOWN", "shutdownReason": "spindown", "deadlineMs": deadline}
                ).encode(),
            )
        else:  # init/error, exit/error: check() fails the probe
            _respond(conn, "202 Accepted", b"{}")

    def _send_report(self) -> None:
        head = (
            f"POST /report HTTP/1.1\r\nHost: 127.0.0.1:{self.report_port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(self.report)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode("ascii")
        deadline = time.monotonic() + PROBE_TIMEOUT_S
        try:
            while time.monotonic() < deadline:
                try:
                    with socket.create_connection(("127.0.0.1", self.report_port), 30) as s:
                        s.sendall(head + self.report)
                        self.report_answer = s.recv(1024)
                        return
                except OSError:  # not listening yet: the extension binds before register
                    time.sleep(0.05)
        finally:
            self.report_done.set()

    def check(self, out: str) -> None:
        """The run went as the probe meant: register, then (unless stopped there) the hold
        released by the report and event/next."""
        wanted = ["POST /2020-01-01/extension/register"]
        if self.probe.stop_at != "register":
            wanted.append("GET /2020-01-01/extension/event/next")
        got = [" ".join(line.split()[:2]) for line in self.seen]
        if got != wanted:
            raise RuntimeError(f"the extension asked {got}, not {wanted}; its output: {out}")
        if self.probe.hold and (
            not self.report_answer.startswith(b"HTTP/1.1 202") or "released after" not in out
        ):
            raise RuntimeError(f"the report did not release the hold; the extension said: {out}")


# -- figures ---------------------------------------------------------------------------------
def instructions(data: dict[str, Any]) -> dict[str, list[float]]:
    """Per repeat, each figure's instructions (``*_call``: per call)."""
    counts = data["counts"]

    def library(key: str) -> list[float]:
        return [float(s - b) for s, b in zip(counts[key], counts["baseline"], strict=True)]

    def extension(key: str) -> list[float]:
        return [float(v) for v in counts[f"extension_{key}"]]

    def plus(a: list[float], b: list[float]) -> list[float]:
        return [x + y for x, y in zip(a, b, strict=True)]

    out = {
        "asyncio": library("asyncio"),
        "handler_library": library("handler"),
        "handler_extension": extension("init"),
        "handler": plus(library("handler"), extension("init")),
        "one_init_library": library("one_init"),
        "one_init_extension": extension("init_hold"),
        "one_init": plus(library("one_init"), extension("init_hold")),
        "registered": extension("to_register"),
        "extension_life": extension("life_hold"),
        "extension_floor": extension("floor"),
        **{f"growth_{n}": library(f"growth_{n}") for n in GROWTH_INITS},
    }
    for kind in ("sync", "async"):
        calls = data["calls"][kind]
        out[f"{kind}_call"] = [
            (n - z) / calls for n, z in zip(counts[f"{kind}_n"], counts[f"{kind}_0"], strict=True)
        ]
    return out


def per_ms(data: dict[str, Any]) -> float:
    """Instructions per ms at the record's speed: ``import asyncio``'s over its record time."""
    return statistics.median(instructions(data)["asyncio"]) / float(data["rate_ms"])


def figures(data: dict[str, Any]) -> dict[str, list[float]]:
    """:func:`instructions` at the record's speed: ms, and us for ``*_call``."""
    rate = per_ms(data)
    return {
        key: [v / rate * (1000 if key.endswith("_call") else 1) for v in values]
        for key, values in instructions(data).items()
    }


#: The section's rows: label, figure.
ROWS = [
    ("import asyncio | awslambdaric (the rate)", "asyncio"),
    ("import lambda_warmup + @warm_handler | awslambdaric", "handler_library"),
    ("  + extension to its first event/next, no hold", "handler_extension"),
    ("  = #7 layer + @warm_handler, no inits", "handler"),
    ("import + 1 @warm_init + result + report | awslambdaric", "one_init_library"),
    ("  + extension to its first event/next, hold", "one_init_extension"),
    ("  = #18 layer + 1 init + hold", "one_init"),
    ("#18 extension: start -> register sent", "registered"),
    ("extension: whole life, hold, to SHUTDOWN", "extension_life"),
    ("python3 -E -s -S -c pass (its start)", "extension_floor"),
    *(
        (
            f"{n} trivial @warm_init{'s' if n > 1 else ''} + results + report | awslambdaric",
            f"growth_{n}",
        )
        for n in GROWTH_INITS
    ),
    ("#18 sync @warm_handler, hot: per call", "sync_call"),
    ("#18 async @warm_handler, hot: per call", "async_call"),
]


def report(data: dict[str, Any]) -> str:
    """The section's table (or one line when valgrind was missing)."""
    title = "Instructions: CPU work counted by valgrind (issue 18)"
    if data.get("valgrind") is None:
        return f"{title}\n   not measured: {data.get('reason', 'no valgrind')}"
    rate, counted, converted = per_ms(data), instructions(data), figures(data)
    rows = []
    for label, key in ROWS:
        per_call = key.endswith("_call")
        rows.append(
            [
                label,
                Series(v / 1e3 if per_call else v / 1e6 for v in counted[key]).text(2)
                + (" k" if per_call else " M"),
                Series(converted[key]).text(2) + (" us" if per_call else " ms"),
            ]
        )
    spreads = [_spread(values) for values in data["counts"].values() if len(values) > 1]
    spread = f"; largest spread of a probe: {max(spreads):.3f}%" if spreads else ""
    calls = ", ".join(f"{kind} {n} calls" for kind, n in data["calls"].items())
    return "\n".join(
        [
            title,
            f"   {data['valgrind']} cachegrind; {data['python']}, the layer's .pyc; "
            f"{data['repeats']} repeat(s) of each probe: median (min-max){spread}",
            f"   rate: import asyncio = {rate * RECORD_ASYNCIO_IMPORT_MS / 1e6:.1f} M "
            f"instructions = {RECORD_ASYNCIO_IMPORT_MS} ms on the quiet record, so "
            f"{rate / 1e6:.2f} M instructions per ms",
            "   not counted: the hold's wall time (the report's round trip, waits); the "
            "extension is counted to its first event/next",
            f"   per call: N calls minus 0 after {WARM_UP_CALLS} warm-up calls ({calls}); "
            f"{data['seconds']:.0f} s for the section",
            "",
            table(["probe (| already imported)", "instructions", "at the record's speed"], rows),
        ]
    )


def _spread(values: list[int]) -> float:
    return 100 * (max(values) - min(values)) / statistics.median(values)
