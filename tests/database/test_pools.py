"""A connection pool made in INIT, end to end: the functions a user would write
(``tests/database/functions``: asyncpg, and psycopg 3's ``psycopg_pool.AsyncConnectionPool``)
with the lambda-warmup layer and the drivers' layer, in the sandbox, against a real PostgreSQL.

Each test asserts what a user sees: the invocations' answers (each names the server process,
``pg_backend_pid()``, that served its query), the function's lines, and the function's
connections in ``pg_stat_activity`` (named ``<driver>-app``). SnapStart: ``test_snapstart.py``.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from lambda_sandbox import LocalPostgres
from tests.support.database import DRIVERS, MIN_SIZE, MakeFunction, PoolFunction

pytestmark = [pytest.mark.e2e]

#: The cause an invocation names when the database was down (the init's last exception).
DOWN_CAUSE = {
    "asyncpg": "ConnectionRefusedError: [Errno 111] Connect call failed",
    "psycopg": "PoolTimeout: pool initialization incomplete after 0.3 sec",
}


def _started(function: PoolFunction) -> None:
    init = function.sandbox.start()
    assert init.status == "success", f"INIT: {init.status} {init.error}\n{function.output()}"


def _refilled(function: PoolFunction, when: str) -> list[int]:
    """The function's backends once its pool is back at min_size, after at most 10 invocations
    (each keeps the sandbox thawed 50 ms): a pool refills in the background, which a frozen
    sandbox does not run."""
    for _ in range(10):
        if len(backends := function.backends()) == MIN_SIZE:
            return backends
        function.invoke({"hold_s": 0.05})
    raise AssertionError(
        f"the pool was not back at min_size={MIN_SIZE} {when} after 10 invocations: "
        f"{function.backends()}\n{function.output()}"
    )


def _runtime_exits(function: PoolFunction) -> list[int | None]:
    return [
        r["returncode"]
        for r in function.sandbox.records
        if r["event"] == "process_exit" and r["kind"] == "runtime"
    ]


@pytest.mark.parametrize("driver", DRIVERS)
def test_the_pool_from_init_serves_every_frozen_invocation(
    make_function: MakeFunction, driver: str
) -> None:
    """INIT opens min_size connections; 20 invocations, each followed by a freeze, are served on
    them: no invocation connects, and the function's count in pg_stat_activity stays flat."""
    function = make_function(driver)
    _started(function)
    at_init = function.backends()
    assert len(at_init) == MIN_SIZE, f"INIT opened min_size={MIN_SIZE} connections: {at_init}"
    served = []
    for i in range(1, 21):
        answer = function.invoke()
        served.append(answer["backend_pid"])
        assert function.backends() == at_init, (
            f"after frozen invocation {i}: the function's backends changed from INIT's {at_init}"
        )
    assert set(served) <= set(at_init), f"served on {sorted(set(served))}, INIT's are {at_init}"
    freezes = [r for r in function.sandbox.records if r["event"] == "freeze"]
    assert len(freezes) >= 20, "the sandbox was frozen after every invocation"
    assert len(_runtime_exits(function)) == 0, "one runtime process served them all"


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_database_restart_between_invocations_is_survived(
    postgres: LocalPostgres, make_function: MakeFunction, driver: str
) -> None:
    """The server restarts (``pg_ctl -m fast``: every connection is terminated) while the
    function is frozen, twice; each time the next invocation is served, on new connections:

    - asyncpg: the pool replaces a connection once it is closed (``acquire`` connects a holder
      whose connection closed, and asyncpg 0.32 refills ``min_size`` in the background), and it
      closes once the warm loop has read the server's ``FATAL: terminating connection due to
      administrator command`` and the EOF after the thaw. A request that reaches the pool first
      gets the dead connection: ``ConnectionDoesNotExistError``, or, between the FATAL and the
      EOF, ``InternalClientError: cannot switch to state 12; another operation (2) is in
      progress`` (asyncpg issue 1069, open). asyncpg has no check before handing a connection
      out, so the handler retries once after ``pool.expire_connections()`` (``attempts`` in its
      answer: 1 when the loop was first, 2 when the request was).
    - psycopg_pool: ``check=AsyncConnectionPool.check_connection`` on the pool (the function
      shows it): the pool sends an empty query on a connection before handing it out, and
      replaces it when that fails. Without it the first requests after a restart fail, one per
      dead connection, with ``AdminShutdown: terminating connection due to administrator
      command`` (an ``OperationalError``: psycopg does not read an idle connection). The first
      request waits ~1 s: after the second dead connection fails its check, psycopg_pool backs
      off 1 s (``AttemptWithBackoff``) before it takes a new connection, made meanwhile.
    """
    function = make_function(driver, db=postgres)
    _started(function)
    function.invoke()
    before = function.backends()
    for restart in (1, 2):
        postgres.restart()
        assert function.backends() == [], "the restart ended every connection"
        answers = [function.invoke() for _ in range(2)]
        served = {answer["backend_pid"] for answer in answers}
        assert not served & set(before), f"restart {restart}: served on {served}, old {before}"
        assert [answer.get("attempts", 1) for answer in answers[1:]] == [1], answers
        before = _refilled(function, f"after restart {restart}")
    assert len(_runtime_exits(function)) == 0, "no reset: the same runtime process served"


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_database_down_during_init_fails_invocations_until_it_is_back(
    postgres: LocalPostgres, make_function: MakeFunction, driver: str
) -> None:
    """The server is down during INIT. The init's retries (``@warm_init(retries=2,
    backoff=0.2)``) are logged, the init fails, and INIT still ends: the library never fails
    INIT for a failed init, so there is no suppressed init (Lambda's INIT re-run, which the
    sandbox would show as ``suppressed_init``). Instead the library runs the failed init again
    at the next invocation, with its retries: while the server is down that invocation fails
    with ``InitFailedError`` naming the init and its cause; once the server is back, the next
    invocation opens the pool and is served, in the same runtime process."""
    postgres.stop()
    function = make_function(driver, db=postgres, env={"CONNECT_TIMEOUT_S": "0.3"})
    _started(function)
    cause = DOWN_CAUSE[driver]
    attempts = function.has("lambda-warmup: init 'pool' attempt ")
    assert [f"attempt {n} of 3 failed ({cause}" in line for n, line in enumerate(attempts, 1)] == [
        True,
        True,
    ], f"INIT logged the init's two retries:\n{function.output()}"
    assert function.has("lambda-warmup: required init 'pool' failed after 3 attempt(s) in ")
    (released,) = function.has("[lambda-warmup] released after")
    assert "report failed from pid" in released, released

    failed = function.sandbox.invoke({})
    assert failed.status == "error", (failed.payload, function.output())
    error = failed.json()
    assert error["errorType"] == "InitFailedError", error
    assert error["errorMessage"].startswith(f"required init(s) failed: 'pool': {cause}"), error
    assert len(function.has("lambda-warmup: init 'pool' attempt ")) == 4, (
        "the invocation ran the init again, with its retries:\n" + function.output()
    )

    postgres.start()
    served = function.sandbox.invoke({})
    assert served.status == "success", (served.payload, function.output())
    assert served.suppressed_init is None, "INIT was not run again: the init was"
    backends = function.backends()
    assert len(backends) == MIN_SIZE, backends
    assert served.json()["backend_pid"] in backends
    assert len(_runtime_exits(function)) == 0, "no reset: the same runtime process served"


@pytest.mark.parametrize("driver", DRIVERS)
def test_provisioned_concurrency_first_request_finds_the_pool_ready(
    make_function: MakeFunction, driver: str
) -> None:
    """Provisioned concurrency: INIT, held by the extension until the pool is full, runs before
    any request. The pool's connections exist before the first invoke, and the first request is
    served on one of them: it does not connect."""
    function = make_function(driver, init_type="provisioned-concurrency")
    _started(function)
    ready = function.backends()
    assert len(ready) == MIN_SIZE, f"the pool was full at INIT's end: {ready}"
    time.sleep(0.2)  # frozen, as a provisioned environment waits for traffic
    first = function.sandbox.invoke({})
    assert first.status == "success", (first.payload, function.output())
    assert first.init_duration_ms is None, "INIT was no part of the request"
    assert first.json()["backend_pid"] in ready
    assert function.backends() == ready, "the first request opened no connection"


@pytest.mark.parametrize("driver", DRIVERS)
def test_managed_instances_each_worker_has_its_own_pool(
    make_function: MakeFunction, driver: str
) -> None:
    """Lambda Managed Instances with 3 workers: each worker process imports the function, so
    there are 3 pools, 3 x min_size connections from INIT. Three concurrent requests (each holds
    its connection 0.3 s) are served by the 3 workers on 3 of those connections, and at SHUTDOWN
    every worker closes its pool."""
    workers = 3
    function = make_function(driver, init_type="lambda-managed-instances", max_concurrency=workers)
    _started(function)
    (released,) = function.has("[lambda-warmup] released after")
    assert f"reports ok from all {workers} workers" in released, released
    at_init = function.backends()
    assert len(at_init) == workers * MIN_SIZE, f"{workers} pools of {MIN_SIZE}: {at_init}"
    with ThreadPoolExecutor(workers) as pool:
        answers = list(pool.map(lambda _: function.invoke({"hold_s": 0.3}), range(workers)))
    assert len({answer["pid"] for answer in answers}) == workers, "one worker per request"
    served = {answer["backend_pid"] for answer in answers}
    assert len(served) == workers, f"one connection per request: {answers}"
    assert served <= set(at_init), f"served on {served}, INIT's are {at_init}"
    assert function.backends() == at_init, "no request opened a connection"
    function.sandbox.shutdown()
    assert len(function.has(f"[function] {driver} pool closed")) == workers, function.output()
    function.wait_backends(0, "every worker's pool closed at SHUTDOWN")


@pytest.mark.parametrize("driver", DRIVERS)
def test_shutdown_closes_the_pool(make_function: MakeFunction, driver: str) -> None:
    """At SHUTDOWN the runtime gets SIGTERM; the library runs the init's code after its
    ``yield`` (``async with`` the pool: the pool closes, each connection says goodbye to the
    server) before the runtime exits, and the server's backends for the function end."""
    function = make_function(driver)
    function.invoke()
    assert len(function.backends()) == MIN_SIZE
    started = time.monotonic()
    function.sandbox.shutdown()
    shutdown_s = time.monotonic() - started
    closed = [
        r["t_ms"]
        for r in function.sandbox.records
        if r["event"] == "log" and r["line"] == f"{driver} pool closed"
    ]
    exits = [
        r["t_ms"]
        for r in function.sandbox.records
        if r["event"] == "process_exit" and r["kind"] == "runtime"
    ]
    assert len(closed) == 1, f"the teardown closed the pool once:\n{function.output()}"
    assert len(exits) == 1
    assert closed[0] < exits[0], "the pool was closed before the runtime exited"
    assert _runtime_exits(function) == [-15], "ended by SIGTERM after the cleanup, not killed"
    assert not function.has("cut short"), function.output()
    function.wait_backends(0, f"the pool closed at SHUTDOWN ({shutdown_s:.2f} s)", timeout=2.0)
