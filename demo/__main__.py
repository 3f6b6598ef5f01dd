"""``python -m demo``: run the SAM-built samples in the local sandbox; print what they showed.

``make demo`` builds first (``sam build``) and then runs this. ``python -m demo --serve`` only
starts the local services and writes the ``--env-vars`` file for ``python -m lambda_sandbox local
invoke``, to run the samples by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import IO

from . import observed, runner, services

ROOT = Path(__file__).resolve().parent.parent

EXPLANATION = """\
INIT: Lambda's INIT phase (the REPORT line's Init Duration). 1st invocation: the first request's
Duration. inits done on arrival: what that request found when it reached the handler. 1st caller
waited: on-demand, INIT runs inside the first request, so the caller waits for INIT + invocation;
provisioned, INIT ran before any request ({idle:g} s earlier here, the sandbox frozen since).

What it shows:
- On-demand cold start: the first request waits for the inits either way ({od_no:.0f} ms without
  the hold, {od_yes:.0f} ms with it). The hold moves that wait into INIT; it does not remove it.
- Provisioned concurrency: without the hold, INIT ends when the module is imported; the inits
  then sit frozen with the sandbox, and the first request waits for them ({pc_no:.0f} ms). With the
  hold, INIT lasts until they are done and the first request runs warm ({pc_yes:.0f} ms).
  The same goes for SnapStart (the snapshot is taken after INIT) and for Lambda's proactive inits.
"""

ORDERS_EXPLANATION = """\
backend pid: pg_backend_pid() of the connection each order was stored with. The asyncpg pool
opened it in INIT, and every invocation of that environment used it again (the sandbox frozen in
between); each new environment opened its own. The SQS and pricing clients are reused the same
way. With the hold, the first order of a provisioned environment took {pc_yes:.0f} ms (without:
{pc_no:.0f} ms, spent opening the pool and the clients); on-demand, its caller waited
{od_yes:.0f} ms with the hold and {od_no:.0f} ms without, INIT included.
"""

WEB_EXPLANATION = """\
The app's lifespan (asyncpg pool, the API's settings, an httpx client) is one warm init,
`lifespan` in the report. With the hold, INIT lasted {init_yes:.0f} ms, until the lifespan was done,
and the first request ran warm ({pc_yes:.0f} ms); without it, INIT ended at the import
({init_no:.0f} ms) and the first request waited for the lifespan ({pc_no:.0f} ms). Either way the
lifespan ran once: every request of an environment used the same connection (backend pid).
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
    parser.add_argument(
        "--build-dir", type=Path, default=ROOT / ".aws-sam" / "build", help="sam build's output"
    )
    parser.add_argument(
        "--idle", type=float, default=1.0, help="seconds between a provisioned INIT and the request"
    )
    parser.add_argument("--warm", type=int, default=5, help="warm invocations per environment")
    parser.add_argument(
        "--log",
        type=Path,
        default=ROOT / ".aws-sam" / "demo.log",
        help="where the functions' and the sandbox's log lines go",
    )
    parser.add_argument(
        "--timelines",
        type=Path,
        default=ROOT / ".aws-sam" / "demo-timelines",
        help="where each run's timeline (an HTML Gantt chart of its sandbox) goes",
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help="only start moto, the quotes API and PostgreSQL, and write an --env-vars file",
    )
    args = parser.parse_args(argv)
    if not (args.build_dir / "template.yaml").is_file():
        sys.stderr.write(f"demo: no {args.build_dir}/template.yaml; run `make build` first\n")
        return 2
    if args.serve:
        return serve(args.build_dir)
    out = sys.stdout
    # SIGTERM ends the demo as Ctrl-C does: through the `with` blocks, which stop PostgreSQL.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    out.write("Starting moto (SSM, Secrets Manager, SQS), the quotes API and PostgreSQL ...\n")
    args.log.parent.mkdir(parents=True, exist_ok=True)
    outcomes: list[runner.Outcome] = []
    with args.log.open("w", encoding="utf-8") as log, services.start(database=True) as local:
        assert local.database is not None
        # Lambda's JSON log format (at its default level, INFO): the library's and the
        # extension's JSON lines give the timelines their inits' detail.
        env = {
            **local.function_environment(),
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "AWS_LAMBDA_LOG_LEVEL": "INFO",
        }
        out.write(
            f"AWS_ENDPOINT_URL={local.aws_endpoint}, quotes API at {local.api_url}, "
            f"PostgreSQL at {local.database.url}\n\n"
        )
        for scenario in [*runner.SCENARIOS, *runner.ORDERS_SCENARIOS, *runner.WEB_SCENARIOS]:
            out.write(f"running: {scenario.label.split()[0]} sample, {scenario.init_type}, ")
            out.write(f"{'with' if scenario.hold else 'without'} the hold ...")
            out.flush()
            log.write(f"\n===== {scenario} =====\n")
            started = time.monotonic()
            spec = runner.function_spec(args.build_dir, scenario.function, env, hold=scenario.hold)
            timeline = args.timelines / f"{scenario.slug}.html"
            outcomes.append(
                runner.run(
                    spec,
                    scenario,
                    idle_s=args.idle,
                    warm_invocations=args.warm,
                    log=log,
                    timeline=timeline,
                )
            )
            out.write(f" {time.monotonic() - started:.1f} s\n")
        stored = local.database.sql("SELECT count(*) FROM orders")[0][0]
        queued = local.sqs().get_queue_attributes(
            QueueUrl=local.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
    quote_outcomes = [o for o in outcomes if o.scenario in runner.SCENARIOS]
    order_outcomes = [o for o in outcomes if o.scenario in runner.ORDERS_SCENARIOS]
    web_outcomes = [o for o in outcomes if o.scenario in runner.WEB_SCENARIOS]
    _quotes_summary(out, quote_outcomes, args.idle)
    _orders_summary(out, order_outcomes)
    out.write(f"PostgreSQL holds {stored} orders; the SQS queue got {queued} messages.\n")
    _web_summary(out, web_outcomes)
    out.write(f"\nLogs of every run: {args.log}\n")
    out.write(
        f"Timelines (INIT, the inits, frozen gaps, invocations), one per run: {args.timelines}/\n"
    )
    return 0


def _quotes_summary(out: IO[str], outcomes: list[runner.Outcome], idle: float) -> None:
    quotes = outcomes[-1].response["quotes"]
    out.write(f"\nFirst response (quotes for {runner.EVENT}):\n")
    for quote in quotes:
        out.write(f"  {quote['sku']}  {quote['name']:<22} {quote['price']}\n")
    out.write("\n" + runner.table(outcomes) + "\n\n")
    by = {(o.scenario.function, o.scenario.init_type, o.scenario.hold): o for o in outcomes}
    fn = "QuotesAsyncFunction"
    out.write(
        EXPLANATION.format(
            idle=idle,
            od_no=by[fn, "on-demand", False].caller_waited_ms,
            od_yes=by[fn, "on-demand", True].caller_waited_ms,
            pc_no=by[fn, "provisioned-concurrency", False].first_ms,
            pc_yes=by[fn, "provisioned-concurrency", True].first_ms,
        )
    )
    out.write("\n" + observed.summary(by[fn, "on-demand", True]))


def _orders_summary(out: IO[str], outcomes: list[runner.Outcome]) -> None:
    first = outcomes[-1].response
    out.write(
        f"\nOrders sample (samples/orders/orders_app.py), event {json.dumps(runner.ORDER_EVENT)}"
        f"\nFirst response: order {first['order_id']}, total {first['total']} "
        f"{first['currency']}, backend_pid {first['backend_pid']}\n"
    )
    out.write("\n" + runner.table(outcomes, pids=True) + "\n\n")
    by = {(o.scenario.init_type, o.scenario.hold): o for o in outcomes}
    out.write(
        ORDERS_EXPLANATION.format(
            od_no=by["on-demand", False].caller_waited_ms,
            od_yes=by["on-demand", True].caller_waited_ms,
            pc_no=by["provisioned-concurrency", False].first_ms,
            pc_yes=by["provisioned-concurrency", True].first_ms,
        )
    )
    out.write("\n" + observed.summary(by["on-demand", True]) + "\n")


def _web_summary(out: IO[str], outcomes: list[runner.Outcome]) -> None:
    first = outcomes[-1].response
    event = runner.WEB_EVENT
    out.write(
        "\nWeb sample (samples/web/web_app.py, FastAPI served by warm_asgi), "
        f"GET {event['rawPath']}?{event['rawQueryString']}\n"
        f"First response: {first['quantity']} x {first['sku']} = {first['total']} "
        f"{first['currency']}, backend_pid {first['backend_pid']}\n"
    )
    out.write("\n" + runner.table(outcomes, pids=True) + "\n\n")
    by = {o.scenario.hold: o for o in outcomes}
    out.write(
        WEB_EXPLANATION.format(
            init_yes=by[True].init_ms,
            pc_yes=by[True].first_ms,
            init_no=by[False].init_ms,
            pc_no=by[False].first_ms,
        )
    )


def serve(build_dir: Path) -> int:
    """Keeps the local services up until Ctrl-C, for ``lambda_sandbox local invoke`` by hand."""
    env_file = build_dir.parent / "demo-env.json"
    with services.start(database=True) as local:
        # SAM's --env-vars format; the template declares these variables, so they may be set.
        env_file.write_text(json.dumps({"Parameters": local.function_environment()}, indent=2))
        template = build_dir / "template.yaml"
        sys.stdout.write(
            f"moto at {local.aws_endpoint}, the quotes API at {local.api_url}, PostgreSQL at "
            f"{local.database.url if local.database else '-'}.\n"
            f"In another shell, from {ROOT}:\n\n"
            f"  .venv/bin/python -m lambda_sandbox local invoke QuotesAsyncFunction \\\n"
            f"      -t {_short(template)} -n {_short(env_file)} -e samples/events/quote.json \\\n"
            f"      --init-type provisioned-concurrency --invocations 2 --idle 1\n\n"
            f"  .venv/bin/python -m lambda_sandbox local invoke OrdersFunction \\\n"
            f"      -t {_short(template)} -n {_short(env_file)} -e samples/events/order.json \\\n"
            f"      --init-type provisioned-concurrency --invocations 3 --idle 1\n\n"
            "Ctrl-C stops the services.\n"
        )
        sys.stdout.flush()
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


def _short(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


if __name__ == "__main__":
    sys.exit(main())
