"""Static checks of the public API's types: mypy (run by `make check`) verifies each
``assert_type``; nothing here runs under pytest (the file name has no ``test_`` prefix)."""

from collections.abc import AsyncIterator
from typing import Any, assert_type

from lambda_warmup import InitHandle, Warmup

warmup = Warmup()


@warmup.init
async def bare() -> dict[str, int]:
    return {}


@warmup.init(timeout=1.0, retries=2)
async def with_options() -> int:
    return 1


@warmup.init
def sync_init() -> str:
    return ""


@warmup.init
async def with_teardown() -> AsyncIterator[float]:
    yield 1.5


@warmup.handler
async def async_handler(event: Any, context: Any) -> dict[str, int]:
    return {}


@warmup.handler
def sync_handler(event: dict[str, Any], context: object) -> int:
    return 1


assert_type(bare, InitHandle[dict[str, int]])
assert_type(with_options, InitHandle[int])
assert_type(sync_init, InitHandle[str])
assert_type(with_teardown, InitHandle[float])
assert_type(async_handler({}, None), dict[str, int])
assert_type(sync_handler({}, None), int)
