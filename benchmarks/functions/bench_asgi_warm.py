"""ASGI (a): the app served by ``warm_asgi``: its lifespan (the pool) starts once, in INIT, on the
warm loop; every request runs on that loop and uses the pool as INIT left it."""

from __future__ import annotations

from bench_asgi_app import app

from lambda_warmup.asgi import warm_asgi

handler = warm_asgi(app)
