"""ASGI (b), (c): the same app served by Mangum 0.22.

``handler`` (b): ``lifespan="auto"``, Mangum's default: the lifespan, so the pool's connect and
close, runs around every invocation, on a loop of its own. ``no_lifespan`` (c):
``lifespan="off"``, the adapter's own cost (the app then has no pool: the trivial route only).
"""

from __future__ import annotations

from bench_asgi_app import app
from mangum import Mangum

handler = Mangum(app)
no_lifespan = Mangum(app, lifespan="off")
