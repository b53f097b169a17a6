"""The state machine and its steps agree, from one list (`custody.declared.workflow.STEPS`).

The ASL names each step in a Task's `Payload.step`; the dispatcher maps each name to code; each
has an input contract. A step added, renamed or dropped in any of the three fails here, and so
does a Payload field its step's contract does not declare, or a required one the ASL omits.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from custody.declared import workflow as declared
from custody.erasure import contract, workflow
from devstack.paths import ERASURE_ASL


def _tasks(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        payload = (state.get("Parameters") or {}).get("Payload")
        if isinstance(payload, dict) and "step" in payload:
            yield name, payload
        if "ItemProcessor" in state:
            yield from _tasks(state["ItemProcessor"]["States"])


TASKS = list(_tasks(json.loads(ERASURE_ASL.read_text())["States"]))


def test_the_asl_the_dispatcher_and_the_contracts_name_the_same_steps() -> None:
    in_asl = {payload["step"] for _, payload in TASKS}
    assert in_asl == set(declared.STEPS)
    assert set(workflow.STEPS) == set(declared.STEPS)
    assert set(contract.INPUTS) == set(declared.STEPS)
    assert all(step.name == name for name, step in workflow.STEPS.items())


@pytest.mark.parametrize(("state", "payload"), TASKS, ids=[name for name, _ in TASKS])
def test_each_payload_is_its_steps_contract(state: str, payload: dict[str, Any]) -> None:
    fields = {name.removesuffix(".$") for name in payload}
    model = contract.INPUTS[payload["step"]]
    declared_fields = set(model.model_fields)
    required = {name for name, field in model.model_fields.items() if field.is_required()}
    assert fields <= declared_fields, f"{state} sends {sorted(fields - declared_fields)} its step does not take"
    assert required <= fields, f"{state} omits {sorted(required - fields)}"


def test_a_request_counts_the_workflows_milestones() -> None:
    from custody.stores.requests import status_view

    item = {"request_id": "r", "reason": "withdrawal", "status": "completed", "created_at": "t", "steps": {}}
    item["steps"] = dict.fromkeys([*declared.MILESTONES, declared.FAILED], "t")
    view = status_view(item, declared.MILESTONES)
    assert (view["steps_done"], view["steps_total"]) == (len(declared.MILESTONES), len(declared.MILESTONES))
