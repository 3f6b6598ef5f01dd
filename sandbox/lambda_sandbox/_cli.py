"""``lambda-sandbox local invoke`` (or ``python -m lambda_sandbox``): ``sam local invoke``
without Docker.

Logs (platform lines, the function's and extensions' output) go to stderr, each response to
stdout on one line, as ``sam local invoke`` does. ``--timeline FILE`` draws the sandbox's life
into an HTML file (``_timeline``). ``lambda-sandbox snapshots`` gets CRIU ready for SnapStart
snapshots (downloading it once) and says whether they work here; ``lambda-sandbox chromium`` gets
the headless Chromium that opens timelines ready.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ._chromium import BrowserError, find_chromium
from ._criu import SnapshotUnavailableError, find_criu
from ._sandbox import INIT_TYPES, FunctionSpec, Sandbox, SandboxError
from ._template import LAYERS_ENV, load_template, parse_layer_mapping, parse_parameter_overrides
from ._timeline_html import write_timeline

__all__ = ["main"]

DEFAULT_TEMPLATE = Path(".aws-sam/build/template.yaml")


def _prog() -> str:
    """How this was started, for usage lines: the console script, or ``python -m``."""
    started = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    if started in ("", "__main__.py", "-c"):
        return f"python -m {__package__}"
    return started


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="A local AWS Lambda (Runtime + Extensions API, real awslambdaric), no Docker.",
    )
    sub = parser.add_subparsers(dest="group", required=True)
    sub.add_parser(
        "snapshots",
        help="get CRIU ready for SnapStart snapshots; exit 1 (with the reason) if they cannot work",
    )
    sub.add_parser(
        "chromium",
        help="get headless Chromium (to open timelines) ready; exit 1 (with the reason) if not",
    )
    local = sub.add_parser("local", help="run functions locally")
    local_sub = local.add_subparsers(dest="command", required=True)
    inv = local_sub.add_parser("invoke", help="invoke a function of a (built) SAM template")
    inv.add_argument("function_id", nargs="?", help="logical id (optional with one function)")
    inv.add_argument("-t", "--template", type=Path, default=DEFAULT_TEMPLATE)
    inv.add_argument("-e", "--event", help="event file, or - for stdin (default: {})")
    inv.add_argument("-n", "--env-vars", type=Path, help="JSON: {Parameters: {...}, <Id>: {...}}")
    inv.add_argument("--parameter-overrides", nargs="*", default=[], metavar="KEY=VALUE")
    inv.add_argument(
        "--layer",
        action="append",
        default=[],
        metavar="ARN=PATH",
        help=f"local content (a directory or .zip) for a layer the template gives as an ARN; "
        f"repeatable; adds to ${LAYERS_ENV} (comma-separated ARN=PATH)",
    )
    inv.add_argument("--invocations", type=int, default=1, help="events sent to one sandbox")
    inv.add_argument(
        "--idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="seconds frozen between invocations, and between INIT and the first invocation "
        "when INIT runs ahead of it (every --init-type but on-demand; Managed Instances wait "
        "unfrozen)",
    )
    inv.add_argument("--init-type", choices=INIT_TYPES, default="on-demand")
    inv.add_argument(
        "--restores",
        type=int,
        default=1,
        help="snap-start: environments restored from the one snapshot, each sent the invocations",
    )
    inv.add_argument(
        "--max-concurrency",
        type=int,
        default=4,
        help="worker processes on lambda-managed-instances (AWS_LAMBDA_MAX_CONCURRENCY)",
    )
    inv.add_argument(
        "--on-demand-init-limit",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="INIT limit for on-demand (Lambda: 10)",
    )
    inv.add_argument(
        "--region",
        default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
    )
    inv.add_argument("--records", type=Path, help="write every phase as JSON lines to this file")
    inv.add_argument(
        "--timeline",
        type=Path,
        metavar="FILE",
        help="draw the sandbox's life (INIT, the inits, frozen gaps, invocations) as a Gantt "
        "chart in this HTML file; the function runs with AWS_LAMBDA_LOG_FORMAT=JSON unless its "
        "environment sets a log format",
    )
    inv.add_argument(
        "--no-log-prefix", action="store_true", help="pass log lines through without [source]"
    )
    return parser


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    args = _parser(prog or _prog()).parse_args(argv)
    if args.group == "snapshots":
        return _snapshots()
    if args.group == "chromium":
        return _chromium()
    try:
        return _invoke(args)
    except (SandboxError, OSError, ValueError) as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return 2


def _snapshots() -> int:
    try:
        criu = find_criu()
    except SnapshotUnavailableError as exc:
        sys.stdout.write(f"SnapStart snapshots: unavailable: {exc}\n")
        return 1
    sys.stdout.write(f"SnapStart snapshots: CRIU {criu.version} ({' '.join(criu.command)})\n")
    return 0


def _chromium() -> int:
    try:
        chromium = find_chromium()
        version = chromium.version()
    except BrowserError as exc:
        sys.stdout.write(f"Chromium: unavailable: {exc}\n")
        return 1
    sys.stdout.write(f"Chromium: {version} ({' '.join(chromium.command)})\n")
    return 0


def _invoke(args: argparse.Namespace) -> int:
    if args.restores < 1:
        raise ValueError(f"--restores {args.restores}: expected 1 or more")
    if args.restores > 1 and args.init_type != "snap-start":
        raise ValueError("--restores is for --init-type snap-start")
    if args.template == DEFAULT_TEMPLATE and not args.template.exists():
        raise ValueError(f"no {DEFAULT_TEMPLATE}: run `sam build` first, or give -t template.yaml")
    template = load_template(
        args.template,
        parse_parameter_overrides(args.parameter_overrides),
        args.region,
        layers=parse_layer_mapping(args.layer),
        progress=lambda line: sys.stderr.write(f"{line}\n"),
    )
    overrides = json.loads(args.env_vars.read_text()) if args.env_vars else {}
    spec = template.function(args.function_id, overrides)
    for warning in template.warnings:
        sys.stderr.write(f"Warning: {warning}\n")
    if args.timeline is not None:
        spec = _with_json_logs(spec)
    if args.event == "-":
        event = sys.stdin.buffer.read()
    elif args.event:
        event = Path(args.event).read_bytes()
    else:
        event = b"{}"
    try:
        json.loads(event)
    except ValueError as exc:  # Lambda refuses such a payload before any sandbox sees it
        raise ValueError(f"the event is not valid JSON: {exc}") from None
    with Sandbox(
        spec,
        init_type=args.init_type,
        snapshots=True if args.restores > 1 else None,
        max_concurrency=args.max_concurrency,
        on_demand_init_limit_s=args.on_demand_init_limit,
        log=sys.stderr,
        prefix_logs=not args.no_log_prefix,
        records_path=args.records,
    ) as sandbox:
        try:
            _run_invocations(sandbox, args, event)
        finally:  # a run the sandbox gave up on is drawn too: what it got to is in the records
            if args.timeline is not None:
                sandbox.shutdown()
                title = f"{spec.name} ({args.init_type})"
                written = write_timeline(args.timeline, sandbox.records, title=title)
                sys.stderr.write(f"Timeline: {written}\n")
    return 0


def _with_json_logs(spec: FunctionSpec) -> FunctionSpec:
    """The timeline's init detail comes from JSON log lines: Lambda's JSON log format for this
    run, unless the function's environment chose a format itself."""
    if "AWS_LAMBDA_LOG_FORMAT" in spec.environment:
        chosen = spec.environment["AWS_LAMBDA_LOG_FORMAT"]
        if chosen.upper() != "JSON":
            sys.stderr.write(
                f"Timeline: AWS_LAMBDA_LOG_FORMAT={chosen} (the function's own): without JSON "
                "log lines the timeline has no init detail\n"
            )
        return spec
    # As Lambda's LoggingConfig does for the JSON format: the application log level defaults to
    # INFO, and the runtime gets it as AWS_LAMBDA_LOG_LEVEL.
    environment = {"AWS_LAMBDA_LOG_LEVEL": "INFO", **spec.environment}
    environment["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
    said = f"AWS_LAMBDA_LOG_FORMAT=JSON, AWS_LAMBDA_LOG_LEVEL={environment['AWS_LAMBDA_LOG_LEVEL']}"
    sys.stderr.write(f"Timeline: running the function with {said}\n")
    return dataclasses.replace(spec, environment=environment)


def _run_invocations(sandbox: Sandbox, args: argparse.Namespace, event: bytes) -> None:
    if args.init_type != "on-demand":
        sandbox.start()
        # A provisioned environment waits, frozen, for its first event: whatever INIT left
        # unfinished (a background init, say) makes no progress until then.
        if args.idle:
            time.sleep(args.idle)
    for restore in range(args.restores):
        if restore:
            sandbox.discard_environment()
        for i in range(args.invocations):
            if i and args.idle:
                time.sleep(args.idle)
            result = sandbox.invoke(event)
            sys.stdout.buffer.write(result.payload + b"\n")
            sys.stdout.flush()
