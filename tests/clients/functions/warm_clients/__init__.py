"""A function with an httpx and an aiobotocore client made in INIT: ``warm_clients.plain``
without after-restore recipes, ``warm_clients.recipes`` with README.md's."""
