"""The plan the steps after Freeze take from the workflow's state: complete and checked, never defaulted."""

from __future__ import annotations

import pytest

from custody.declared.errors import Forbidden
from custody.erasure.requests import ErasureReason
from custody.erasure.steps import ErasureSteps

PLAN = {"request_id": "r-1", "subject_id": "s-1", "scope": ["contact", "preferences"], "reason": "purpose_withdrawn"}


def test_the_plan_is_read_as_freeze_returned_it() -> None:
    request = ErasureSteps.planned(PLAN)
    assert (request.reason, request.scope, request.full) == (
        ErasureReason.PURPOSE_WITHDRAWN,
        frozenset({"contact", "preferences"}),
        False,
    )


def test_a_plan_without_its_reason_is_refused_rather_than_taken_for_a_full_erasure() -> None:
    with pytest.raises(KeyError):
        ErasureSteps.planned({name: value for name, value in PLAN.items() if name != "reason"})


def test_a_plan_naming_an_unknown_category_or_a_malformed_subject_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown categories"):
        ErasureSteps.planned({**PLAN, "scope": ["contact", "everything"]})
    with pytest.raises(Forbidden):
        ErasureSteps.planned({**PLAN, "subject_id": "../other"})
