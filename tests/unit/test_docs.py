"""The README stays true: its settings table, its runnable examples, the public names."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import lambda_warmup
from lambda_warmup import _constants

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()


def _settings_table_names() -> set[str]:
    section = README.split("## Settings", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Z_]+)` \|", section, flags=re.MULTILINE))


def test_settings_table_matches_the_constants():
    ours = {
        value
        for name, value in vars(_constants).items()
        if isinstance(value, str) and name.startswith(("WARMUP_", "WARMING_")) and name == value
    }
    assert ours, "no setting names found in lambda_warmup/_constants.py"
    assert _settings_table_names() == ours


def _runnable_examples() -> list[str]:
    blocks = re.findall(r"^```python\n(.*?)^```", README, flags=re.MULTILINE | re.DOTALL)
    return [block for block in blocks if 'if __name__ == "__main__":' in block]


@pytest.mark.parametrize("example", _runnable_examples())
def test_readme_example_runs(example: str):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", example],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr


def test_readme_has_runnable_examples():
    assert _runnable_examples()


def test_public_names():
    for name in lambda_warmup.__all__:
        obj = getattr(lambda_warmup, name)
        if isinstance(obj, type):
            assert obj.__module__ == "lambda_warmup", name
    assert lambda_warmup.warm_init == lambda_warmup.default_warmup.init
