"""SnapStart with a connection pool made in INIT, end to end: one INIT checkpointed with CRIU and
environments restored from it one after the other (``discard_environment()``), each a new copy
of the pool whose connections the sandbox cut at the snapshot.

The functions (``tests/database/functions``) hold the README's after-restore recipes ("After a
restore: recipes") as written; ``test_readme_recipes.py`` checks that they do, and the test
without a recipe runs the same function with the README's block taken out. Skipped where the
sandbox cannot take snapshots (CRIU, root).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.database import (
    DRIVERS,
    FUNCTIONS,
    MIN_SIZE,
    RECIPE_CLIENTS,
    MakeFunction,
    PoolFunction,
    readme_recipe,
)
from tests.support.sandboxes import skip_without_snapshots

pytestmark = [pytest.mark.e2e]

#: A first request slower than this waited for a dead connection (psycopg_pool's backoff is 1 s).
SLOW_MS = 500.0


@pytest.fixture(autouse=True)
def _criu() -> None:
    skip_without_snapshots()


def _snapshot(function: PoolFunction) -> list[int]:
    """Start (INIT, then the snapshot); the backends INIT connected, whose connections the
    sandbox cut at the snapshot."""
    init = function.sandbox.start()
    assert init.status == "success", f"INIT: {init.status} {init.error}\n{function.output()}"
    at_init = function.connected()
    assert len(at_init) == MIN_SIZE, f"INIT connected min_size={MIN_SIZE}: {at_init}"
    (snapshot,) = [r for r in function.sandbox.records if r["event"] == "snapshot"]
    # The pool's connections to the server; cut_by names the process of any other one.
    to_db = [c for c in snapshot["cut_connections"] if c.endswith(f":{function.db.port}")]
    assert len(to_db) == MIN_SIZE, snapshot
    return at_init


def _restores(function: PoolFunction, restores: int) -> list[tuple[list[dict[str, Any]], set[int]]]:
    """``restores`` environments restored one after the other, 2 invocations each: per restore,
    the answers and the backends that connected during it (from the server's log).

    Every request of a restore is served on a connection made during that restore, and while a
    restore lives every connection of the function was made during it. (How many it made is the
    pool's business: a pool refills in the background, which a frozen copy does not run.)
    """
    seen = []
    connected = len(function.connected())
    for restore in range(1, restores + 1):
        if restore > 1:
            function.sandbox.discard_environment()
            function.wait_backends(0, f"restore {restore - 1}'s pool closed at its SHUTDOWN")
        answers = [function.invoke() for _ in range(2)]
        live = function.backends()
        made = function.connected()[connected:]
        connected += len(made)
        served = {answer["backend_pid"] for answer in answers}
        assert served <= set(made), f"restore {restore}: served on {served}, it connected {made}"
        assert set(live) <= set(made), f"restore {restore}: live {live}, it connected {made}"
        seen.append((answers, set(made)))
    assert function.sandbox.restores == restores
    return seen


def _own_backends(at_init: list[int], backends: list[set[int]]) -> None:
    """INIT and every restore had backends of their own."""
    every = [set(at_init), *backends]
    for i, one in enumerate(every):
        for other in every[i + 1 :]:
            assert not one & other, f"shared backends {one & other}: INIT, then restores: {every}"


@pytest.mark.parametrize("driver", DRIVERS)
def test_each_restore_gets_connections_of_its_own_with_the_recipe(
    make_function: MakeFunction, driver: str
) -> None:
    """Three environments restored from one snapshot, two invocations each, with the README's
    recipe (asyncpg: ``await pool.expire_connections()``, psycopg_pool: ``await pool.check()``).
    Every request is served at once, on a connection made in its own copy: none is INIT's (cut
    at the snapshot) or another restore's.

    (asyncpg may connect once more than min_size in a copy: its min-size upkeep sees the cut
    connections closed and reconnects at once, and a connection it began before the hook's
    ``expire_connections()`` is replaced at its first acquire. psycopg_pool logs ``discarding
    broken connection`` for each of the snapshot's connections.)"""
    function = make_function(driver, init_type="snap-start", snapshots=True)
    at_init = _snapshot(function)
    seen = _restores(function, 3)
    for restore, (answers, _) in enumerate(seen, 1):
        first = answers[0]
        assert first["query_ms"] < SLOW_MS, f"restore {restore}'s first request waited: {first}"
        assert all(answer.get("attempts", 1) == 1 for answer in answers), answers
    _own_backends(at_init, [backends for _, backends in seen])


@pytest.mark.parametrize("driver", DRIVERS)
def test_without_the_recipe(make_function: MakeFunction, driver: str, tmp_path: Path) -> None:
    """The same function without the README's after-restore block, two restores. What a user
    sees, in the sandbox (which cuts the connections at the snapshot, so each restored copy
    finds them reset):

    - asyncpg: nothing. Every request is served at once, with no error and no retry: the warm
      loop reads each connection's reset as soon as the copy runs, the pool drops them and
      asyncpg's min-size upkeep connects new ones before the first request. (On Lambda a
      restored connection need not look reset, and then only the recipe replaces it.)
    - psycopg_pool (with ``check=`` on the pool, as the function has it for restarts): every
      request is served, but the first one in each copy waits ~1 s: both dead connections fail
      their check, and psycopg_pool backs off 1 s before it takes a new one. Without ``check=``
      the first requests would fail, one per dead connection (``OperationalError``). The
      recipe makes the copy replace them before the first request.
    """
    source = (FUNCTIONS / f"{driver}_app.py").read_text()
    recipe = readme_recipe(RECIPE_CLIENTS[driver])
    assert recipe in source, f"{driver}_app.py lacks the README's recipe:\n{recipe}"
    code = tmp_path / "without-recipe"
    code.mkdir()
    (code / f"{driver}_app.py").write_text(source.replace(recipe, ""))
    function = make_function(driver, code=code, init_type="snap-start", snapshots=True)
    at_init = _snapshot(function)
    seen = _restores(function, 2)
    for restore, (answers, _) in enumerate(seen, 1):
        first, second = answers
        assert second["query_ms"] < SLOW_MS, f"restore {restore}'s second request: {second}"
        if driver == "asyncpg":
            assert first["query_ms"] < SLOW_MS, f"restore {restore}'s first request: {first}"
            assert [first["attempts"], second["attempts"]] == [1, 1], answers
        else:
            assert first["query_ms"] >= SLOW_MS, (
                f"restore {restore}'s first request did not wait for psycopg_pool's backoff "
                f"after the dead connections' checks: {first}"
            )
    _own_backends(at_init, [backends for _, backends in seen])
