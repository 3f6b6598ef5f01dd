"""Design (a): everything at import, one step after the other (the plain Lambda way)."""

from __future__ import annotations

import time
from typing import Any

import bench_heavy
from bench_wire import get_sync, path

_started = time.perf_counter()
config, config_s = get_sync(path("config"))
api, api_s = get_sync(path("api"))  # needs config
catalog, catalog_s = get_sync(path("catalog"))
INITS_S = time.perf_counter() - _started


def handler(event: Any, context: Any) -> dict[str, Any]:
    return {
        "import_s": bench_heavy.IMPORT_S,
        "steps_s": {"config": config_s, "api": api_s, "catalog": catalog_s},
        "inits_s": INITS_S,
    }
