"""Runs the SAM-built samples in the local sandbox and tabulates what a Lambda user would see."""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from lambda_sandbox import (
    FunctionSpec,
    InitType,
    InvokeResult,
    Sandbox,
    load_template,
    write_timeline,
)

from .services import free_port

EVENT = {"query": "oak chair", "quantity": 2}
#: The orders sample's event (as ``samples/events/order.json``), with the caller's correlation id.
ORDER_EVENT: dict[str, Any] = {
    "correlation_id": "checkout-7f3a9c",
    "customer": "ada",
    "items": [{"sku": "SKU-000042", "quantity": 2}, {"sku": "SKU-000117", "quantity": 1}],
}
#: The web sample's event (as ``samples/events/web.json``): ``GET /prices/SKU-000042?quantity=2``
#: through its function URL.
WEB_EVENT: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parent.parent / "samples" / "events" / "web.json").read_text()
)


@dataclass(frozen=True)
class Scenario:
    function: str
    """Logical id in the template."""
    init_type: InitType
    hold: bool
    """``WARMING_TIMEOUT`` as the template sets it (the extension holds INIT), or unset."""

    @property
    def label(self) -> str:
        if self.function.startswith("Orders"):
            sample = "orders"
        elif self.function.startswith("Web"):
            sample = "web"
        else:
            sample = "async" if "Async" in self.function else "sync"
        start = "on-demand" if self.init_type == "on-demand" else "provisioned"
        return f"{sample:<5} {start:<11} {'yes' if self.hold else 'no':<4}"

    @property
    def slug(self) -> str:
        """For file names: ``QuotesAsyncFunction-provisioned-concurrency-hold``."""
        return f"{self.function}-{self.init_type}-{'hold' if self.hold else 'no-hold'}"

    @property
    def event(self) -> dict[str, Any]:
        if self.function.startswith("Web"):
            return WEB_EVENT
        return ORDER_EVENT if self.function.startswith("Orders") else EVENT


SCENARIOS = [
    Scenario("QuotesAsyncFunction", "on-demand", hold=False),
    Scenario("QuotesAsyncFunction", "on-demand", hold=True),
    Scenario("QuotesAsyncFunction", "provisioned-concurrency", hold=False),
    Scenario("QuotesAsyncFunction", "provisioned-concurrency", hold=True),
    Scenario("QuotesSyncFunction", "provisioned-concurrency", hold=False),
    Scenario("QuotesSyncFunction", "provisioned-concurrency", hold=True),
]
#: The orders sample (asyncpg pool, aiobotocore SQS client, httpx client), the same four ways.
ORDERS_SCENARIOS = [
    Scenario("OrdersFunction", init_type, hold=hold)
    for init_type in ("on-demand", "provisioned-concurrency")
    for hold in (False, True)
]
#: The web sample (FastAPI, its lifespan opening an asyncpg pool and an httpx client), provisioned
#: (where the hold matters most) with and without the hold.
WEB_SCENARIOS = [
    Scenario("WebFunction", "provisioned-concurrency", hold=False),
    Scenario("WebFunction", "provisioned-concurrency", hold=True),
]


@dataclass
class Outcome:
    scenario: Scenario
    init_ms: float
    first_ms: float
    pending_on_arrival: list[str]
    inits: int
    warm_ms: float
    response: dict[str, Any]
    """The first invocation's answer."""
    responses: list[dict[str, Any]] = field(default_factory=list)
    """Every invocation's answer, the first one first."""
    invocations: list[InvokeResult] = field(default_factory=list)
    """Every invocation, the first one first: request id, and log lines (the function's and the
    extensions'; the samples' Powertools Logger lines and Metrics documents among them)."""

    @property
    def caller_waited_ms(self) -> float:
        """What the first request's caller waited: on-demand, INIT happens inside the request."""
        if self.scenario.init_type == "on-demand":
            return self.init_ms + self.first_ms
        return self.first_ms


def function_spec(
    build_dir: Path, logical_id: str, environment: Mapping[str, str], *, hold: bool
) -> FunctionSpec:
    """The function as ``sam build`` left it, plus ``environment``; without ``WARMING_TIMEOUT``
    when ``hold`` is false (the layer's extension then registers and lets INIT end at once)."""
    spec = load_template(build_dir / "template.yaml").function(logical_id)
    env = {**spec.environment, **environment, "WARMUP_PORT": str(free_port())}
    if not hold:
        env.pop("WARMING_TIMEOUT", None)
    elif not env.get("WARMING_TIMEOUT"):
        raise ValueError(f"{logical_id}: the template sets no WARMING_TIMEOUT")
    return dataclasses.replace(spec, environment=env)


def run(
    spec: FunctionSpec,
    scenario: Scenario,
    *,
    idle_s: float,
    warm_invocations: int,
    log: IO[str] | Callable[[str], None] | None,
    timeline: Path | None = None,
) -> Outcome:
    """One execution environment: INIT, the first invocation, then warm ones.

    On-demand, the request arrives first and INIT runs inside it. Provisioned, INIT runs ahead,
    then the environment sits frozen for ``idle_s`` before the first request, as it does between
    provisioning and traffic. With ``timeline``, the environment's life is drawn there (HTML).
    """
    with Sandbox(spec, init_type=scenario.init_type, shutdown_budget_s=1.0, log=log) as sandbox:
        if scenario.init_type == "on-demand":
            first = sandbox.invoke(scenario.event)
            init = sandbox.inits[-1]
        else:
            init = sandbox.start()
            if init.status != "success":
                raise RuntimeError(f"{scenario.label}: INIT {init.status}: {init.error}")
            time.sleep(idle_s)  # frozen: nothing in the sandbox runs
            first = sandbox.invoke(scenario.event)
        if first.status != "success":
            raise RuntimeError(
                f"{scenario.label}: first invocation {first.status}: {first.payload!r}"
            )
        warm = [sandbox.invoke(scenario.event) for _ in range(warm_invocations)]
    if timeline is not None:
        hold = "with the hold" if scenario.hold else "without the hold"
        title = f"{scenario.function}, {scenario.init_type}, {hold}"
        write_timeline(timeline, sandbox.records, title=title)
    failed = [w for w in warm if w.status != "success"]
    if failed:
        raise RuntimeError(f"{scenario.label}: a warm invocation failed: {failed[0].payload!r}")
    response, inits, pending = answer(first)
    return Outcome(
        scenario=scenario,
        init_ms=init.duration_ms,
        first_ms=first.duration_ms,
        pending_on_arrival=pending,
        inits=len(inits),
        warm_ms=statistics.median(w.duration_ms for w in warm),
        response=response,
        responses=[response, *(answer(w)[0] for w in warm)],
        invocations=[first, *warm],
    )


def answer(result: InvokeResult) -> tuple[dict[str, Any], list[str], list[str]]:
    """A sample's answer, its inits and those pending on arrival. The web sample answers HTTP:
    its JSON body, and its one init (``lifespan``) as its ``x-lifespan-on-arrival`` header says."""
    response: dict[str, Any] = result.json()
    if "statusCode" not in response:
        arrival = response["arrival"]
        return response, list(arrival["inits"]), list(arrival["pending_inits"])
    if response["statusCode"] != 200:
        raise RuntimeError(f"the web sample answered {response['statusCode']}: {response}")
    on_arrival = response["headers"]["x-lifespan-on-arrival"]
    body: dict[str, Any] = json.loads(response["body"])
    return body, ["lifespan"], ["lifespan"] if on_arrival == "pending" else []


def backend_pids(outcome: Outcome) -> str:
    """The orders sample's ``backend_pid`` across one environment's invocations, e.g.
    ``4242 in all 6``: the one connection the pool opened in INIT, used by every request."""
    pids = [r["backend_pid"] for r in outcome.responses]
    distinct = list(dict.fromkeys(pids))
    if len(distinct) == 1:
        return f"{distinct[0]} in all {len(pids)}"
    return ", ".join(str(pid) for pid in pids)


def table(outcomes: list[Outcome], *, pids: bool = False) -> str:
    """The outcomes as a text table, one row per execution environment; with ``pids``, a last
    column with the orders sample's PostgreSQL backend pids (:func:`backend_pids`)."""
    head = [
        "sample",
        "start",
        "hold",
        "INIT",
        "1st invocation",
        "inits done on arrival",
        "1st caller waited",
        "warm invocation",
    ]
    if pids:
        head.append("backend pid")
    rows = [head]
    for o in outcomes:
        done = o.inits - len(o.pending_on_arrival)
        found = f"{done} of {o.inits}" + (
            f" (waited for {', '.join(o.pending_on_arrival)})" if o.pending_on_arrival else ""
        )
        sample, start, hold = o.scenario.label.split()
        rows.append(
            [
                sample,
                start,
                hold,
                f"{o.init_ms:.0f} ms",
                f"{o.first_ms:.0f} ms",
                found,
                f"{o.caller_waited_ms:.0f} ms",
                f"{o.warm_ms:.1f} ms",
                *([backend_pids(o)] if pids else []),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    right = {3, 4, 6, 7}  # durations

    def line(row: list[str]) -> str:
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    lines = [line(rows[0]), "  ".join("-" * w for w in widths)]
    lines += [line(row) for row in rows[1:]]
    return "\n".join(lines)
