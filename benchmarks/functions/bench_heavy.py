"""A heavy import: ~0.3-0.5 s of CPU in the module's body, as a big library's import is.

Pure Python bytecode (the GIL is held throughout, as while a large package's modules execute).
``BENCH_HEAVY_ITERATIONS`` sets the amount of work; ``IMPORT_S`` is what this import took.
"""

from __future__ import annotations

import os
import time

_started = time.perf_counter()
_total = 0
for _i in range(int(os.environ.get("BENCH_HEAVY_ITERATIONS", "5000000"))):
    _total += _i * _i % 7
CHECKSUM = _total
#: Seconds this module's body took.
IMPORT_S = time.perf_counter() - _started
