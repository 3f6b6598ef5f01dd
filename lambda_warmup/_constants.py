"""Every setting name and default of lambda-warmup, in one place.

The README's settings table is checked against this module by a test. What the extension must
read the same way (the report's address, format and size, ``WARMUP_PORT``, ``WARMING_TIMEOUT``,
the initialization types and their INIT limits) comes from :mod:`._protocol`, the extension's own
module copied byte for byte.
"""

from typing import Final

from . import _protocol as p

# -- Settings read by the library (the function's process) ---------------------------------
#: Port on 127.0.0.1 where the extension listens for the completion report.
WARMUP_PORT: Final = p.WARMUP_PORT
DEFAULT_PORT: Final = p.DEFAULT_PORT

#: Default per-attempt timeout of every ``@warm_init``, in seconds; unset means no timeout.
WARMUP_INIT_TIMEOUT: Final = "WARMUP_INIT_TIMEOUT"

#: Seconds the report may take to reach the extension before it is given up (one log line).
WARMUP_REPORT_TIMEOUT: Final = "WARMUP_REPORT_TIMEOUT"
DEFAULT_REPORT_TIMEOUT: Final = 2.0

#: Seconds the shutdown hooks and init teardowns may take after SIGTERM. Lambda gives the runtime
#: 300 ms of its 2 s shutdown budget when an external extension is registered (the layer's is),
#: then SIGKILLs it; 250 ms leaves the rest for the log line and the exit.
WARMUP_SHUTDOWN_TIMEOUT: Final = "WARMUP_SHUTDOWN_TIMEOUT"
DEFAULT_SHUTDOWN_TIMEOUT: Final = 0.25

#: Seconds the after-restore hooks may take (SnapStart). Lambda allows 10 s for the runtime's
#: load and every after-restore hook; 9 s leaves room for the runtime and a clear error.
WARMUP_RESTORE_TIMEOUT: Final = "WARMUP_RESTORE_TIMEOUT"
DEFAULT_RESTORE_TIMEOUT: Final = 9.0

#: Telemetry, off unless asked for (README's "Telemetry"): ``emf`` writes one CloudWatch
#: Embedded Metric Format document when the inits settle; ``xray`` records one X-Ray subsegment
#: per init (at the first traced invocation). ``off`` (or unset): nothing is loaded.
WARMUP_METRICS: Final = "WARMUP_METRICS"
METRICS_FORMS: Final = ("emf", "off")
WARMUP_TRACING: Final = "WARMUP_TRACING"
TRACING_FORMS: Final = ("auto", "xray", "off")
#: Powertools' variables, read for the EMF document's namespace and ``service`` dimension.
POWERTOOLS_METRICS_NAMESPACE: Final = "POWERTOOLS_METRICS_NAMESPACE"
POWERTOOLS_SERVICE_NAME: Final = "POWERTOOLS_SERVICE_NAME"
#: Used when those are unset (Powertools' own default service name).
DEFAULT_METRICS_NAMESPACE: Final = "lambda-warmup"
DEFAULT_SERVICE_NAME: Final = "service_undefined"

#: The extension's hold (read by the extension). The library only looks at whether it is set,
#: to decide whether a report is expected and how loudly to log one that cannot be delivered.
WARMING_TIMEOUT: Final = p.WARMING_TIMEOUT

# -- Lambda's own variables ------------------------------------------------------------------
AWS_LAMBDA_INITIALIZATION_TYPE: Final = p.AWS_LAMBDA_INITIALIZATION_TYPE
AWS_LAMBDA_MAX_CONCURRENCY: Final = "AWS_LAMBDA_MAX_CONCURRENCY"
HANDLER: Final = "_HANDLER"
AWS_LAMBDA_RUNTIME_API: Final = "AWS_LAMBDA_RUNTIME_API"
ON_DEMAND: Final = p.ON_DEMAND
LAMBDA_MANAGED_INSTANCES: Final = p.LAMBDA_MANAGED_INSTANCES
SNAP_START: Final = p.SNAP_START

#: File in the sandbox's /tmp written when a process's first init starts. Found again by the
#: next process of the same sandbox before any invocation ran, it means Lambda re-runs INIT
#: (after an INIT timeout or error: the "suppressed init" inside the first invocation).
INIT_MARKER_NAME: Final = "lambda-warmup-init.json"
#: Lambda's INIT limits in seconds (on-demand; provisioned concurrency, SnapStart and Lambda
#: Managed Instances: max(this, function timeout)), named in the re-run warning.
ON_DEMAND_INIT_LIMIT: Final = float(p.ON_DEMAND_INIT_LIMIT_S)
LONG_INIT_LIMIT: Final = float(p.LONG_INIT_LIMIT_S)

# -- Protocol and timing constants -----------------------------------------------------------
REPORT_FORMAT: Final = p.REPORT_FORMAT
REPORT_HOST: Final = p.REPORT_HOST
REPORT_PATH: Final = p.REPORT_PATH
#: The extension refuses a larger report (413); the library cuts its report to fit.
MAX_REPORT_BYTES: Final = p.MAX_REPORT_BYTES
#: Longest error text per init in the report; the full traceback goes to the function's log.
REPORT_ERROR_CHARS: Final = 500

#: ``@warm_handler`` stops waiting for inits this long before the invocation's deadline, so the
#: runtime can still post a clear error instead of Lambda's bare "Task timed out".
HANDLER_DEADLINE_MARGIN: Final = 0.1

#: How long past its own bound a wait on the warm loop may take before the loop counts as
#: blocked (a blocking call in an async init); less than ``HANDLER_DEADLINE_MARGIN``.
LOOP_ANSWER_GRACE: Final = 0.07

#: Default first delay between retries of an init, in seconds; it doubles after each attempt.
DEFAULT_BACKOFF: Final = 0.1
#: Ceiling of the doubled retry delay.
MAX_BACKOFF: Final = 2.0

#: How often the import watcher checks whether the handler module has finished importing.
IMPORT_POLL_INTERVAL: Final = 0.002

#: Seconds the teardowns of inits may take when the interpreter exits normally.
EXIT_TEARDOWN_BUDGET: Final = 2.0

#: Name of the warm loop's thread, as seen in stack dumps and profilers.
LOOP_THREAD_NAME: Final = "lambda-warmup-loop"
