"""Medians with their spread, and plain-text tables."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence


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

    def text(self, digits: int = 0) -> str:
        """``median (min-max)``, or the bare value when there is one."""
        if len(self.values) == 1:
            return f"{self.median:.{digits}f}"
        return f"{self.median:.{digits}f} ({self.low:.{digits}f}-{self.high:.{digits}f})"


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
