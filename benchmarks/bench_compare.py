"""``python benchmarks/bench_compare.py RUN.json RUN.json ...``: the targets of several
``make bench`` runs side by side (issue 18: three runs in a row must give the same verdicts).

For each target: each run's median [interval] and verdict, the spread of the medians across the
runs (max - min, and that as % of their median), and whether the verdicts agree; then each run's
load. Exit code 0 when every target has the same verdict in every run, 1 otherwise.

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
    rows = []
    agree = True
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
        agree = agree and same
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
            ]
        )
    head = [
        "target",
        "by",
        *(f"run {i}: median [CI] verdict" for i in range(1, len(runs) + 1)),
        "spread of medians",
        "same",
    ]
    loads = [_when_and_load(i, run) for i, run in enumerate(runs, 1)]
    differ = sum(row[-1] == "NO" for row in rows)
    verdict = (
        f"the same verdicts in all {len(runs)} runs"
        if agree
        else f"{differ} of {len(rows)} targets changed verdict across the {len(runs)} runs"
    )
    return "\n".join([table(head, rows, right_from=2), "", *loads, "", verdict]), agree


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
