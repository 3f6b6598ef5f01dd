"""Testing your own function: a pytest plugin for handlers that use lambda-warmup.

Load it in your ``conftest.py`` (``pytest_plugins = ["lambda_warmup.testing"]``) or with
``pytest -p lambda_warmup.testing``. It needs pytest-asyncio, and nothing of it is imported by
``import lambda_warmup``.

```python
@pytest.mark.asyncio
async def test_handler(warmup):
    orders = await warmup.load("orders")  # imported afresh: its inits run on this test's loop
    assert await invoke(orders.handler, {"id": 1}) == {"id": 1, "status": "new"}
    pool = await orders.pool  # what an init made, usable right here
```

- ``warmup`` (fixture, async tests): ``lambda_warmup.default_warmup`` with a fresh state for the
  test, whose warm loop is the test's own event loop; at the end of the test the shutdown hooks
  and init teardowns run, the loop is released, and the state and the modules are put back.
- ``invoke(handler, event, context=None)``: calls the handler as Lambda's runtime does.
- ``LambdaContext``: the context object the runtime passes; ``lambda_context`` (fixture) is one.
- ``warmup_settings`` (fixture): the ``Settings`` the ``warmup`` fixture uses; override it.

PYTEST_DONT_REWRITE: the plugin has no asserts of its own, and a conftest that imports from it
before naming it in ``pytest_plugins`` would otherwise get pytest's "already imported" warning.
"""

from __future__ import annotations

import dataclasses
import decimal
import functools
import importlib
import inspect
import json
import math
import sys
import sysconfig
import time
import types
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import pytest
    import pytest_asyncio
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        f"lambda_warmup.testing is a pytest plugin and needs pytest and pytest-asyncio "
        f"({error.name} is missing): pip install pytest pytest-asyncio"
    ) from error

import anyio
import anyio.to_thread

from . import default_warmup
from ._handles import InitHandle
from ._loop import BorrowedLoop
from ._settings import Settings
from ._warmup import Warmup

__all__ = ["LambdaContext", "WarmupFixture", "invoke"]

#: Seconds the ``warmup`` fixture gives the shutdown hooks and init teardowns after a test
#: (``Warmup.close``'s default; Lambda's 250 ms would make slow test machines fail at random).
TEARDOWN_BUDGET = 5.0

#: Seconds inits still running at the end of a test get to settle before they are cancelled:
#: a cancelled init may leak what it was opening (asyncio's ``start_server`` leaves its socket).
SETTLE_GRACE = 1.0

#: A test's invocation deadline: longer than Lambda's 3 s default, so that a slow test machine
#: fails on the test's assertion, not on a tight deadline; give ``timeout=`` to test that.
DEFAULT_TIMEOUT = 30.0


# -- the context ------------------------------------------------------------------------------
@dataclass
class LambdaContext:
    """The ``context`` Lambda's Python runtime passes a handler, for tests.

    The attributes of awslambdaric's ``LambdaContext`` (what Powertools' Logger, Metrics and
    Tracer read), each with a default: a new ``aws_request_id`` per context, and a deadline
    ``timeout`` seconds after it is made (``get_remaining_time_in_millis()`` counts down to it).
    ``memory_limit_in_mb`` is a string, as the runtime's (it comes from an environment variable).
    """

    function_name: str = "test-function"
    timeout: float = DEFAULT_TIMEOUT
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    memory_limit_in_mb: str = "128"
    invoked_function_arn: str = ""
    log_group_name: str = ""
    log_stream_name: str = ""
    client_context: Any = None
    identity: Any = field(
        default_factory=lambda: types.SimpleNamespace(
            cognito_identity_id=None, cognito_identity_pool_id=None
        )
    )
    tenant_id: str | None = None
    _deadline: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout
        if not self.invoked_function_arn:
            self.invoked_function_arn = (
                f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"
            )
        if not self.log_group_name:
            self.log_group_name = f"/aws/lambda/{self.function_name}"
        if not self.log_stream_name:
            day = time.strftime("%Y/%m/%d", time.gmtime())
            self.log_stream_name = f"{day}/[{self.function_version}]{uuid.uuid4().hex}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    def log(self, message: str) -> None:
        """As the runtime's: the message to standard output, as it is."""
        sys.stdout.write(str(message))


# -- invoking a handler -------------------------------------------------------------------------
async def invoke(handler: Callable[[Any, Any], Any], event: Any, context: Any = None) -> Any:
    """Call ``handler(event, context)`` as Lambda's runtime does; return what a caller receives.

    The runtime calls a handler from its own thread, never from the warm loop; here the warm loop
    is the test's, so the handler runs in a worker thread while the test's loop serves its inits
    and its async code. The event reaches it as JSON decoded (what the runtime would make of it),
    with a new ``LambdaContext`` unless ``context`` is given. Its return value goes through JSON
    as the runtime's response does (``Decimal`` allowed, ``bytes`` returned as they are): a value
    the runtime could not send (a coroutine, a set) is a ``TypeError`` that says Lambda would
    fail the invocation with ``Runtime.MarshalError``. The handler's own exception is raised
    unchanged.
    """
    try:
        event = json.loads(json.dumps(event))
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"lambda_warmup.testing.invoke: the event must be what a JSON payload decodes to "
            f"(dicts, lists, strings, numbers, booleans, None); {error}"
        ) from None
    if context is None:
        context = LambdaContext()
    result = await anyio.to_thread.run_sync(functools.partial(handler, event, context))
    return _as_sent(result)


def _as_sent(result: Any) -> Any:
    """``result`` as the caller receives it: encoded as awslambdaric encodes it, then decoded."""
    if isinstance(result, bytes):
        return result
    try:
        return json.loads(json.dumps(result, default=_decimal, allow_nan=True))
    except (TypeError, ValueError) as error:
        if inspect.iscoroutine(result):
            result.close()  # reported here; no "never awaited" warning on top
        raise TypeError(
            "lambda_warmup.testing.invoke: Lambda's runtime would fail this invocation with "
            f"Runtime.MarshalError: Unable to marshal response: {error}"
        ) from None


def _decimal(value: object) -> object:
    """awslambdaric writes a ``Decimal`` as its digits (NaN as NaN); the caller reads a number."""
    if isinstance(value, decimal.Decimal):
        return math.nan if value.is_nan() else json.loads(str(value))
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# -- the warmup fixture -------------------------------------------------------------------------
class WarmupFixture:
    """What the ``warmup`` fixture gives a test: ``lambda_warmup.default_warmup``, afresh, on the
    test's own event loop.

    ``warm_init``, ``warm_handler``, ``warm_shutdown`` and ``run`` are bound to that object when
    your handler module imports them, so it is the object's state that is new for the test (and
    put back after it). A ``Warmup()`` of your own is not affected.
    """

    def __init__(self, warmup: Warmup, settings: Settings) -> None:
        self.warmup = warmup
        self._settings = settings
        self._loop = BorrowedLoop()
        self._event_loop: object = None
        self._saved_state: dict[str, Any] = {}
        self._modules_before: dict[str, types.ModuleType] = {}

    @property
    def handles(self) -> tuple[InitHandle[Any], ...]:
        """The test's inits (``InitHandle``), in declaration order."""
        return self.warmup.handles

    async def load(self, module: str) -> types.ModuleType:
        """Import ``module`` (your handler module) afresh, as the runtime imports it at INIT.

        It is imported in a worker thread, as Lambda's runtime imports it off the warm loop: its
        ``@warm_init`` functions start on this test's loop at once and run while the rest of the
        module imports. Returns once the import is done (INIT without the extension's hold);
        ``await warmup.wait_inits_settled()`` waits for the inits too. Use the module it returns:
        one your test file imported at its top is not this test's. A module this test imported
        already is returned as it is, as ``import`` would.
        """
        import asyncio

        if asyncio.get_running_loop() is not self._event_loop:
            raise RuntimeError(
                "lambda_warmup.testing: this test runs on another event loop than its warmup "
                "fixture; give them the same loop scope (asyncio_default_fixture_loop_scope, or "
                "the test's @pytest.mark.asyncio(loop_scope=...))"
            )
        imported = sys.modules.get(module)
        if imported is not None and imported is not self._modules_before.get(module):
            return imported  # this test's already
        # Modules that declared inits before the test (a test file's top-level import) run
        # again, so that their inits are this test's.
        for name in (module, *self._saved_state.get("_declaring_modules", ())):
            if name != "__main__":
                sys.modules.pop(name, None)
        return await anyio.to_thread.run_sync(importlib.import_module, module)

    async def wait_inits_settled(self) -> None:
        """Wait until every init declared so far has settled (as INIT with the extension's hold
        does); an init's failure is not raised here: see its handle, or invoke the handler."""
        await self.warmup.wait_inits_settled()

    async def _begin(self) -> None:
        import asyncio

        self._event_loop = asyncio.get_running_loop()
        await self._loop.start()
        self._modules_before = dict(sys.modules)
        # The same object, a new state: modules bound ``warm_init = default_warmup.init`` at
        # their import, so only the object's attributes can be swapped (and put back after).
        self._saved_state = vars(self.warmup).copy()
        vars(self.warmup).clear()
        try:
            Warmup.__init__(self.warmup, self._settings, loop=self._loop)
        except BaseException:
            vars(self.warmup).update(self._saved_state)
            await self._loop.stop()
            raise

    async def _end(self) -> None:
        try:
            # Inits still running (a test that failed early) may finish; past the grace they are
            # cancelled, before the teardowns of the inits they await.
            with anyio.move_on_after(SETTLE_GRACE):
                await self.warmup.wait_inits_settled()
            for handle in self.warmup.handles:
                if not handle.done():
                    self._loop.cancel(handle.run)
            with anyio.CancelScope(shield=True):
                finished = await self.warmup._teardown_all(TEARDOWN_BUDGET)
        finally:
            try:
                await self._loop.stop()
            finally:
                vars(self.warmup).clear()
                vars(self.warmup).update(self._saved_state)
                _restore_modules(self._modules_before)
        if not finished:
            pytest.fail(
                f"lambda-warmup: the shutdown hooks and init teardowns did not finish within "
                f"{TEARDOWN_BUDGET:g} s after the test (the warning above names the one cut short)",
                pytrace=False,
            )


def _restore_modules(before: dict[str, types.ModuleType]) -> None:
    """Put ``sys.modules`` back for the next test: the modules the test replaced are restored,
    and those of your own code it imported are dropped (they hold its handles). Installed
    packages and the standard library stay: importing them twice can break them (numpy)."""
    for name, module in list(sys.modules.items()):
        if name not in before and _your_own(name, module):
            del sys.modules[name]
            _bind_in_parent(name, None, module)
    for name, module in before.items():
        if sys.modules.get(name) is not module:
            sys.modules[name] = module
            _bind_in_parent(name, module, None)


def _bind_in_parent(
    name: str, module: types.ModuleType | None, replaced: types.ModuleType | None
) -> None:
    """A package's attribute for its submodule follows ``sys.modules``: ``from app import db``
    reads the attribute, and would find a dropped module there."""
    parent_name, _, attribute = name.rpartition(".")
    parent = sys.modules.get(parent_name) if parent_name else None
    if parent is None:
        return
    if module is not None:
        setattr(parent, attribute, module)
    elif getattr(parent, attribute, None) is replaced:
        delattr(parent, attribute)


@functools.cache
def _installed_roots() -> tuple[Path, ...]:
    paths = sysconfig.get_paths()
    keys = ("stdlib", "platstdlib", "purelib", "platlib")
    return tuple(Path(paths[key]).resolve() for key in keys if key in paths)


def _your_own(name: str, module: types.ModuleType) -> bool:
    if name.partition(".")[0] in ("lambda_warmup", *sys.stdlib_module_names):
        return False
    filename = getattr(module, "__file__", None)
    if not filename:
        return False
    path = Path(filename).resolve()
    if {"site-packages", "dist-packages"} & set(path.parts):
        return False
    return not any(path.is_relative_to(root) for root in _installed_roots())


# -- fixtures -------------------------------------------------------------------------------------
@pytest.fixture
def warmup_settings() -> Settings:
    """The ``Settings`` of a test's ``warmup``: the environment's (``WARMUP_*``), without a Lambda
    runtime's SIGTERM handler and SnapStart hooks, and without a report (no extension holds a
    test). Override this fixture to give your own."""
    return dataclasses.replace(Settings.from_env(), in_lambda=False, extension_expected=False)


@pytest_asyncio.fixture
async def warmup(
    request: pytest.FixtureRequest, warmup_settings: Settings
) -> AsyncIterator[WarmupFixture]:
    """``lambda_warmup.default_warmup`` afresh for this test, on the test's event loop."""
    if not inspect.iscoroutinefunction(request.function):
        pytest.fail(
            f"{request.node.name}: the warmup fixture runs the inits on the test's event loop: "
            "use it in an async test (async def, marked @pytest.mark.asyncio)",
            pytrace=False,
        )
    fixture = WarmupFixture(default_warmup, warmup_settings)
    await fixture._begin()
    try:
        yield fixture
    finally:
        await fixture._end()


@pytest.fixture
def lambda_context() -> LambdaContext:
    """A new ``LambdaContext`` (its own request id, 30 s to its deadline)."""
    return LambdaContext()
