"""The app served by ``warm_asgi``: its lifespan runs once, in INIT."""

from lambda_warmup.asgi import warm_asgi

from .app import app

handler = warm_asgi(app)
