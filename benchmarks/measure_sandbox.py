"""Measure the sandbox itself: ``.venv/bin/python -m benchmarks.measure_sandbox [N]``.

Prints medians of: the sandbox's set-up (constructor: layout, API server), INIT for a trivial
handler and how much of it the runtime itself took (process start to first ``next``), and the
warm invoke round trip (``Sandbox.invoke`` as a caller sees it, thaw and freeze included, and the
part from handing the event to the runtime to its response). Where CRIU runs: the SnapStart
snapshot (the checkpoint and its size) and restores from it (CRIU's part, and the whole
``Restore Duration``).
"""

from __future__ import annotations

import statistics
import sys
import time

from lambda_sandbox import FunctionSpec, Sandbox, SnapshotUnavailableError, find_criu
from tests.support.paths import REPO

FUNCTIONS = REPO / "tests" / "sandbox" / "functions"
"""The sandbox tests' functions (``tests/sandbox/conftest.py``'s ``FUNCTIONS``)."""


def main(rounds: int = 10, invokes: int = 300) -> None:
    spec = FunctionSpec(code_dir=FUNCTIONS / "basic", handler="app.noop")
    setup, init, runtime_own, overhead = [], [], [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        sandbox = Sandbox(spec)
        t1 = time.perf_counter()
        result = sandbox.start()
        t2 = time.perf_counter()
        assert result.runtime_next_ms is not None
        assert result.runtime_started_ms is not None
        setup.append((t1 - t0) * 1000)
        init.append((t2 - t1) * 1000)
        own = result.runtime_next_ms - result.runtime_started_ms
        runtime_own.append(own)
        overhead.append((t2 - t0) * 1000 - own)
        sandbox.shutdown()
    with Sandbox(spec) as sandbox:
        sandbox.start()
        walls, handed = [], []
        for _ in range(invokes):
            t0 = time.perf_counter()
            r = sandbox.invoke({})
            walls.append((time.perf_counter() - t0) * 1000)
            assert r.response_ms is not None
            handed.append(r.response_ms)
    med = statistics.median
    print(f"set-up (constructor)              {med(setup):7.2f} ms")
    print(f"start() = INIT, trivial handler   {med(init):7.2f} ms")
    print(f"  of which runtime start->next    {med(runtime_own):7.2f} ms")
    print(f"sandbox's own cold-start overhead {med(overhead):7.2f} ms (set-up + INIT - runtime)")
    print(
        f"warm invoke, caller round trip    {med(walls):7.3f} ms "
        f"(p90 {statistics.quantiles(walls, n=10)[-1]:.3f})"
    )
    print(f"warm invoke, event->response      {med(handed):7.3f} ms")
    snapstart(spec, rounds)


def snapstart(spec: FunctionSpec, restores: int) -> None:
    try:
        find_criu()
    except SnapshotUnavailableError as exc:
        print(f"SnapStart snapshots: not measured ({exc})")
        return
    with Sandbox(spec, init_type="snap-start", snapshots=True) as sandbox:
        sandbox.start()
        snapshot = next(r for r in sandbox.records if r["event"] == "snapshot")
        restore_ms = []
        for i in range(restores):
            if i:
                sandbox.discard_environment()
            result = sandbox.invoke({})
            assert result.restore_duration_ms is not None
            restore_ms.append(result.restore_duration_ms)
        criu_ms = [r["criu_ms"] for r in sandbox.records if r["event"] == "snapshot_restored"]
    med = statistics.median
    print(
        f"SnapStart checkpoint (criu dump)  {snapshot['dump_ms']:7.2f} ms, "
        f"images {snapshot['size_bytes'] / 1e6:.1f} MB, "
        f"whole snapshot {snapshot['duration_ms']:.1f} ms"
    )
    print(f"restore: criu restore             {med(criu_ms):7.2f} ms")
    print(f"restore: Restore Duration         {med(restore_ms):7.2f} ms ({restores} restores)")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
