"""AWS's Runtime Interface Emulator as a second backend, for the conformance tests.

The RIE binary ships inside the aws-sam-cli wheel (``make .venv-sam/.installed``). It loads
extensions only from ``/opt/extensions``, so it runs in a private mount namespace where the layer
dir is bind-mounted on ``/opt`` (``unshare -m``; needs root). It initialises lazily, at the first
invoke. :func:`rie_unavailable` says why it cannot run here, or None.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambda_sandbox import runtime_venv
from tests.support.paths import REPO
from tests.support.ports import free_port

_ARCH = {"x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), "")


def rie_binary() -> Path | None:
    for site in sorted((REPO / ".venv-sam" / "lib").glob("python3*/site-packages")):
        path = site / "samcli" / "local" / "rapid" / f"aws-lambda-rie-{_ARCH}"
        if path.exists():
            return path
    return None


def rie_unavailable() -> str | None:
    """Why RIE cannot run here, or None."""
    if not _ARCH:
        return f"no RIE binary for {platform.machine()}"
    if rie_binary() is None:
        return "RIE not found: run `make .venv-sam/.installed` (it ships in the aws-sam-cli wheel)"
    if os.geteuid() != 0:
        return "RIE loads extensions only from /opt/extensions; binding a layer there needs root"
    if shutil.which("unshare") is None:
        return "unshare(1) not available"
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, timeout=10, check=False)
    if probe.returncode != 0:
        return f"cannot create a mount namespace: {probe.stderr.decode().strip()}"
    return None


@dataclass
class RieRun:
    invoke_port: int
    proc: subprocess.Popen[bytes]
    lines: list[str] = field(default_factory=list)

    def invoke(self, event: Any, timeout: float = 15.0) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.invoke_port, timeout=timeout)
        try:
            conn.request(
                "POST", "/2015-03-31/functions/function/invocations", json.dumps(event).encode()
            )
            resp = conn.getresponse()
            body = resp.read()
        finally:
            conn.close()
        return resp.status, json.loads(body) if body else None


@contextlib.contextmanager
def run_rie(
    code_dir: Path,
    handler: str,
    layers: list[Path],
    env: dict[str, str],
    timeout_s: float = 3.0,
    runtime: str = "python3.13",
) -> Iterator[RieRun]:
    """RIE serving one function; on exit SIGTERM (RIE sends SHUTDOWN), bounded, then SIGKILL."""
    binary = rie_binary()
    assert binary is not None, rie_unavailable()
    version = runtime.removeprefix("python")
    venv = runtime_venv(version)
    with tempfile.TemporaryDirectory(prefix="lambda-rie-") as tmp:
        root = Path(tmp)
        task, opt = root / "task", root / "opt"
        shutil.copytree(code_dir, task)
        opt.mkdir()
        for layer in layers:
            shutil.copytree(layer, opt, dirs_exist_ok=True)
        invoke_port, api_port = free_port(), free_port()
        full_env = {
            "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
            "PYTHONPATH": f"{task}:/opt/python:/opt/python/lib/{runtime}/site-packages",
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(timeout_s)),
            "AWS_LAMBDA_FUNCTION_NAME": "sandbox-test",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
            "TMPDIR": str(root),
            **env,
        }
        script = (
            f'mount --bind "{opt}" /opt && exec "{binary}" '
            f"--runtime-interface-emulator-address 127.0.0.1:{invoke_port} "
            f"--runtime-api-address 127.0.0.1:{api_port} python -m awslambdaric {handler}"
        )
        proc = subprocess.Popen(
            ["unshare", "-m", "sh", "-c", script],
            cwd=task,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        run = RieRun(invoke_port=invoke_port, proc=proc)

        def read() -> None:
            assert proc.stdout is not None
            for raw in proc.stdout:
                run.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            _wait_port(invoke_port, proc, run.lines)
            yield run
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            reader.join(timeout=5)
            assert proc.stdout is not None
            proc.stdout.close()


def _wait_port(port: int, proc: subprocess.Popen[bytes], lines: list[str]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"RIE exited with {proc.returncode}: {lines[-20:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise TimeoutError(f"RIE did not listen on 127.0.0.1:{port} within 10 s: {lines[-20:]}")
