"""Every setting name and default of lambda-warmup, in one place.

The README's settings table is checked against this module by a test.
"""

from typing import Final

# -- Settings read by the library (the function's process) ---------------------------------
#: Port on 127.0.0.1 where the extension listens for the completion report.
WARMUP_PORT: Final = "WARMUP_PORT"
DEFAULT_PORT: Final = 9779

#: Default per-attempt timeout of every ``@warm_init``, in seconds; unset means no timeout.
WARMUP_INIT_TIMEOUT: Final = "WARMUP_INIT_TIMEOUT"

#: Seconds the report may take to reach the extension before it is given up (one log line).
WARMUP_REPORT_TIMEOUT: Final = "WARMUP_REPORT_TIMEOUT"
DEFAULT_REPORT_TIMEOUT: Final = 2.0

#: The extension's hold (read by the extension). The library only looks at whether it is set,
#: to decide whether a report is expected and how loudly to log one that cannot be delivered.
WARMING_TIMEOUT: Final = "WARMING_TIMEOUT"

# -- Lambda's own variables ------------------------------------------------------------------
AWS_LAMBDA_INITIALIZATION_TYPE: Final = "AWS_LAMBDA_INITIALIZATION_TYPE"
AWS_LAMBDA_MAX_CONCURRENCY: Final = "AWS_LAMBDA_MAX_CONCURRENCY"
HANDLER: Final = "_HANDLER"
LAMBDA_MANAGED_INSTANCES: Final = "lambda-managed-instances"

# -- Protocol and timing constants -----------------------------------------------------------
REPORT_FORMAT: Final = "lambda-warmup/1"
REPORT_PATH: Final = "/report"
#: Longest error text per init in the report; the full traceback goes to the function's log.
REPORT_ERROR_CHARS: Final = 500

#: ``@warm_handler`` stops waiting for inits this long before the invocation's deadline, so the
#: runtime can still post a clear error instead of Lambda's bare "Task timed out".
HANDLER_DEADLINE_MARGIN: Final = 0.1

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
