"""README.md's ASGI section documents every public name of ``lambda_warmup.asgi``."""

from __future__ import annotations

import re
import types
from pathlib import Path

import pytest

import lambda_warmup.asgi

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _asgi_section() -> str:
    return README.split("\n## Web apps (ASGI): `warm_asgi`\n", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("name", lambda_warmup.asgi.__all__)
def test_each_public_name_is_documented(name: str):
    code = re.findall(r"`([^`\n]+)`", _asgi_section())
    assert any(re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", text) for text in code), (
        f"lambda_warmup.asgi.{name} is public but README.md's ASGI section does not name it"
    )


def test_nothing_public_but_all():
    public = {
        name
        for name, value in vars(lambda_warmup.asgi).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(lambda_warmup.asgi.__all__)
