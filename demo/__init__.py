"""The lambda-warmup demo: the SAM-built sample, run in the local sandbox (``make demo``).

:mod:`demo.services` stands in for AWS and the quotes API (moto's server and a small HTTP API, on
127.0.0.1); :mod:`demo.runner` runs the built functions in :mod:`lambda_sandbox`, with and without
the extension's hold, as on-demand and as provisioned concurrency, and tabulates what a Lambda user
would see. ``python -m demo --help`` for the options.
"""
