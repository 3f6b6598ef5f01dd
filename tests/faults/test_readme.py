"""The README's "Fault matrix" table is the tests' rows (``python -m tests.faults.matrix
--write`` regenerates it)."""

from __future__ import annotations

import importlib
import inspect

from . import matrix


def test_readme_fault_matrix_matches_the_tests() -> None:
    table = matrix.readme_table(matrix.README.read_text())
    assert table is not None, f"README.md has no {matrix.BEGIN!r} ... {matrix.END!r} section"
    assert table == matrix.table(), (
        "README.md's fault matrix differs from the rows in tests/faults; run "
        "`.venv/bin/python -m tests.faults.matrix --write`"
    )


def test_every_fault_test_has_a_row() -> None:
    rows = {r.test for r in matrix.rows()}
    for name in matrix.MODULES:
        module = importlib.import_module(f"{__package__}.{name}")
        tests = {
            f"{module.__name__}.{fn}"
            for fn, obj in vars(module).items()
            if fn.startswith("test_") and inspect.isfunction(obj)
        }
        untested = tests - rows
        assert not untested, f"tests without a matrix row: {sorted(untested)}"
    assert len(rows) == len(matrix.rows()), "two rows for one test"
