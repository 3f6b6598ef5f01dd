"""The benchmarks' verdicts: intervals of medians, met / missed / inconclusive, the machine's
load and the processes' CPU clocks (pure functions, and this machine's /proc)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from bench import linear_margin
from bench_compare import compare
from bench_load import Snapshot, between, describe, snapshot
from bench_sandboxes import process_cpu_clock
from bench_stats import Series, Target, median_interval, verdict, verdict_table


def test_seven_runs_give_their_min_max_at_98_percent() -> None:
    interval = median_interval([5.0, 1.0, 7.0, 3.0, 2.0, 6.0, 4.0])
    assert (interval.median, interval.low, interval.high, interval.n) == (4.0, 1.0, 7.0, 7)
    assert interval.coverage == pytest.approx(1 - 2 / 2**7)


def test_many_figures_give_an_interval_narrower_than_their_spread() -> None:
    values = [float(v) for v in range(1, 151)]  # 150 invocations
    interval = median_interval(values)
    assert 0.95 <= interval.coverage < 0.97
    # The binomial interval of a median of 150: ranks ~63 and ~88.
    assert 60 <= interval.low < interval.median < interval.high <= 91
    assert interval.median == 75.5


def test_too_few_figures_give_min_max_with_the_coverage_it_has() -> None:
    interval = median_interval([3.0, 1.0, 2.0])
    assert (interval.low, interval.high) == (1.0, 3.0)
    assert interval.coverage == pytest.approx(0.75)
    one = median_interval([4.2])
    assert (one.low, one.median, one.high, one.coverage) == (4.2, 4.2, 4.2, 0.0)
    with pytest.raises(ValueError, match="no values"):
        median_interval([])


@pytest.mark.parametrize(
    ("low", "high", "limit", "at_most", "expected"),
    [
        (10.0, 20.0, 25.0, True, "met"),
        (10.0, 25.0, 25.0, True, "met"),  # the limit itself is on the good side
        (26.0, 30.0, 25.0, True, "missed"),
        (20.0, 30.0, 25.0, True, "inconclusive"),
        (3.1, 5.2, 3.0, False, "met"),
        (3.0, 5.2, 3.0, False, "met"),
        (2.0, 2.9, 3.0, False, "missed"),
        (2.5, 3.5, 3.0, False, "inconclusive"),
        (-5.0, -1.0, 0.0, True, "met"),
    ],
)
def test_verdict_is_met_or_missed_only_when_the_interval_is_wholly_on_one_side(
    low: float, high: float, limit: float, at_most: bool, expected: str
) -> None:
    assert verdict(low, high, limit, at_most=at_most) == expected


def test_reversed_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="reversed"):
        verdict(2.0, 1.0, 0.0)


def test_target_takes_its_verdict_from_the_interval_not_the_median() -> None:
    # Median 40 is under 45, but one run of 7 at 50 leaves the interval straddling 45.
    straddling = Target(18, "tax", "wall", Series([38, 39, 40, 40, 41, 42, 50]), 45.0)
    assert straddling.verdict == "inconclusive"
    assert straddling.measured() == "40.0 [38.0, 50.0] ms"
    met = Target(18, "tax", "CPU", Series([30, 31, 32, 33, 34, 35, 36]), 45.0)
    assert met.verdict == "met"
    ratio = Target(15, "ratio", "wall", Series([3.5, 3.6, 2.9]), 3.0, at_most=False, unit="x")
    assert ratio.verdict == "inconclusive"
    record = straddling.as_json()
    assert record["verdict"] == "inconclusive"
    assert (record["median"], record["low"], record["high"], record["n"]) == (40.0, 38.0, 50.0, 7)


def test_verdict_table_shows_limit_interval_and_verdict() -> None:
    text = verdict_table(
        [
            Target(7, "tax", "wall", Series([26, 27, 28]), 25.0),
            Target(18, "hop", "CPU", Series([10, 11, 12]), 30.0, unit="us"),
        ]
    )
    lines = text.splitlines()
    assert lines[0].split() == [
        "target",
        "by",
        "limit",
        "median",
        "[95%",
        "CI",
        "of",
        "the",
        "median]",
        "verdict",
    ]
    assert lines[2].split()[-1] == "MISSED"
    assert "<= 25 ms" in lines[2]
    assert "11.0 [10.0, 12.0] us" in lines[3]
    assert lines[3].split()[-1] == "met"


def test_linear_margin() -> None:
    # 0.1 ms per init from 1 to 100, then 0.1 ms per init up to 1000: linear, within the slack.
    assert linear_margin(10.0, 10.0 + 9.9, 10.0 + 9.9 + 90.0) == pytest.approx(-0.1)
    # 0.5 ms per init from 100 on, 0.1 before: faster than linear.
    assert linear_margin(10.0, 19.9, 19.9 + 450.0) > 0
    # A negative early slope (noise) counts as 0: 0.05 ms of slack remains.
    assert linear_margin(20.0, 10.0, 10.0 + 36.0) == pytest.approx(-0.01)


def _proc_files(tmp_path: Path, ticks: list[int], load: str) -> tuple[Path, Path]:
    stat, loadavg = tmp_path / "stat", tmp_path / "loadavg"
    stat.write_text("cpu  " + " ".join(map(str, ticks)) + " 0 0\ncpu0 1 2 3\n")
    loadavg.write_text(f"{load} 0.50 0.40 1/100 1234\n")
    return stat, loadavg


def test_load_between_two_snapshots(tmp_path: Path) -> None:
    hz = os.sysconf("SC_CLK_TCK")
    stat, loadavg = _proc_files(tmp_path, [0] * 8, "0.10")
    first = snapshot(stat, loadavg)
    assert first.load == 0.1
    assert first.busy_s == 0.0
    # 10 s on 2 CPUs: 12 s busy (user 8, system 3, softirq 1), 1 s stolen; this run used 5 s.
    ticks = [8 * hz, 0, 3 * hz, 7 * hz, 0, 0, 1 * hz, 1 * hz]
    before = Snapshot(at=100.0, load=0.1, busy_s=0.0, steal_s=0.0, own_s=1.0)
    after = Snapshot(
        at=110.0, load=2.5, busy_s=sum(ticks[:3] + ticks[5:7]) / hz, steal_s=1.0, own_s=6.0
    )
    load = between(before, after, cpus=2)
    assert load == {
        "seconds": 10.0,
        "load_before": 0.1,
        "load_after": 2.5,
        "own_pct": 25.0,
        "busy_pct": 60.0,
        "others_pct": 35.0,
        "steal_pct": 5.0,
    }
    assert describe(load) == (
        "load average 0.10 -> 2.50; CPUs busy 60% (other processes 35%, this run 25%), "
        "stolen by the hypervisor 5%"
    )


def test_load_without_proc_says_what_it_does_not_know(tmp_path: Path) -> None:
    missing = snapshot(tmp_path / "no-stat", tmp_path / "no-loadavg")
    assert (missing.load, missing.busy_s, missing.steal_s) == (None, None, None)
    assert missing.own_s > 0
    text = describe(between(missing, missing))
    assert text.startswith("load average ? -> ?; CPUs busy ? (other processes ?")


def test_reads_another_process_cpu_clock_including_its_ended_threads() -> None:
    burn = (
        "import threading, time, sys\n"
        "def spin():\n"
        "    end = time.process_time() + 0.15\n"
        "    while time.process_time() < end: pass\n"
        "t = threading.Thread(target=spin); t.start(); t.join()\n"
        "print('done', flush=True)\n"
        "sys.stdin.read()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", burn], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "done\n", "the child did not finish spinning"
        first = time.clock_gettime_ns(process_cpu_clock(child.pid))
        time.sleep(0.05)  # idle in read(): its clock stands still
        second = time.clock_gettime_ns(process_cpu_clock(child.pid))
    finally:
        child.communicate("", timeout=10)
    assert first >= 150e6, "the spinning thread's CPU time (it has ended) is counted"
    assert second - first < 20e6
    own = time.clock_gettime_ns(process_cpu_clock(os.getpid()))
    assert math.isclose(own, time.process_time_ns(), rel_tol=0.05)


def _run(verdicts: dict[str, tuple[float, str]]) -> dict[str, Any]:
    """A run's targets, by CPU time; ``name/instr`` is ``name``'s row by instructions."""
    return {
        "machine": {"started": "2026-12-03T17:00:00Z", "commit": "abc1234"},
        "load": {"all": {"load_before": 0.5, "load_after": 0.7, "busy_pct": 40.0}},
        "targets": [
            {
                "issue": 18,
                "target": name.split("/")[0],
                "basis": "instr" if name.endswith("/instr") else "CPU",
                "median": median,
                "low": median - 1,
                "high": median + 1,
                "verdict": verdict,
            }
            for name, (median, verdict) in verdicts.items()
        ],
    }


def test_compare_runs_says_whether_verdicts_agree_and_how_far_medians_spread() -> None:
    same = [_run({"tax": (40.0, "met"), "hop": (20.0, "met")}) for _ in range(3)]
    text, agree = compare(same)
    assert agree
    assert "the same verdicts in all 3 runs: all 2 deciding rows" in text
    changed = [
        _run({"tax": (40.0, "met"), "hop": (20.0, "met")}),
        _run({"tax": (44.0, "inconclusive"), "hop": (20.0, "met")}),
    ]
    text, agree = compare(changed)
    assert not agree
    tax = next(line for line in text.splitlines() if line.startswith("#18 tax"))
    assert tax.split()[-4:] == ["4", "(10%)", "NO", "yes"]  # medians 40 and 44: 4 ms, 10% of 42
    assert "commit abc1234; load average 0.50 -> 0.70" in text
    assert "1 of 2 deciding rows changed verdict across 2 runs" in text


def test_a_row_by_instructions_decides_its_target_and_its_cpu_row_is_information() -> None:
    runs = [
        _run({"tax": (40.0, "met"), "tax/instr": (41.0, "met")}),
        _run({"tax": (44.0, "inconclusive"), "tax/instr": (41.0, "met")}),
    ]
    text, agree = compare(runs)
    assert agree  # the count is what decides a target about CPU work
    lines = text.splitlines()
    cpu = next(line for line in lines if line.startswith("#18 tax") and " CPU " in line)
    assert cpu.split()[-2:] == ["NO", "info"]
    assert "the same verdicts in all 2 runs: all 1 deciding rows" in text
    assert "beside them, 1 of 1 rows by wall or CPU time" in text
    # The count itself changing verdict is a change.
    runs[1] = _run({"tax": (40.0, "met"), "tax/instr": (46.0, "missed")})
    assert not compare(runs)[1]
