"""The README's after-restore recipes ("After a restore: recipes", SnapStart) are the code the
database tests run: each block, as written, is in the function of its driver
(``tests/database/functions``), which ``test_snapstart.py`` runs in restored environments. This
check runs where snapshots cannot."""

from __future__ import annotations

import ast

import pytest

from tests.support.database import DRIVERS, FUNCTIONS, RECIPE_CLIENTS, readme_recipe


@pytest.mark.parametrize("driver", DRIVERS)
def test_the_readme_recipe_is_the_functions_code(driver: str) -> None:
    client = RECIPE_CLIENTS[driver]
    recipe = readme_recipe(client)
    ast.parse(recipe)  # a whole statement: a decorated hook
    assert recipe.startswith("@pool.after_restore\n"), recipe
    source = (FUNCTIONS / f"{driver}_app.py").read_text()
    assert f"\n\n{recipe}\n" in source, (
        f"README.md's recipe for **{client}** is not in {driver}_app.py at top level, as "
        f"written:\n{recipe}"
    )
