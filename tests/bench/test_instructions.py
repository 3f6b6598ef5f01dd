"""Instruction counts (``bench_instructions.py``): the counting itself under valgrind, the
launcher's command as the probes run it, the conversion to ms at the record's speed, and the
section without valgrind."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from bench import Report
from bench_instructions import (
    PLAIN_POST_ATTEMPTS,
    RECORD_ASYNCIO_IMPORT_MS,
    Counter,
    _at_once,
    _counted,
    figures,
    launcher_argv,
    measure,
    per_ms,
    report,
)
from bench_stats import Series, Target, grouped, verdict_table

REPO = Path(__file__).resolve().parent.parent.parent
needs_valgrind = pytest.mark.skipif(shutil.which("valgrind") is None, reason="no valgrind")
#: Python under valgrind starts in ~1-5 s, depending on the machine's load.
VALGRIND_TIMEOUT = pytest.mark.timeout(180)


def _count(code: str) -> int:
    env = {"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0"}
    return _counted([sys.executable, "-S", "-c", code], env, None, _at_once)[0]


@needs_valgrind
@VALGRIND_TIMEOUT
def test_a_probe_doing_more_work_counts_more_instructions_and_repeats_agree() -> None:
    base = _count("pass")
    again = _count("pass")
    loop = _count("for i in range(200_000): pass")
    assert abs(again - base) <= 0.001 * base, (base, again)
    # 200 000 iterations of CPython's loop: well over 10 instructions each.
    assert loop - base > 2_000_000, (base, loop)


@needs_valgrind
@VALGRIND_TIMEOUT
def test_a_process_that_fails_is_an_error_not_a_count() -> None:
    with pytest.raises(RuntimeError, match="exited 3"):
        _counted([sys.executable, "-S", "-c", "raise SystemExit(3)"], {}, None, _at_once)


def test_a_library_run_whose_report_went_by_httpx_is_taken_again_then_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """httpx's import must never be counted as the library's: such a run is retaken, and after
    ``PLAIN_POST_ATTEMPTS`` of them the probe fails rather than give that count."""
    runs: list[bool] = [True, False]  # by httpx, then by the plain POST

    def once(self: Counter, step: str, inits: int | None) -> tuple[int, bool]:
        return 1000 + len(runs), runs.pop(0)

    monkeypatch.setattr(Counter, "_library_once", once)
    counter = Counter(Path(sys.executable), REPO)
    assert counter.library("pass", 1) == 1001  # the second run's count
    runs[:] = [True] * PLAIN_POST_ATTEMPTS
    with pytest.raises(RuntimeError, match=f"by httpx in {PLAIN_POST_ATTEMPTS} runs"):
        counter.library("pass", 1)
    assert runs == []


def test_the_extension_runs_as_its_launcher_execs_it() -> None:
    argv = launcher_argv(REPO, "/opt/python3")
    assert argv[:5] == ["/opt/python3", "-E", "-s", "-S", "-u"]
    assert argv[5] == "-c"
    assert "extension_entry" in argv[6]
    assert argv[7] == "lambda-warmup"
    assert float(argv[8]) > 1e9  # $EPOCHREALTIME: now, in seconds


def _data(repeats: int = 3) -> dict[str, object]:
    """Counts where import asyncio takes 100 M instructions: 1 ms is ~4.22 M."""

    def same(value: int) -> list[int]:
        return [value] * repeats

    return {
        "valgrind": "valgrind-3.19.0",
        "python": "python",
        "repeats": repeats,
        "calls": {"sync": 1000, "async": 100},
        "rate_ms": RECORD_ASYNCIO_IMPORT_MS,
        "seconds": 1.0,
        "counts": {
            "baseline": same(50_000_000),
            "asyncio": same(150_000_000),
            "handler": same(250_000_000),
            "one_init": same(260_000_000),
            "sync_0": same(300_000_000),
            "sync_n": same(310_000_000),
            "async_0": same(300_000_000),
            "async_n": same(320_000_000),
            "extension_floor": same(30_000_000),
            "extension_to_register": same(35_000_000),
            "extension_init": same(80_000_000),
            "extension_init_hold": same(81_000_000),
            "extension_life_hold": same(95_000_000),
            # Growth: 0.1 M per init from 1 to 100, 0.5 M from 100 to 1000 (5x: beyond linear).
            "growth_1": same(200_000_000),
            "growth_100": same(209_900_000),
            "growth_1000": same(659_900_000),
        },
    }


def test_instructions_become_ms_at_the_speed_of_import_asyncio_on_the_record() -> None:
    data = _data()
    per = 100_000_000 / RECORD_ASYNCIO_IMPORT_MS
    assert per_ms(data) == pytest.approx(per)
    got = figures(data)
    assert got["asyncio"] == pytest.approx([RECORD_ASYNCIO_IMPORT_MS] * 3)
    # The library's step over the baseline, plus the extension's INIT (a whole process).
    assert got["handler"][0] == pytest.approx((200_000_000 + 80_000_000) / per)
    assert got["one_init"][0] == pytest.approx((210_000_000 + 81_000_000) / per)
    assert got["registered"][0] == pytest.approx(35_000_000 / per)
    # Per call: (N calls - 0 calls) / N, in us.
    assert got["sync_call"][0] == pytest.approx(10_000_000 / 1000 / per * 1000)
    assert got["async_call"][0] == pytest.approx(20_000_000 / 100 / per * 1000)
    text = report(data)
    assert "so 4.22 M instructions per ms" in text
    assert "= #18 layer + 1 init + hold" in text


def test_the_targets_get_a_row_by_instructions_beside_wall_and_cpu() -> None:
    made = Report({"instructions": _data()})
    made.target(Target(18, "sync @warm_handler, hot, in-process: per call", "wall", Series([1]), 2))
    made.target(Target(18, "sync @warm_handler, hot, in-process: per call", "CPU", Series([1]), 2))
    made.target(Target(7, "something else", "wall", Series([1]), 2))
    made.instructions()
    targets = grouped(made.targets)
    rows = [(t.what.split(":")[0], t.basis) for t in targets]
    assert rows[:3] == [
        ("sync @warm_handler, hot, in-process", b) for b in ("wall", "CPU", "instr")
    ]
    by_instr = [t for t in targets if t.basis == "instr"]
    assert len(by_instr) == 6
    assert all(t.verdict in ("met", "missed", "inconclusive") for t in by_instr)
    # Growth: 0.1 M instructions per init, then 0.5 M: beyond the 1.5x (+ 0.05 ms) allowed.
    (growth,) = [t for t in by_instr if t.what.startswith("growth")]
    per_ms = 100_000_000 / 23.7
    assert growth.interval.median == pytest.approx((0.5e6 - 1.5 * 0.1e6) / per_ms - 0.05)
    assert growth.verdict == "missed"
    assert "by instr: valgrind's count x 23.7 ms" in made.instr_note


def test_without_valgrind_the_section_says_so_and_its_rows_show_a_dash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    data = measure(layers=None, quick=True)  # type: ignore[arg-type]  # never reached
    assert data == {"valgrind": None, "reason": data["reason"]}
    made = Report({"instructions": data})
    text = made.instructions()
    assert text.splitlines()[1].startswith("   not measured: valgrind is not installed")
    assert all(t.verdict is None and t.measured() == "-" for t in made.targets)
    table = verdict_table(made.targets).splitlines()
    assert all(line.split()[-2:] == ["-", "-"] for line in table[2:])
