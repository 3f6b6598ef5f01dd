"""Response headers in the shapes Lambda's HTTP sources take them."""

from __future__ import annotations

from ._types import HttpResponse


def single_and_multi(response: HttpResponse) -> tuple[dict[str, str], dict[str, list[str]]]:
    """``headers`` for names sent once, ``multiValueHeaders`` for names sent more than once
    (API Gateway's REST format merges the two maps)."""
    grouped = grouped_headers(response)
    single = {name: values[0] for name, values in grouped.items() if len(values) == 1}
    multi = {name: values for name, values in grouped.items() if len(values) > 1}
    return single, multi


def grouped_headers(response: HttpResponse) -> dict[str, list[str]]:
    """Every value of each header, by lowercase name, in the order the app sent them."""
    grouped: dict[str, list[str]] = {}
    for name, value in response.header_items():
        grouped.setdefault(name, []).append(value)
    return grouped
