"""Date claims (`iat`, `nbf`, `auth_time`) as numbers: only a finite moment counts as one.

A function reads them from the authorizer's claims, which API Gateway passes as text; a directly
invoked or forged event could say `nan`, and every comparison with NaN is false, so a recent
sign-in check written as `now - auth_time > max_age` would pass it.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.access_control.authorization import CLAIM_DATE_FORMAT, claim_time


@pytest.mark.parametrize("value", ["nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e400", "-1e400"])
def test_a_claim_that_is_no_moment_is_none(value: str) -> None:
    assert claim_time(value) is None


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_finite_number_is_itself(number: float) -> None:
    assert claim_time(repr(number)) == number


@given(st.text())
def test_any_text_is_a_finite_moment_or_none(value: str) -> None:
    parsed = claim_time(value)
    assert parsed is None or math.isfinite(parsed)


def test_the_authorizers_rendering_is_read() -> None:
    assert CLAIM_DATE_FORMAT
    assert claim_time("Thu Jan 01 00:00:10 UTC 1970") == 10.0
