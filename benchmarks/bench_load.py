"""The machine's load while a section runs: load average, and where the CPUs' time went.

From ``/proc/stat`` (all CPUs, in clock ticks): busy time (user, nice, system, irq, softirq),
and ``steal`` (time the hypervisor gave to other virtual machines while this one wanted to run).
This run's own CPU time is ``getrusage`` of this process and of its reaped children (the
sandboxes' runtimes and extensions, the in-process probes); the rest of the busy time went to
other processes. Percentages are of the machine's capacity (CPUs x seconds).
"""

from __future__ import annotations

import contextlib
import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Snapshot:
    at: float
    """``time.monotonic()``."""
    load: float | None
    """1-minute load average."""
    busy_s: float | None
    steal_s: float | None
    own_s: float
    """CPU time of this process and its reaped children."""


def snapshot(stat: Path = Path("/proc/stat"), loadavg: Path = Path("/proc/loadavg")) -> Snapshot:
    busy = steal = load = None
    try:
        fields = stat.read_text().splitlines()[0].split()
        ticks = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
        hz = os.sysconf("SC_CLK_TCK")
        user, nice, system, _idle, _iowait, irq, softirq, stolen = ticks
        busy, steal = (user + nice + system + irq + softirq) / hz, stolen / hz
    except (OSError, ValueError, IndexError):
        pass
    with contextlib.suppress(OSError, ValueError, IndexError):
        load = float(loadavg.read_text().split()[0])
    own = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        own += usage.ru_utime + usage.ru_stime
    return Snapshot(at=time.monotonic(), load=load, busy_s=busy, steal_s=steal, own_s=own)


def between(before: Snapshot, after: Snapshot, cpus: int | None = None) -> dict[str, Any]:
    """The load over ``[before, after]``: load averages, and % of the machine's capacity that
    was busy, stolen, this run's, other processes' (busy minus this run's)."""
    seconds = max(after.at - before.at, 1e-9)
    capacity = seconds * (cpus or os.cpu_count() or 1)
    out: dict[str, Any] = {
        "seconds": round(seconds, 1),
        "load_before": before.load,
        "load_after": after.load,
        "own_pct": round(100 * (after.own_s - before.own_s) / capacity, 1),
    }
    if before.busy_s is not None and after.busy_s is not None:
        busy = after.busy_s - before.busy_s
        own = after.own_s - before.own_s
        out["busy_pct"] = round(100 * busy / capacity, 1)
        out["others_pct"] = round(100 * max(busy - own, 0.0) / capacity, 1)
    if before.steal_s is not None and after.steal_s is not None:
        out["steal_pct"] = round(100 * (after.steal_s - before.steal_s) / capacity, 1)
    return out


def describe(load: dict[str, Any]) -> str:
    """One line: ``load 1.2 -> 3.4; CPUs busy 80% (others 35%, this run 45%), stolen 2%``."""

    def pct(key: str) -> str:
        return "?" if load.get(key) is None else f"{load[key]:.0f}%"

    def avg(key: str) -> str:
        return "?" if load.get(key) is None else f"{load[key]:.2f}"

    return (
        f"load average {avg('load_before')} -> {avg('load_after')}; CPUs busy {pct('busy_pct')} "
        f"(other processes {pct('others_pct')}, this run {pct('own_pct')}), "
        f"stolen by the hypervisor {pct('steal_pct')}"
    )
