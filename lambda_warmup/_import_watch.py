"""Knowing when a module has finished importing, so the report never goes out early.

While a module's body runs, CPython keeps ``module.__spec__._initializing`` true and clears it
when the import finishes. The attribute is private, so where it is missing the fallback is
whether the module has bound its handler function yet (the handler usually comes last).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable

from ._constants import IMPORT_POLL_INTERVAL

#: Longest pause between two looks; imports are short, and a late report holds INIT longer.
_MAX_POLL_INTERVAL = 0.02


def module_importing(name: str, bound_attribute: str | None = None) -> bool:
    module = sys.modules.get(name)
    if module is None:
        return False
    initializing = getattr(getattr(module, "__spec__", None), "_initializing", None)
    if isinstance(initializing, bool):
        return initializing
    return bound_attribute is not None and not hasattr(module, bound_attribute)


async def wait_imports_finished(modules: Callable[[], Iterable[tuple[str, str | None]]]) -> None:
    """Wait until none of ``modules()`` (pairs of name and fallback attribute) is importing."""
    import asyncio  # loaded with the warm loop, which runs this

    interval = IMPORT_POLL_INTERVAL
    while any(module_importing(name, attribute) for name, attribute in modules()):
        await asyncio.sleep(interval)
        interval = min(interval * 2, _MAX_POLL_INTERVAL)
