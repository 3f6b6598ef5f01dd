"""Start-up figures of the extension: ``.venv/bin/python -m benchmarks.measure_extension``.

Each run starts the layer's launcher against the fake Extensions API, with a report listener
poller connecting in a tight loop, and reports the median over the runs of:

- process start (just before ``Popen``) -> ``register`` arrives at the API;
- process start -> the report listener accepts a connection;
- a report POSTed (client side, before connecting) -> ``event/next`` arrives at the API;
- RSS of the extension idle in ``event/next`` (``VmRSS``).

``--shell bash`` runs the launcher under bash (``/bin/sh`` on Amazon Linux 2023, which gives the
extension its start instant from ``$EPOCHREALTIME``); the default is this machine's ``/bin/sh``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.support.extension import LAUNCHER, make_report, post
from tests.support.extensions_api import FakeExtensionsApi
from tests.support.paths import REPO
from tests.support.ports import free_port


def one_run(python_bin: Path, shell: str | None, launcher: Path = LAUNCHER) -> dict[str, float]:
    port = free_port()
    listening_at: list[float] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.05):
                    listening_at.append(time.monotonic())
                    return
            except OSError:
                time.sleep(0.0002)

    with FakeExtensionsApi() as api:
        env = {
            "PATH": f"{python_bin}:/usr/bin:/bin",
            "AWS_LAMBDA_RUNTIME_API": api.address,
            "WARMUP_PORT": str(port),
            "WARMING_TIMEOUT": "5s",
        }
        command = [shell, str(launcher)] if shell else [str(launcher)]
        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        started = time.monotonic()
        quiet = subprocess.DEVNULL
        proc = subprocess.Popen(command, env=env, stdout=quiet, stderr=quiet)
        try:
            register = api.wait_for("/register", 5)
            poller.join(5)
            time.sleep(0.05)  # a function's import takes at least this long
            sent = time.monotonic()
            status, _ = post(port, json.dumps(make_report()).encode())
            assert status == 202
            nxt = api.wait_for("/event/next", 5)
            time.sleep(0.2)  # settle in event/next
            rss_kb = _rss_kb(proc.pid)
            api.send_shutdown()
            assert proc.wait(5) == 0
        finally:
            stop.set()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return {
        "start_to_register_ms": (register.at - started) * 1000,
        "start_to_listening_ms": (listening_at[0] - started) * 1000,
        "report_to_next_ms": (nxt.at - sent) * 1000,
        "idle_rss_mb": rss_kb / 1024,
    }


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def baseline_ms(python: str, runs: int) -> float:
    """``python3 -E -s -S -c pass``, for scale."""
    times = []
    for _ in range(runs):
        started = time.monotonic()
        subprocess.run([python, "-E", "-s", "-S", "-c", "pass"], check=True)
        times.append((time.monotonic() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--shell", default=None, help="run the launcher with this shell")
    parser.add_argument(
        "--no-pyc",
        action="store_true",
        help="run a read-only copy of the layer without __pycache__ (a layer built without .pyc)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        python_bin = Path(directory) / "bin"
        python_bin.mkdir()
        python = os.path.realpath(sys.executable)
        (python_bin / "python3").symlink_to(python)
        launcher = LAUNCHER
        if args.no_pyc:
            layer = Path(directory) / "layer"
            (layer / "extensions").mkdir(parents=True)
            shutil.copy2(LAUNCHER, layer / "extensions" / LAUNCHER.name)
            shutil.copytree(
                REPO / "extension_entry",
                layer / "extension_entry",
                ignore=shutil.ignore_patterns("__pycache__"),
            )
            (layer / "extension_entry").chmod(0o555)  # as /opt: nothing can be cached
            launcher = layer / "extensions" / LAUNCHER.name
        one_run(python_bin, args.shell, launcher)  # warm the page cache and __pycache__
        results = [one_run(python_bin, args.shell, launcher) for _ in range(args.runs)]
        if args.no_pyc:
            (layer / "extension_entry").chmod(0o755)
        pyc = "no .pyc" if args.no_pyc else "with .pyc"
        print(f"runs: {args.runs}, shell: {args.shell or '/bin/sh'}, {pyc}, python: {python}")
        print(f"python3 -E -s -S -c pass: {baseline_ms(python, args.runs):.1f} ms (median)")
        for key in results[0]:
            values = sorted(result[key] for result in results)
            print(
                f"{key}: median {statistics.median(values):.2f}, "
                f"min {values[0]:.2f}, max {values[-1]:.2f}"
            )


if __name__ == "__main__":
    main()
