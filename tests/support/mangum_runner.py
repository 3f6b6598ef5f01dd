"""Mangum's handler on an app, called as its own runtime would: always from one thread (Mangum
keeps the event loop it made in that thread), so the tests can call it from anywhere."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mangum import Mangum


class MangumRunner:
    def __init__(self, app: Any, timeout: float = 10.0) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="mangum-runtime")
        self._timeout = timeout
        self._handler: Mangum = self._executor.submit(Mangum, app).result(timeout)

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        return self._executor.submit(self._handler, event, context).result(self._timeout)

    def close(self) -> None:
        self._executor.submit(_close_thread_loop).result(self._timeout)
        self._executor.shutdown()


def _close_thread_loop() -> None:
    asyncio.get_event_loop().close()
