"""Lambda's file system and environment variables, relocated under the sandbox's work dir.

``/var/task`` is ``<root>/var/task``, ``/opt`` is ``<root>/opt`` (the layers merged in order),
``/tmp`` is ``<root>/tmp``; the environment is the one Lambda gives, pointed at those.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from ._spec import FunctionSpec, InitType, SandboxError

__all__ = ["copy_layout", "lambda_environment"]

_EXTENSION_ENV_EXCLUDED = frozenset(
    {
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_XRAY_CONTEXT_MISSING",
        "AWS_XRAY_DAEMON_ADDRESS",
        "LAMBDA_RUNTIME_DIR",
        "LAMBDA_TASK_ROOT",
        "_AWS_XRAY_DAEMON_ADDRESS",
        "_AWS_XRAY_DAEMON_PORT",
        "_HANDLER",
    }
)
"""What Lambda hides from extensions."""


def copy_layout(
    spec: FunctionSpec, task_root: Path, opt_dir: Path, tmp_dir: Path, *, copy: bool
) -> None:
    """The function's code in ``task_root``, its layers merged into ``opt_dir``, an empty /tmp."""
    if not (spec.code_dir / ".").is_dir():
        raise SandboxError(f"function code dir {spec.code_dir} does not exist")
    # Hard links unless asked to copy: ~7x faster for a layer of a few hundred files, and as
    # isolated as Lambda needs (new files, .pyc included, land in our tree only). The one
    # thing not isolated is writing into an existing file, which Lambda's read-only
    # /var/task and /opt refuse anyway.
    copy_file: Callable[[str, str], object] = shutil.copy2 if copy else _link_or_copy
    shutil.copytree(spec.code_dir, task_root, symlinks=True, copy_function=copy_file)
    opt_dir.mkdir(parents=True)
    tmp_dir.mkdir(parents=True)
    for layer in spec.layers:
        if not layer.is_dir():
            raise SandboxError(f"layer dir {layer} does not exist")
        shutil.copytree(layer, opt_dir, symlinks=True, dirs_exist_ok=True, copy_function=copy_file)


def lambda_environment(
    spec: FunctionSpec,
    *,
    task_root: Path,
    opt_dir: Path,
    tmp_dir: Path,
    venv: Path,
    init_type: InitType,
    runtime_api: str,
) -> tuple[dict[str, str], dict[str, str]]:
    """(runtime env, extension env) as Lambda builds them, with paths relocated."""
    pyver = spec.python_version
    stream = datetime.now(UTC).strftime("%Y/%m/%d") + f"/[{spec.version}]{secrets.token_hex(16)}"
    env: dict[str, str] = {
        # Lambda: /var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin
        "PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin:{opt_dir / 'bin'}",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONPATH": ":".join(
            [
                str(task_root),
                str(opt_dir / "python"),
                str(opt_dir / "python" / "lib" / f"python{pyver}" / "site-packages"),
            ]
        ),
        "TMPDIR": str(tmp_dir),
    }
    env.update(spec.environment)
    env.update(
        {
            "AWS_LAMBDA_RUNTIME_API": runtime_api,
            "_HANDLER": spec.handler,
            "AWS_LAMBDA_INITIALIZATION_TYPE": init_type,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "LAMBDA_TASK_ROOT": str(task_root),
            "LAMBDA_RUNTIME_DIR": str(venv),
            "AWS_ACCESS_KEY_ID": "ASIASANDBOXSANDBOX00",
            "AWS_SECRET_ACCESS_KEY": "sandbox-secret-access-key-not-a-real-one",
            "AWS_SESSION_TOKEN": "sandbox-session-token",
        }
    )
    if init_type != "snap-start":  # not available in SnapStart functions
        env["AWS_LAMBDA_LOG_GROUP_NAME"] = f"/aws/lambda/{spec.name}"
        env["AWS_LAMBDA_LOG_STREAM_NAME"] = stream
    ext_env = {k: v for k, v in env.items() if k not in _EXTENSION_ENV_EXCLUDED}
    return env, ext_env


def _link_or_copy(src: str, dst: str) -> object:
    try:
        if os.path.lexists(dst):  # a later layer overrides an earlier one's file
            os.unlink(dst)
        os.link(src, dst)
    except OSError:  # another file system, or links not allowed
        return shutil.copy2(src, dst)
    return dst
