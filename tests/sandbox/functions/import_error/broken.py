"""A handler module that fails to import: INIT must report Runtime.ImportModuleError."""

import module_that_does_not_exist  # type: ignore[import-not-found]  # noqa: F401


def handler(event: object, context: object) -> str:
    return "unreachable"
