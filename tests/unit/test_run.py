"""``lambda_warmup.run``'s public surface: exported, bound to the default Warmup, documented, and
refusing a coroutine object before it touches the loop."""

from __future__ import annotations

import gc
import re
import warnings
from pathlib import Path

import pytest

import lambda_warmup
from lambda_warmup import Settings, Warmup

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_run_is_exported_and_bound_to_the_default_warmup():
    assert "run" in lambda_warmup.__all__
    assert lambda_warmup.run == lambda_warmup.default_warmup.run
    assert lambda_warmup.run.__doc__ == Warmup.run.__doc__


def test_a_coroutine_object_is_a_type_error_and_starts_no_loop():
    warmup = Warmup(settings=Settings())

    async def fetch(order: int) -> int:
        return order

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine 'fetch' was never awaited" would fail here
        with pytest.raises(TypeError) as caught:
            warmup.run(fetch(1))  # type: ignore[arg-type]
        gc.collect()
    assert str(caught.value) == (
        "lambda_warmup.run takes a coroutine function and its arguments, e.g. run(fetch, 1), "
        "not a coroutine object (fetch)"
    )
    assert not warmup._loop.running


def test_readme_shows_a_def_handler_calling_run_in_a_runnable_example():
    blocks = re.findall(r"^```python\n(.*?)^```", README, flags=re.MULTILINE | re.DOTALL)
    runnable = [block for block in blocks if 'if __name__ == "__main__":' in block]
    assert any(
        "from lambda_warmup import run" in block and re.search(r"^def handler\(", block, re.M)
        for block in runnable
    ), "README.md has no runnable example of a def handler using run"
