"""Medians with their spread, confidence intervals of medians, target verdicts, and plain-text
tables.

A target's verdict comes from the 95% confidence interval of the median of its per-run figures
(each run of an interleaved section gives one figure, a difference or ratio to the variant run
beside it where the target is relative): *met* when the whole interval is on the target's good
side, *missed* when it is wholly on the bad side, *inconclusive* when it straddles the limit.
The interval is distribution-free (order statistics of the sorted figures, the binomial
interval of a median): with 7 cold starts it is their min-max (98% coverage), with 150
invocations it is much narrower than their spread.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

CONFIDENCE = 0.95
Verdict = Literal["met", "missed", "inconclusive"]


class Series:
    """Repeated measurements of one figure (ms, MB, bytes...)."""

    def __init__(self, values: Iterable[float]) -> None:
        self.values = [float(v) for v in values]
        if not self.values:
            raise ValueError("no values")

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    def interval(self, confidence: float = CONFIDENCE) -> Interval:
        """The confidence interval of the median (see :func:`median_interval`)."""
        return median_interval(self.values, confidence)

    def text(self, digits: int = 0) -> str:
        """``median (min-max)``, or the bare value when there is one."""
        if len(self.values) == 1:
            return f"{self.median:.{digits}f}"
        return f"{self.median:.{digits}f} ({self.low:.{digits}f}-{self.high:.{digits}f})"


@dataclass(frozen=True)
class Interval:
    """A median and the interval around it; ``coverage`` is the interval's actual confidence
    (below the one asked for when there are too few figures: with 5 or fewer, min-max)."""

    median: float
    low: float
    high: float
    coverage: float
    n: int


def median_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """Distribution-free confidence interval of the median: the ``k``-th smallest and ``k``-th
    largest figures, ``k`` as large as still gives ``confidence`` (the number of figures below
    the true median is binomial(n, 1/2)); min-max when even that falls short."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(float(v) for v in values)
    n = len(ordered)
    k = 1
    while k < n - k + 1 and _coverage(n, k + 1) >= confidence:
        k += 1
    return Interval(
        median=float(statistics.median(ordered)),
        low=ordered[k - 1],
        high=ordered[n - k],
        coverage=_coverage(n, k) if n > 1 else 0.0,
        n=n,
    )


def _coverage(n: int, k: int) -> float:
    """P(k-th smallest <= median <= k-th largest) = 1 - 2 P(Binomial(n, 1/2) < k)."""
    below: float = sum(math.comb(n, i) for i in range(k)) / 2**n
    return max(0.0, 1.0 - 2.0 * below)


def verdict(low: float, high: float, limit: float, *, at_most: bool = True) -> Verdict:
    """``at_most``: the figure must not exceed ``limit`` (else: must reach at least ``limit``).
    Met when the whole ``[low, high]`` is on the good side, missed when wholly on the bad side
    (the limit itself counts as good), inconclusive when it straddles the limit."""
    if low > high:
        raise ValueError(f"interval [{low}, {high}] is reversed")
    good_low, good_high = (low, high) if at_most else (-high, -low)
    bound = limit if at_most else -limit
    if good_high <= bound:
        return "met"
    if good_low > bound:
        return "missed"
    return "inconclusive"


@dataclass(frozen=True)
class Target:
    """One target, the figures its verdict comes from, and how to show them."""

    issue: int
    what: str
    """The target in words, its limit included ("... at most 45 ms")."""
    basis: str
    """What is compared: ``wall``, ``CPU``, ``PSS``, ``ratio``..."""
    figures: Series | None
    """One per run (or per block of invocations), in ``unit``; ``None``: not measured (its tool
    is missing), shown as ``-``."""
    limit: float
    at_most: bool = True
    unit: str = "ms"
    digits: int = 1
    note: str = ""
    """Context for a reader: the absolute figures behind a ratio, a floor..."""

    @property
    def interval(self) -> Interval:
        if self.figures is None:
            raise ValueError(f"#{self.issue} {self.what} by {self.basis}: not measured")
        return self.figures.interval()

    @property
    def verdict(self) -> Verdict | None:
        """``None`` when not measured."""
        if self.figures is None:
            return None
        i = self.interval
        return verdict(i.low, i.high, self.limit, at_most=self.at_most)

    def measured(self) -> str:
        """``median [low, high]``: the interval the verdict was taken from (``-``: none)."""
        if self.figures is None:
            return "-"
        i, d = self.interval, self.digits
        unit = f" {self.unit}" if self.unit else ""
        if i.n == 1:
            return f"{i.median:.{d}f}{unit} (1 run)"
        return f"{i.median:.{d}f} [{i.low:.{d}f}, {i.high:.{d}f}]{unit}"

    def as_json(self) -> dict[str, Any]:
        i = self.interval
        return {
            "issue": self.issue,
            "target": self.what,
            "basis": self.basis,
            "median": i.median,
            "low": i.low,
            "high": i.high,
            "coverage": round(i.coverage, 4),
            "n": i.n,
            "limit": self.limit,
            "at_most": self.at_most,
            "unit": self.unit,
            "verdict": self.verdict,
            "note": self.note,
        }


def verdict_table(targets: Sequence[Target]) -> str:
    """One row per target: the limit, the median and its interval, the verdict."""
    rows = []
    for t in targets:
        sign = "<=" if t.at_most else ">="
        unit = f" {t.unit}" if t.unit else ""
        rows.append(
            [
                f"#{t.issue} {t.what}",
                t.basis,
                f"{sign} {t.limit:g}{unit}",
                t.measured(),
                "-"
                if t.verdict is None
                else t.verdict.upper()
                if t.verdict == "missed"
                else t.verdict,
            ]
        )
    head = ["target", "by", "limit", "median [95% CI of the median]", "verdict"]
    return table(head, rows, right_from=2)


def grouped(targets: Sequence[Target]) -> list[Target]:
    """``targets`` in order, but each one right after the last earlier target of the same issue
    and words: a target's rows by wall, CPU and instructions together, whichever section made
    them."""
    out: list[Target] = []
    for t in targets:
        same = [i for i, o in enumerate(out) if (o.issue, o.what) == (t.issue, t.what)]
        out.insert(same[-1] + 1 if same else len(out), t)
    return out


def table(head: Sequence[str], rows: Sequence[Sequence[str]], right_from: int = 1) -> str:
    """Columns from ``right_from`` on are right-aligned (figures)."""
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]

    def line(row: Sequence[str]) -> str:
        cells = [
            cell.rjust(width) if i >= right_from else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    return "\n".join([line(head), "  ".join("-" * w for w in widths), *(line(row) for row in rows)])
