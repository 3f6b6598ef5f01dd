"""The hold as a CloudWatch Embedded Metric Format document (``WARMUP_METRICS=emf``).

One document when the hold ends: ``InitHeld`` (Milliseconds), how long the extension kept INIT
open after its hold started, in the namespace ``POWERTOOLS_METRICS_NAMESPACE`` with the
dimension ``service`` (``POWERTOOLS_SERVICE_NAME``), as the library's own document; ``HeldBy``
says what ended it (``report``, ``timeout``, ``budget``) and ``InitType`` the initialization
type, both plain members, not dimensions. The library's document has the inits' metrics: only
the extension knows how long it held INIT. Written with :mod:`._log`'s encoder (no ``json``).
"""

from __future__ import annotations

import time

from ._log import _quote, _value

TYPE_CHECKING = False  # mypy reads True
if TYPE_CHECKING:
    from ._settings import Settings


def held_document(held_ms: float, cause: str, settings: Settings) -> str:
    """The document, as one line of JSON."""
    directive = (
        f'{{"Namespace":{_quote(settings.metrics_namespace)},"Dimensions":[["service"]],'
        '"Metrics":[{"Name":"InitHeld","Unit":"Milliseconds"}]}'
    )
    return (
        f'{{"_aws":{{"Timestamp":{int(time.time() * 1000)},"CloudWatchMetrics":[{directive}]}},'
        f'"service":{_quote(settings.service)},"InitType":{_quote(settings.init_type)},'
        f'"HeldBy":{_quote(cause)},"InitHeld":{_value(float(held_ms))}}}'
    )
