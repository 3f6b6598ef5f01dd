"""Settings from environment variables, parsed once per process into a frozen ``Settings``.

A bad value never stops the function: it is logged as one line that names the variable, the
value and the accepted form, and the default is used instead.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from . import _constants as c
from . import _protocol
from .exceptions import SettingsError

logger = logging.getLogger("lambda_warmup")

DURATION_FORMS = "a number of milliseconds, or with a unit: 2500, 2500ms, 2.5s, 1m"


def parse_duration(name: str, raw: str) -> float:
    """Seconds in ``raw``, a duration in the form every duration setting takes.

    A bare number is milliseconds (the convention ``WARMING_TIMEOUT`` started with). The grammar
    is the extension's own (:func:`._protocol.parse_duration_ms`), so both read a value alike.
    """
    try:
        return _protocol.parse_duration_ms(raw) / 1000
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a duration; use {DURATION_FORMS}") from None


def parse_port(name: str, raw: str) -> int:
    """The port as the extension reads it (:func:`._protocol.parse_port`)."""
    try:
        return _protocol.parse_port(raw)
    except ValueError:
        raise SettingsError(
            f"{name}={raw!r} is not a port; use a whole number from 1 to 65535"
        ) from None


#: What turns an optional feature off, whatever its other forms.
OFF_WORDS = ("off", "0", "false", "none")


def _form(name: str, raw: str, forms: tuple[str, ...]) -> str:
    """Which of ``forms`` ``raw`` names (case and spaces aside; any of ``OFF_WORDS`` is ``off``)."""
    text = raw.strip().lower()
    if text in OFF_WORDS:
        return "off"
    if text in forms:
        return text
    raise SettingsError(f"{name}={raw!r} is not one of {', '.join(forms)}")


def parse_choice(forms: tuple[str, ...]) -> Callable[[str, str], bool]:
    """A parser of an on/off setting: ``forms[0]`` turns it on, ``off`` (or ``0``) leaves it off."""

    def parse(name: str, raw: str) -> bool:
        return _form(name, raw, forms) == forms[0]

    return parse


type Tracing = Literal["auto", "xray", "off"]


def parse_tracing(name: str, raw: str) -> Tracing:
    """``auto``, ``xray`` or ``off`` (also ``0``, ``false``, ``none``)."""
    form = _form(name, raw, c.TRACING_FORMS)
    return "xray" if form == "xray" else "auto" if form == "auto" else "off"


def parse_positive_int(name: str, raw: str) -> int:
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise SettingsError(f"{name}={raw!r} is not a count; use a whole number of 1 or more")
    return int(text)


@dataclass(frozen=True)
class Settings:
    """What the library reads from the environment. Tests build it directly."""

    port: int = c.DEFAULT_PORT
    #: Default per-attempt timeout of an init, in seconds (``None``: no timeout).
    init_timeout: float | None = None
    report_timeout: float = c.DEFAULT_REPORT_TIMEOUT
    #: ``WARMING_TIMEOUT`` is set and not zero, so an extension is holding INIT for the report.
    extension_expected: bool = False
    #: Worker processes that each send one report (several on Lambda Managed Instances).
    workers: int = 1
    #: ``_HANDLER`` (``module.function``): the report waits for that module's import to finish.
    handler: str | None = None
    #: ``AWS_LAMBDA_INITIALIZATION_TYPE`` (``on-demand`` when unset).
    init_type: str = c.ON_DEMAND
    #: ``AWS_LAMBDA_RUNTIME_API`` is set: the process is a Lambda runtime, so the SIGTERM
    #: handler, the SnapStart hooks and the INIT re-run marker are installed (never in tests
    #: that build ``Settings()`` themselves).
    in_lambda: bool = False
    #: Seconds for shutdown hooks and init teardowns after SIGTERM.
    shutdown_timeout: float = c.DEFAULT_SHUTDOWN_TIMEOUT
    #: Seconds for the after-restore hooks (SnapStart).
    restore_timeout: float = c.DEFAULT_RESTORE_TIMEOUT
    #: ``WARMUP_METRICS=emf``: one EMF document when the inits settle.
    metrics: bool = False
    #: The EMF document's namespace and ``service`` dimension (Powertools' variables).
    metrics_namespace: str = c.DEFAULT_METRICS_NAMESPACE
    service: str = c.DEFAULT_SERVICE_NAME
    #: One X-Ray subsegment per init, at the first traced invocation: ``xray`` always, ``auto``
    #: when the function has loaded the X-Ray SDK (Powertools' Tracer does), ``off`` never.
    tracing: Tracing = "auto"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        defaults = cls()

        def read[T](name: str, parse: Callable[[str, str], T], default: T) -> T:
            raw = env.get(name, "")
            if not raw.strip():
                return default
            try:
                return parse(name, raw)
            except SettingsError as error:
                logger.error("lambda-warmup: %s; using the default, %s", error, _shown(default))
                return default

        init_timeout = read(c.WARMUP_INIT_TIMEOUT, parse_duration, None)
        workers = 1
        if env.get(c.AWS_LAMBDA_INITIALIZATION_TYPE) == c.LAMBDA_MANAGED_INSTANCES:
            workers = read(c.AWS_LAMBDA_MAX_CONCURRENCY, parse_positive_int, 1)
        return cls(
            port=read(c.WARMUP_PORT, parse_port, defaults.port),
            init_timeout=init_timeout or None,
            report_timeout=read(c.WARMUP_REPORT_TIMEOUT, parse_duration, defaults.report_timeout),
            extension_expected=_hold_requested(env.get(c.WARMING_TIMEOUT, "")),
            workers=workers,
            handler=env.get(c.HANDLER) or None,
            init_type=env.get(c.AWS_LAMBDA_INITIALIZATION_TYPE, "").strip() or c.ON_DEMAND,
            in_lambda=bool(env.get(c.AWS_LAMBDA_RUNTIME_API, "").strip()),
            shutdown_timeout=read(
                c.WARMUP_SHUTDOWN_TIMEOUT, parse_duration, defaults.shutdown_timeout
            ),
            restore_timeout=read(
                c.WARMUP_RESTORE_TIMEOUT, parse_duration, defaults.restore_timeout
            ),
            metrics=read(c.WARMUP_METRICS, parse_choice(c.METRICS_FORMS), False),
            metrics_namespace=env.get(c.POWERTOOLS_METRICS_NAMESPACE, "").strip()
            or c.DEFAULT_METRICS_NAMESPACE,
            service=env.get(c.POWERTOOLS_SERVICE_NAME, "").strip() or c.DEFAULT_SERVICE_NAME,
            tracing=read(c.WARMUP_TRACING, parse_tracing, defaults.tracing),
        )


def _hold_requested(raw: str) -> bool:
    """Whether ``WARMING_TIMEOUT`` asks the extension to hold (its own parser judges the form)."""
    try:
        return parse_duration(c.WARMING_TIMEOUT, raw) > 0
    except SettingsError:
        # A malformed value is the extension's to report; a report costs nothing to send then.
        return bool(raw.strip())


def _shown(default: object) -> str:
    """A default as a log line shows it: ``9779``, ``2 s``, ``no timeout``."""
    if isinstance(default, bool):
        return "off" if not default else "on"
    if default is None:
        return "no timeout"
    if isinstance(default, float):
        return f"{default:g} s"
    return str(default)
