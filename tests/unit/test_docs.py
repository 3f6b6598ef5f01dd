"""The README stays true: its settings table, its runnable examples, the public names."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import types
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


#: The public API as README.md's "Using it" documents it: what ``lambda_warmup.__all__`` must be.
DOCUMENTED_NAMES = [
    "AfterRestoreError",
    "InitCycleError",
    "InitFailedError",
    "InitHandle",
    "InitNotReadyError",
    "InitTimeoutError",
    "InitWaitTimeoutError",
    "Settings",
    "SettingsError",
    "Warmup",
    "WarmupError",
    "default_warmup",
    "run",
    "warm_handler",
    "warm_init",
    "warm_shutdown",
]


def _using_it() -> str:
    return README.split("\n## Using it\n", 1)[1].split("\n## ", 1)[0]


def test_all_is_the_documented_names():
    assert sorted(lambda_warmup.__all__) == sorted(DOCUMENTED_NAMES)


def test_every_public_name_of_the_package_is_in_all():
    """As httpx's test_exported_members: nothing public is bound but what ``__all__`` lists."""
    public = {
        name
        for name, value in vars(lambda_warmup).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(lambda_warmup.__all__)


@pytest.mark.parametrize("name", DOCUMENTED_NAMES)
def test_each_exported_name_is_documented_in_the_readme(name: str):
    """In inline code (`` `Warmup()` ``, `` `@warm_init` ``) or the Exceptions tree."""
    section = _using_it()
    code = re.findall(r"`([^`\n]+)`", section)
    tree = section.split("### Exceptions\n```\n", 1)[1].split("```", 1)[0]
    pattern = rf"(?<![\w.]){re.escape(name)}(?!\w)|lambda_warmup\.{re.escape(name)}(?!\w)"
    assert any(re.search(pattern, text) for text in [*code, tree]), (
        f"{name} is exported but README.md's Using it section does not document it"
    )


def test_public_names():
    for name in lambda_warmup.__all__:
        obj = getattr(lambda_warmup, name)
        if isinstance(obj, type):
            assert obj.__module__ == "lambda_warmup", name
    assert lambda_warmup.warm_init == lambda_warmup.default_warmup.init
    assert lambda_warmup.warm_handler == lambda_warmup.default_warmup.handler
    assert lambda_warmup.warm_shutdown == lambda_warmup.default_warmup.on_shutdown
