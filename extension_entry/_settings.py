"""The extension's settings, read once from the environment.

============================== ========== ===================================================
Variable                       Default    Accepted values
============================== ========== ===================================================
``WARMING_TIMEOUT``            unset      longest hold: a bare number is milliseconds; or a
                                          number with ``ms``, ``s`` or ``m``: ``2500``,
                                          ``2500ms``, ``2.5s``, ``1m``. Unset, empty or zero:
                                          no hold.
``WARMUP_PORT``                ``9779``   report listener port on 127.0.0.1, 1-65535; the
                                          library reads the same variable.
``AWS_LAMBDA_INITIALIZATION_TYPE`` (Lambda) ``on-demand`` (or unset) gets the 10 s INIT budget;
                                          ``provisioned-concurrency``, ``snap-start``,
                                          ``lambda-managed-instances`` the 130 s one.
``AWS_LAMBDA_RUNTIME_API``     (Lambda)   ``host:port`` of the Extensions API.
``AWS_LAMBDA_LOG_FORMAT``      (Lambda)   ``JSON``: each line one JSON object; else text.
``AWS_LAMBDA_LOG_LEVEL``       (Lambda)   lines below it are dropped (``TRACE``, ``DEBUG``,
                                          ``INFO``, ``WARN``, ``ERROR``, ``FATAL``); unset:
                                          every line.
``WARMUP_METRICS``             ``off``    ``emf``: one EMF document with ``InitHeld`` when
                                          the hold ends (namespace and ``service`` from
                                          ``POWERTOOLS_METRICS_NAMESPACE`` and
                                          ``POWERTOOLS_SERVICE_NAME``, as the library's).
============================== ========== ===================================================

Durations take the one form both processes read alike, :func:`._protocol.parse_duration_ms`
(a bare number is milliseconds; ``ms``, ``s``, ``m``, lower case; no signs or exponents).
Decisions where the issue is silent:

- Any spelling of zero (``0``, ``0ms``, ``0.0s``) means no hold, like unset.
- A bad ``WARMING_TIMEOUT`` logs one error line and means no hold (the function keeps serving); a
  bad ``WARMUP_PORT`` logs one error line and the default port is used.
- An unknown ``AWS_LAMBDA_INITIALIZATION_TYPE`` logs one line and gets the on-demand budget: the
  shorter limit is the safe guess.

``_WARMUP_INIT_LIMIT_MS`` (undocumented, for tests only) replaces the 10 000 ms on-demand INIT
limit so a test can reach the budget without sleeping 10 s.
"""

from __future__ import annotations

# Re-exported (``as``): the names this module's readers have always found here.
from ._protocol import AWS_LAMBDA_INITIALIZATION_TYPE as AWS_LAMBDA_INITIALIZATION_TYPE
from ._protocol import DEFAULT_PORT as DEFAULT_PORT
from ._protocol import LONG_INIT_TYPES as LONG_INIT_TYPES
from ._protocol import ON_DEMAND as ON_DEMAND
from ._protocol import WARMING_TIMEOUT as WARMING_TIMEOUT
from ._protocol import WARMUP_PORT as WARMUP_PORT
from ._protocol import parse_duration_ms as parse_duration_ms
from ._protocol import parse_port as parse_port

TYPE_CHECKING = False  # collections.abc costs ~1 ms to import; mypy reads True
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

AWS_LAMBDA_RUNTIME_API = "AWS_LAMBDA_RUNTIME_API"
AWS_LAMBDA_LOG_FORMAT = "AWS_LAMBDA_LOG_FORMAT"
AWS_LAMBDA_LOG_LEVEL = "AWS_LAMBDA_LOG_LEVEL"
WARMUP_METRICS = "WARMUP_METRICS"
POWERTOOLS_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"
POWERTOOLS_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
DEFAULT_METRICS_NAMESPACE = "lambda-warmup"
DEFAULT_SERVICE_NAME = "service_undefined"
INIT_LIMIT_OVERRIDE = "_WARMUP_INIT_LIMIT_MS"

DURATION_FORMS = (
    "a number of milliseconds, or a number with a unit: 2500, 2500ms, 2.5s, 1m "
    "(unset, empty or 0: no hold)"
)
PORT_FORMS = "a whole number from 1 to 65535"


class Settings:
    """What the extension reads from the environment; tests may build it directly."""

    __slots__ = (
        "init_limit_ms",
        "init_type",
        "metrics",
        "metrics_namespace",
        "port",
        "runtime_api",
        "service",
        "timeout_ms",
        "timeout_raw",
        "timeout_valid",
    )

    def __init__(
        self,
        *,
        runtime_api: str | None = None,
        timeout_raw: str = "",
        timeout_ms: float = 0.0,
        timeout_valid: bool = True,
        port: int = DEFAULT_PORT,
        init_type: str = ON_DEMAND,
        init_limit_ms: float | None = None,
        metrics: bool = False,
        metrics_namespace: str = DEFAULT_METRICS_NAMESPACE,
        service: str = DEFAULT_SERVICE_NAME,
    ) -> None:
        #: ``host:port`` of the Extensions API, ``None`` when unset.
        self.runtime_api = runtime_api
        #: ``WARMING_TIMEOUT`` as set (stripped), for log lines.
        self.timeout_raw = timeout_raw
        #: The hold asked for, in ms; 0 means no hold (unset, zero, or invalid).
        self.timeout_ms = timeout_ms
        #: False when ``WARMING_TIMEOUT`` was set to something unreadable.
        self.timeout_valid = timeout_valid
        self.port = port
        #: ``on-demand`` or one of :data:`LONG_INIT_TYPES` (an unknown type reads as on-demand).
        self.init_type = init_type
        #: Test-only replacement for the on-demand INIT limit, in ms.
        self.init_limit_ms = init_limit_ms
        #: ``WARMUP_METRICS=emf``: an EMF document (``InitHeld``) when the hold ends.
        self.metrics = metrics
        self.metrics_namespace = metrics_namespace
        self.service = service


def read_settings(environ: Mapping[str, str], log: Callable[[str], None]) -> Settings:
    """Parse the environment once; each bad value is one ``log`` line, never an exception."""
    timeout_raw = environ.get(WARMING_TIMEOUT, "").strip()
    timeout_ms = 0.0
    timeout_valid = True
    if timeout_raw:
        try:
            timeout_ms = parse_duration_ms(timeout_raw)
        except ValueError:
            timeout_valid = False
            log(
                f"error: {WARMING_TIMEOUT}={timeout_raw!r} is not a duration; accepted: "
                f"{DURATION_FORMS}; using no hold instead"
            )

    port = DEFAULT_PORT
    port_raw = environ.get(WARMUP_PORT, "")
    if port_raw.strip():
        try:
            port = parse_port(port_raw)
        except ValueError:
            log(
                f"error: {WARMUP_PORT}={port_raw!r} is not a port; accepted: {PORT_FORMS}; "
                f"using the default, {DEFAULT_PORT}, instead"
            )

    init_type = environ.get(AWS_LAMBDA_INITIALIZATION_TYPE, "").strip() or ON_DEMAND
    if init_type != ON_DEMAND and init_type not in LONG_INIT_TYPES:
        log(
            f"error: {AWS_LAMBDA_INITIALIZATION_TYPE}={init_type!r} is unknown; accepted: "
            f"{', '.join((ON_DEMAND, *LONG_INIT_TYPES))}; using the on-demand INIT budget instead"
        )
        init_type = ON_DEMAND

    init_limit_ms = None
    limit_raw = environ.get(INIT_LIMIT_OVERRIDE, "")
    if limit_raw.strip():
        try:
            init_limit_ms = parse_duration_ms(limit_raw)
        except ValueError:
            log(f"error: {INIT_LIMIT_OVERRIDE}={limit_raw!r} ignored; accepted: {DURATION_FORMS}")

    metrics = False
    metrics_raw = environ.get(WARMUP_METRICS, "").strip().lower()
    if metrics_raw == "emf":
        metrics = True
    elif metrics_raw not in ("", "off", "0", "false", "none"):
        log(f"error: {WARMUP_METRICS}={metrics_raw!r} is not one of emf, off; using off instead")

    return Settings(
        metrics=metrics,
        metrics_namespace=environ.get(POWERTOOLS_METRICS_NAMESPACE, "").strip()
        or DEFAULT_METRICS_NAMESPACE,
        service=environ.get(POWERTOOLS_SERVICE_NAME, "").strip() or DEFAULT_SERVICE_NAME,
        runtime_api=environ.get(AWS_LAMBDA_RUNTIME_API, "").strip() or None,
        timeout_raw=timeout_raw,
        timeout_ms=timeout_ms,
        timeout_valid=timeout_valid,
        port=port,
        init_type=init_type,
        init_limit_ms=init_limit_ms,
    )


def log_format_json(environ: Mapping[str, str]) -> bool:
    """``AWS_LAMBDA_LOG_FORMAT=JSON`` (any case), as awslambdaric reads it."""
    return environ.get(AWS_LAMBDA_LOG_FORMAT, "").strip().upper() == "JSON"


def log_level(environ: Mapping[str, str]) -> str:
    """``AWS_LAMBDA_LOG_LEVEL`` as one of :data:`._log.LEVELS` (``WARNING`` is ``WARN``);
    unset or unknown: ``TRACE``, every line."""
    level = environ.get(AWS_LAMBDA_LOG_LEVEL, "").strip().upper()
    level = {"WARNING": "WARN", "CRITICAL": "FATAL"}.get(level, level)
    return level if level in ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL") else "TRACE"
