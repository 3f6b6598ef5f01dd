"""A local AWS Lambda execution environment (Runtime + Extensions API, lifecycle, CLI).

Runs a function the way Lambda does, from real processes: the layers' extensions, the real
runtime client ``awslambdaric`` and the user's handler. Never shipped in the layer, never imported
by ``lambda_warmup`` or ``extension_entry``. See ``lambda_sandbox/README.md``.
"""

from ._criu import SnapshotUnavailableError, find_criu
from ._postgres import LocalPostgres, PostgresError
from ._runtime_venv import RuntimeSetupError, dependencies_layer, runtime_venv
from ._sandbox import FunctionSpec, InitResult, InitType, InvokeResult, Sandbox, SandboxError
from ._template import Template, TemplateError, load_template
from ._timeline_html import write_timeline

__all__ = [
    "FunctionSpec",
    "InitResult",
    "InitType",
    "InvokeResult",
    "LocalPostgres",
    "PostgresError",
    "RuntimeSetupError",
    "Sandbox",
    "SandboxError",
    "SnapshotUnavailableError",
    "Template",
    "TemplateError",
    "dependencies_layer",
    "find_criu",
    "load_template",
    "runtime_venv",
    "write_timeline",
]
