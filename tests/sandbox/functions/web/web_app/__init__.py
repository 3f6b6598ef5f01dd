"""ASGI functions: one Starlette app, served by warm_asgi (warm) or by Mangum (per_invocation)."""
