"""``@warm_init`` on a ``def`` that ``yield``s: typed as the yielded value, documented."""

from __future__ import annotations

import inspect
import re
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import assert_type

from lambda_warmup import InitHandle, Settings, Warmup

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_the_handle_holds_the_yielded_value_with_its_type():
    warmup = Warmup(settings=Settings())
    try:

        @warmup.init
        def iterator() -> Iterator[int]:
            yield 1

        @warmup.init(timeout=5.0)
        def generator() -> Generator[str, None, None]:
            yield "two"

        assert_type(iterator, InitHandle[int])
        assert_type(generator, InitHandle[str])
        assert (iterator.result(5), generator.result(5)) == (1, "two")
        values: list[object] = [iterator.value, generator.value]
        assert not any(inspect.isgenerator(value) for value in values)  # what it was before
    finally:
        warmup.close(timeout=5)


def test_readme_lists_the_def_generator_form():
    section = README.split("### `@warm_init`", 1)[1].split("\n### ", 1)[0]
    assert re.search(r"^\| `def` that `yield`s once", section, flags=re.MULTILINE)
