"""A function for the platform-mode tests: an init with a teardown and an after-restore hook,
and a shutdown hook; each prints a line when it runs.

Environment: ``INIT_MS`` (the init's duration), ``SLOW_ONE_MS`` (one worker's), ``HOOK_SLEEP_S``
(the shutdown hook's), ``FAIL_RESTORE`` (the after-restore hook raises; with a path, while
that file exists), ``RESEED`` (the after-restore hook reseeds ``random``), ``FAIL_INIT`` (the
init raises). The event's ``sleep_ms`` is how long the handler awaits on the warm loop, its
``tmp_write`` a file it creates in /tmp; the answer lists /tmp.
"""

import os
import platform
import random
import tempfile
import threading
import time
from typing import Any

import anyio

from lambda_warmup import warm_handler, warm_init, warm_shutdown

INIT_MS = int(os.environ.get("INIT_MS", "300"))


def _init_ms() -> int:
    """``INIT_MS``; with ``SLOW_ONE_MS``, the first worker process to get here takes that long."""
    slow = os.environ.get("SLOW_ONE_MS")
    if slow:
        try:
            os.close(
                os.open(os.path.join(tempfile.gettempdir(), "slow-worker"), os.O_CREAT | os.O_EXCL)
            )
        except FileExistsError:
            pass
        else:
            return int(slow)
    return INIT_MS


@warm_init
async def resource() -> Any:
    started = time.time()
    for _ in range(_init_ms() // 10):  # small steps: a frozen sandbox makes no progress
        await anyio.sleep(0.01)
    if os.environ.get("FAIL_INIT"):
        raise ConnectionError("database not reachable")
    state = {"started_at": started, "finished_at": time.time(), "restores": 0, "seed": 0.0}
    state["seed"] = random.random()
    yield state
    print("teardown resource: closed", flush=True)


@resource.after_restore
async def _reconnect(state: dict[str, Any]) -> None:
    state["restores"] += 1
    if os.environ.get("RESEED"):
        random.seed()  # from os.urandom: the kernel's entropy differs in every copy
    state["seed"] = random.random()  # random's state is in the snapshot: the same in every copy
    print(f"after-restore resource: reconnected ({state['restores']})", flush=True)
    fail = os.environ.get("FAIL_RESTORE")
    if fail and (fail == "1" or await anyio.Path(fail).exists()):
        raise ConnectionError("cannot reconnect after restore")


@warm_shutdown
async def flush() -> None:
    print("shutdown hook: flushing", flush=True)
    await anyio.sleep(float(os.environ.get("HOOK_SLEEP_S", "0")))
    print("shutdown hook: flushed", flush=True)


@warm_handler
async def _after_inits(event: Any, context: Any) -> dict[str, Any]:
    await anyio.sleep(event.get("sleep_ms", 0) / 1000)  # a request's own async work
    return {**resource.value, "loop_thread": threading.current_thread().name}


def handler(event: Any, context: Any) -> Any:
    entered = time.time()
    done_on_entry = resource.done()
    value = _after_inits(event, context)
    tmp = tempfile.gettempdir()
    if "tmp_write" in event:
        with open(os.path.join(tmp, event["tmp_write"]), "w"):
            pass
    return {
        "done_on_entry": done_on_entry,
        "entered_at": entered,
        "pid": os.getpid(),
        "python": platform.python_version(),
        "tmp": sorted(os.listdir(tmp)),
        **value,
    }
