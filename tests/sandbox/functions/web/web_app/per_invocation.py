"""The same app served by Mangum: its lifespan runs around every invocation."""

from mangum import Mangum

from .app import app

handler = Mangum(app)
