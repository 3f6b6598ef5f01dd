"""lambda-warmup: finish async initialisation inside AWS Lambda's INIT phase.

```python
from lambda_warmup import warm_init, warm_handler

@warm_init
async def settings() -> dict: ...

@warm_handler
async def handler(event, context): ...
```
"""

from ._handles import InitHandle
from ._settings import Settings
from ._warmup import Warmup
from .exceptions import (
    AfterRestoreError,
    InitCycleError,
    InitFailedError,
    InitNotReadyError,
    InitTimeoutError,
    InitWaitTimeoutError,
    SettingsError,
    WarmupError,
)

__version__ = "0.1.0"

#: Exactly the names README.md documents (tests/unit/test_docs.py checks both ways).
__all__ = [
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

#: The process's own ``Warmup``: what ``warm_init`` and ``warm_handler`` register with.
default_warmup = Warmup()
warm_init = default_warmup.init
warm_handler = default_warmup.handler
warm_shutdown = default_warmup.on_shutdown
#: From sync code, ``run(fetch, 1)`` awaits ``fetch(1)`` on the warm loop, beside the inits' pools.
run = default_warmup.run

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = __name__  # reprs and docs show the public path
del _name, _obj
