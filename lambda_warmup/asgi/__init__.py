"""ASGI apps (FastAPI, Starlette...) as Lambda handlers, served on the warm loop.

```python
from fastapi import FastAPI
from lambda_warmup.asgi import warm_asgi

app = FastAPI(lifespan=lifespan)
handler = warm_asgi(app)
```

Not imported by ``import lambda_warmup``: only a function that serves an app pays for it.
"""

from ._app import LambdaHandler, warm_asgi
from ._bodies import DEFAULT_TEXT_MEDIA_TYPES
from ._errors import LifespanError, UnsupportedEventError
from ._types import ASGIApp, LifespanMode

__all__ = [
    "DEFAULT_TEXT_MEDIA_TYPES",
    "ASGIApp",
    "LambdaHandler",
    "LifespanError",
    "LifespanMode",
    "UnsupportedEventError",
    "warm_asgi",
]

for _name in ("LifespanError", "UnsupportedEventError"):
    globals()[_name].__module__ = __name__  # reprs and tracebacks show the public path
del _name
