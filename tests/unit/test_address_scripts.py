"""Addresses keep the script the customer typed, and a region may be its ISO 3166-2 code (issue 17,
found by a fresh break: `Tokyo` was stored `東京都` beside a Latin `line1`, `Dubai` as `إمارة دبيّ`,
and the Indian state codes `MH` and `IN-MH` were refused).

Each row is normalised, and its result normalised again must not change: what is stored is a
fixed point, so a profile read and written back keeps its address.
"""

from __future__ import annotations

from typing import Any

import pytest

from custody.customers.validation import normalise_address, region_of_iso_code

ROWS: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    ("JP", "1-1 Chiyoda", {"region": "Tokyo", "postal_code": "100-0001"}, {"region": "Tokyo"}),
    ("JP", "千代田1-1", {"region": "東京都", "postal_code": "100-0001"}, {"region": "東京都"}),
    ("AE", "1 Sheikh Zayed Road", {"region": "Dubai"}, {"region": "Dubai"}),
    ("KR", "1 Jongno", {"region": "Seoul", "city": "Jongno-gu", "postal_code": "03154"}, {"region": "Seoul"}),
    ("KR", "종로 1", {"region": "서울특별시", "city": "종로구", "postal_code": "03154"}, {"region": "서울특별시"}),
    ("IN", "1 Marine Drive", {"region": "MH", "city": "Mumbai", "postal_code": "400001"}, {"region": "Maharashtra"}),
    ("IN", "1 Marine Drive", {"region": "in-mh", "city": "Mumbai", "postal_code": "400001"}, {"region": "Maharashtra"}),
    ("US", "1 Main St", {"region": "California", "city": "Mountain View", "postal_code": "94043"}, {"region": "CA"}),
    ("US", "1 Main St", {"region": "US-CA", "city": "Mountain View", "postal_code": "94043"}, {"region": "CA"}),
]


@pytest.mark.parametrize(
    ("country", "line1", "typed", "expected"), ROWS, ids=[f"{r[0]}-{r[2]['region']}" for r in ROWS]
)
def test_the_stored_region_is_in_the_typed_script_and_a_fixed_point(
    country: str, line1: str, typed: dict[str, Any], expected: dict[str, Any]
) -> None:
    fields = {"city": None, "region": None, "postal_code": None, **typed}
    stored = normalise_address(country, line1, **fields)
    assert {name: stored[name] for name in expected} == expected
    assert normalise_address(country, line1, **stored) == stored


def test_an_iso_code_the_data_does_not_list_is_no_region() -> None:
    assert region_of_iso_code("IN", "ZZ") is None
    assert region_of_iso_code("IN", "US-CA") is None
