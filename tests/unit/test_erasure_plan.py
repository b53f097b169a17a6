"""The contract the steps after Freeze take from the workflow's state: complete and checked, never defaulted."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from custody.erasure import workflow
from custody.erasure.contract import ShredKeyInput
from custody.stores.requests import ErasureReason

PLAN = {
    "step": "shred_key",
    "request_id": str(uuid.uuid4()),
    "subject_id": str(uuid.uuid4()),
    "scope": ["contact", "preferences"],
    "reason": "purpose_withdrawn",
}


def test_the_plan_is_read_as_freeze_returned_it() -> None:
    event = workflow.parse(PLAN)
    assert isinstance(event, ShredKeyInput)
    assert (event.reason, event.scope, event.full) == (
        ErasureReason.PURPOSE_WITHDRAWN,
        ("contact", "preferences"),
        False,
    )


def test_a_plan_without_its_reason_is_refused_rather_than_taken_for_a_full_erasure() -> None:
    with pytest.raises(ValidationError):
        workflow.parse({name: value for name, value in PLAN.items() if name != "reason"})


@pytest.mark.parametrize(
    "change",
    [
        {"scope": ["contact", "everything"]},
        {"subject_id": "../other"},
        {"request_id": "r-1"},
        {"step": "notify_everyone"},
        {"unexpected": 1},
        {"reason": "because"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_an_event_outside_the_contract_is_refused_before_any_step_runs(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        workflow.parse({**PLAN, **change})
