"""A SnapStart function: hooks print when they run."""

import importlib
import os
from typing import Any

# Imported by name: the runtime's venv has it, type checkers need not.
_hooks = importlib.import_module("snapshot_restore_py")

HOOKS: list[str] = []


def _before() -> None:
    HOOKS.append("before")
    print("hook before-snapshot", flush=True)


def _after() -> None:
    HOOKS.append("after")
    print("hook after-restore", flush=True)
    if os.environ.get("FAIL_AFTER_RESTORE"):
        raise RuntimeError("after-restore hook failed")


_hooks.register_before_snapshot(_before)
_hooks.register_after_restore(_after)


def handler(event: Any, context: Any) -> Any:
    return {"hooks": HOOKS, "log_group": os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")}
