"""``python benchmarks/bench_compare.py RUN.json RUN.json ...``: the targets of several
``make bench`` runs side by side (issue 18: three runs in a row must give the same verdicts).

For each target: each run's median [interval] and verdict, the spread of the medians across the
runs (max - min, and that as % of their median), and whether the verdicts agree; then each run's
load. Exit code 0 when every deciding row has the same verdict in every run, 1 otherwise.

Which rows decide: a target about CPU work that has a row by instructions (counted in every run)
is decided by that row, since valgrind counts the same work the same way whatever the machine
does; its rows by wall and CPU time stay beside it as information (``info``): on a virtual
machine whose speed swings 2x from one run to the next they move between a verdict and
"inconclusive" when the figure sits near its limit. Every other target is decided by all its rows.

    for run in 1 2 3; do make bench BENCH_ARGS="--json .aws-sam/bench/run$run.json"; done
    .venv/bin/python benchmarks/bench_compare.py .aws-sam/bench/run[123].json
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

from bench_load import describe
from bench_stats import table


def key(target: dict[str, Any]) -> tuple[int, str, str]:
    return (int(target["issue"]), str(target["target"]), str(target["basis"]))


def compare(runs: list[dict[str, Any]]) -> tuple[str, bool]:
    """The comparison's text, and whether every target got the same verdict in every run."""
    by_run = [{key(t): t for t in run["targets"]} for run in runs]
    keys = list(by_run[0])
    for other in by_run[1:]:
        keys += [k for k in other if k not in keys]
    deciding = _deciding(keys, by_run)
    rows = []
    agree = True
    changed_info = 0
    for k in keys:
        found = [run.get(k) for run in by_run]
        cells = [
            "-"
            if t is None
            else f"{_figure(t['median'])} [{_figure(t['low'])}, "
            f"{_figure(t['high'])}] {t['verdict']}"
            for t in found
        ]
        medians = [t["median"] for t in found if t is not None]
        verdicts = {t["verdict"] for t in found if t is not None}
        same = len(verdicts) == 1 and None not in found
        if k in deciding:
            agree = agree and same
        else:
            changed_info += not same
        spread = max(medians) - min(medians)
        middle = statistics.median(medians)
        relative = f" ({100 * spread / abs(middle):.0f}%)" if middle else ""
        rows.append(
            [
                f"#{k[0]} {k[1]}",
                k[2],
                *cells,
                f"{_figure(spread)}{relative}",
                "yes" if same else "NO",
                "yes" if k in deciding else "info",
            ]
        )
    head = [
        "target",
        "by",
        *(f"run {i}: median [CI] verdict" for i in range(1, len(runs) + 1)),
        "spread of medians",
        "same",
        "decides",
    ]
    loads = [_when_and_load(i, run) for i, run in enumerate(runs, 1)]
    differ = sum(row[-2] == "NO" and row[-1] == "yes" for row in rows)
    verdict = (
        f"the same verdicts in all {len(runs)} runs: all {len(deciding)} deciding rows"
        if agree
        else f"{differ} of {len(deciding)} deciding rows changed verdict across {len(runs)} runs"
    )
    info = (
        f"beside them, {changed_info} of {len(rows) - len(deciding)} rows by wall or CPU time of "
        "targets that instructions decide (info) changed verdict"
    )
    text = [table(head, rows, right_from=2), "", *loads, "", verdict, info]
    return "\n".join(text), agree


def _deciding(
    keys: list[tuple[int, str, str]], by_run: list[dict[tuple[int, str, str], dict[str, Any]]]
) -> set[tuple[int, str, str]]:
    """The rows whose verdicts decide (see the module's docstring)."""
    counted = {
        (issue, what)
        for issue, what, basis in keys
        if basis == "instr"
        and all(run.get((issue, what, basis), {}).get("verdict") for run in by_run)
    }
    return {k for k in keys if (k[0], k[1]) not in counted or k[2] == "instr"}


def _when_and_load(number: int, run: dict[str, Any]) -> str:
    machine = run.get("machine", {})
    load = run.get("load", {}).get("all")
    return f"run {number}: {machine.get('started', '?')}, commit {machine.get('commit', '?')}; " + (
        describe(load) if load else "load not recorded"
    )


def _figure(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.0f}"


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    runs = [json.loads(Path(path).read_text()) for path in argv]
    text, agree = compare(runs)
    print(text)
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
