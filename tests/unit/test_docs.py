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

pytest_plugins = ["pytester"]

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


# -- Testing your own function (lambda_warmup.testing) ----------------------------------------

#: What README.md's "Testing your own function" documents: the plugin's ``__all__`` and fixtures.
TESTING_NAMES = ["LambdaContext", "WarmupFixture", "invoke"]
TESTING_FIXTURES = ["lambda_context", "warmup", "warmup_settings"]


def _testing_section() -> str:
    return README.split("\n## Testing your own function\n", 1)[1].split("\n## ", 1)[0]


def _testing_example_files() -> dict[str, str]:
    """The section's python blocks that start with their file's name (``# orders.py``)."""
    blocks = re.findall(
        r"^```python\n# (\w+\.py)\n(.*?)^```", _testing_section(), flags=re.MULTILINE | re.DOTALL
    )
    return dict(blocks)


def _strict_asyncio(pytester: pytest.Pytester) -> None:
    """The example's pytest configuration: ours (pytest-asyncio strict, warnings are errors)."""
    pytester.makeini(
        """
        [pytest]
        asyncio_mode = strict
        asyncio_default_fixture_loop_scope = function
        filterwarnings = error
        """
    )


def test_readme_testing_example_passes(pytester: pytest.Pytester):
    files = _testing_example_files()
    assert {"conftest.py", "test_orders.py"} <= set(files), sorted(files)
    for name, text in files.items():
        (pytester.path / name).write_text(text)
    _strict_asyncio(pytester)
    tests = sum(len(re.findall(r"^(?:async )?def test_", text, re.M)) for text in files.values())

    result = pytester.runpytest()

    result.assert_outcomes(passed=tests)


def test_testing_names_are_the_documented_ones(pytester: pytest.Pytester):
    import lambda_warmup.testing as testing

    assert sorted(testing.__all__) == sorted(TESTING_NAMES)
    pytester.makeconftest('pytest_plugins = ["lambda_warmup.testing"]')
    _strict_asyncio(pytester)
    listing = pytester.runpytest("--fixtures").stdout.str()
    found = re.search(
        r"fixtures defined from lambda_warmup\.testing -+\n(.*?)(?:\n-+ |$)", listing, re.S
    )
    assert found, "pytest --fixtures lists no fixtures of lambda_warmup.testing"
    assert set(re.findall(r"^(\w+) -- ", found.group(1), re.MULTILINE)) == set(TESTING_FIXTURES)
    code = re.findall(r"`([^`\n]+)`", _testing_section())
    for name in [*TESTING_NAMES, *TESTING_FIXTURES]:
        pattern = rf"(?<![\w.]){re.escape(name)}(?!\w)"
        assert any(re.search(pattern, text) for text in code), (
            f"lambda_warmup.testing's {name} is not documented in README.md's Testing section"
        )
