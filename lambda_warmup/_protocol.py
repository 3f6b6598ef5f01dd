"""What the library and the extension must agree on, in one place.

The ``lambda-warmup/1`` report's address, format and size limit; the variables both processes
read, and how both read them (one duration grammar, one port form); Lambda's INIT limits.

This file exists twice, byte for byte: ``extension_entry/_protocol.py`` is the source and
``lambda_warmup/_protocol.py`` a copy. The function's process cannot import ``extension_entry``
(on Lambda only ``/opt/python`` is on its ``sys.path``), and the extension loads nothing of the
library (the standard library only). Edit the source, then
``cp extension_entry/_protocol.py lambda_warmup/_protocol.py``: ``tests/unit/test_protocol.py``
fails while the two differ, and ``layer/Makefile`` refuses to build a layer from them.

Both sides import it on their critical path (the extension before ``register``, the library at
``import lambda_warmup``), so it imports nothing and holds only constants and two parsers.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ms to import in the extension; mypy reads True
if TYPE_CHECKING:
    from typing import Final

# -- The report (README: "The report") -------------------------------------------------------
REPORT_FORMAT: Final = "lambda-warmup/1"
#: The extension listens on this address only: nothing outside the sandbox can report.
REPORT_HOST: Final = "127.0.0.1"
REPORT_PATH: Final = "/report"
#: The largest body the extension accepts (413 above it); the library cuts its report to fit.
MAX_REPORT_BYTES: Final = 64 * 1024
#: A report's ``status``, and each init's.
REPORT_STATUSES: Final = ("ok", "failed")
#: The most ``workers`` a report may announce (the extension answers 400 above it).
MAX_REPORT_WORKERS: Final = 4096

# -- Variables both processes read -----------------------------------------------------------
#: The report port on :data:`REPORT_HOST`, read with :func:`parse_port`. No common Lambda
#: component uses 9779 (8080, 9001, 3000, 2772, 2773 are taken).
WARMUP_PORT: Final = "WARMUP_PORT"
DEFAULT_PORT: Final = 9779
#: The extension's hold, read with :func:`parse_duration_ms`; the library reports only when it
#: is set and not zero.
WARMING_TIMEOUT: Final = "WARMING_TIMEOUT"
AWS_LAMBDA_INITIALIZATION_TYPE: Final = "AWS_LAMBDA_INITIALIZATION_TYPE"

# -- Lambda's INIT limits, by initialization type --------------------------------------------
ON_DEMAND: Final = "on-demand"
PROVISIONED_CONCURRENCY: Final = "provisioned-concurrency"
SNAP_START: Final = "snap-start"
LAMBDA_MANAGED_INSTANCES: Final = "lambda-managed-instances"
#: On-demand, the whole INIT (extensions, runtime, function init) must end within 10 s.
ON_DEMAND_INIT_LIMIT_S: Final = 10
#: The other types allow max(130 s, function timeout).
LONG_INIT_LIMIT_S: Final = 130
LONG_INIT_TYPES: Final = (PROVISIONED_CONCURRENCY, SNAP_START, LAMBDA_MANAGED_INSTANCES)

# -- How both read a value -------------------------------------------------------------------
_UNIT_MS = (("ms", 1.0), ("s", 1000.0), ("m", 60_000.0))
_DIGITS = frozenset("0123456789")


def parse_duration_ms(raw: str) -> float:
    """Milliseconds in ``raw``; ``ValueError`` for anything but the one duration form.

    A bare number is milliseconds, or give a unit, ``ms``, ``s`` or ``m``, lower case (``M``
    could be read as "mega"). Digits are ASCII, with an optional decimal fraction. Spaces around
    the value and between number and unit are ignored. Signs (``-1``, ``+5``), exponents
    (``1e4``), ``inf``/``nan``, a bare unit, a leading or trailing dot (``.5s``, ``5.``) and any
    other unit (``1h``) are errors. No ``re``: the extension parses before ``register``.

    >>> [parse_duration_ms(v) for v in ("2500", "2500ms", "2.5s", "1m", " 3 s ", "0")]
    [2500.0, 2500.0, 2500.0, 60000.0, 3000.0, 0.0]
    """
    text = raw.strip()
    scale = 1.0
    for unit, unit_ms in _UNIT_MS:
        if text.endswith(unit):
            text = text[: -len(unit)].rstrip()
            scale = unit_ms
            break
    whole, dot, fraction = text.partition(".")
    if not whole or not _DIGITS.issuperset(whole) or (dot and not fraction):
        raise ValueError(f"not a duration: {raw!r}")
    if not _DIGITS.issuperset(fraction):
        raise ValueError(f"not a duration: {raw!r}")
    return float(text) * scale


def parse_port(raw: str) -> int:
    """A TCP port, 1 to 65535, in ASCII digits (spaces around ignored); ``ValueError`` else."""
    text = raw.strip()
    if not text or not _DIGITS.issuperset(text) or not 1 <= int(text) <= 65535:
        raise ValueError(f"not a port: {raw!r}")
    return int(text)
