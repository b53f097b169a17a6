"""Crash and resume: the erasure workflow stopped in every state it runs a Lambda step in, mid-step.

The Task states come from statemachines/erasure.asl.json at test time (never a hard-coded
list): every `lambda:invoke` Task whose payload names a step, that an uninterrupted run enters.
For each, the in-process Lambda is "killed" (`SimulatedCrash`, devstack.faults) at an AWS call in
the middle of the step's calls, after the earlier ones took effect. The run fails; an operator's
re-run (ErasureStarter.rerun — moto has no redrive) must end exactly where an
uninterrupted run ends: nothing of the customer anywhere, a certificate of the same shape, a
ledger chain that verifies, other customers unchanged.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from custody.audit.review.reader import AuditorReader
from custody.audit.review.verification import verify
from custody.declared.settings import Settings
from custody.erasure.starter import ErasureStarter
from custody.stores.requests import RequestsTable
from devstack.faults import Crash, FaultInjector, FaultPlan
from devstack.paths import REPO_ROOT
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import PROFILE, Customer, history, wait_for_execution
from tests.robustness.conftest import report_of, residue, scaled
from tests.robustness.figures import FIGURES

ASL = REPO_ROOT / "statemachines" / "erasure.asl.json"
FUNCTION = "erasure_steps"


def lambda_task_states() -> dict[str, str]:
    """State name -> step, for every Lambda Task state of the ASL (nested Map/Parallel included)."""
    found: dict[str, str] = {}

    def walk(states: dict[str, Any]) -> None:
        for name, state in states.items():
            if state.get("Type") == "Task" and "lambda:invoke" in str(state.get("Resource", "")):
                step = (state.get("Parameters") or {}).get("Payload", {}).get("step")
                if isinstance(step, str):
                    found[name] = step
            for nested in (state.get("ItemProcessor"), state.get("Iterator")):
                if nested:
                    walk(nested["States"])
            for branch in state.get("Branches", []):
                walk(branch["States"])

    walk(json.loads(ASL.read_text())["States"])
    return found


def _entered(events: list[dict[str, Any]]) -> list[str]:
    return [event["stateEnteredEventDetails"]["name"] for event in events if "stateEnteredEventDetails" in event]


def _shape(value: Any) -> Any:
    """A certificate's shape: its keys and value types, never its values (ids, times, digests differ)."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        return sorted({json.dumps(_shape(item), sort_keys=True) for item in value})
    return type(value).__name__


def _erase_and_check(
    stack: LocalStack, leaving: Customer, settings: Settings, request_id: str, first: dict[str, Any]
) -> dict[str, Any]:
    described, attempt = first, 0
    while described["status"] != "SUCCEEDED":
        attempt += 1
        assert attempt <= 3, f"the re-run did not finish: {described.get('error')}"
        described = wait_for_execution(stack, ErasureStarter(settings).rerun(request_id, attempt))
    assert residue(stack, leaving.subject_id) == {}
    chain = AuditorReader(settings, stack.clients).chain(request_id)
    assert verify(chain).ok, verify(chain).findings
    record = RequestsTable(settings).load(request_id)
    assert record is not None
    assert record["status"] == "completed"
    return dict(record)


@pytest.fixture(scope="module")
def baseline(local_stack: LocalStack) -> dict[str, Any]:
    """An uninterrupted run: which Lambda Task states it enters, how many AWS calls each step makes."""
    person = Customer.signed_up(local_stack, "baseline-crash@example.com")
    _fill_lightly(person)
    settings = Settings.from_env(local_stack.resources.environment)
    injector = FaultInjector(FaultPlan(seed=0))
    with injector.active() as log:
        request_id = person.call("POST", "/v1/me/withdrawal").body["request_id"]
        described = wait_for_execution(local_stack, request_id)
    assert described["status"] == "SUCCEEDED"
    record = RequestsTable(settings).load(request_id)
    assert record is not None
    entered = Counter(_entered(history(local_stack, described["executionArn"])))
    return {"entered": entered, "calls": Counter(log.calls_by_step), "certificate": _shape(record["certificate"])}


def _fill_lightly(person: Customer) -> None:
    """Something in every kind of store (a table with categories, the documents bucket), in three calls."""
    assert person.call("POST", "/v1/me/consents", {"purpose": "crm_core", "policy_version": "2026-11"}).status == 201
    assert person.call("PUT", "/v1/me/profile", {"identity": PROFILE["identity"]}).status == 200
    upload = {"file_name": "a.txt", "content_type": "text/plain", "content_base64": "VmV4YnVyeQ=="}
    assert person.call("POST", "/v1/me/documents", upload).status == 201


def _crash_points(baseline: dict[str, Any]) -> list[tuple[str, str, int]]:
    points = []
    for state, step in lambda_task_states().items():
        if not baseline["entered"][state]:
            continue  # not on the path of an uninterrupted run (e.g. RecordFailure)
        calls = baseline["calls"][f"{FUNCTION}:{step}"] // baseline["entered"][state]  # per invocation
        assert calls > 0, f"{state} made no AWS call"
        chosen = {max(1, calls // 2)} if not scaled(0, 1) else set(range(1, calls + 1))
        points += [(state, step, at) for at in sorted(chosen)]
    return points


def test_the_states_come_from_the_asl_and_the_uninterrupted_run(baseline: dict[str, Any]) -> None:
    states = lambda_task_states()
    assert states, "no Lambda Task state in the ASL"
    on_path = [state for state in states if baseline["entered"][state]]
    assert len(on_path) >= 5, on_path


def test_a_crash_mid_step_in_every_state_resumes_to_the_uninterrupted_end_state(
    local_stack: LocalStack, new_customer: Any, baseline: dict[str, Any]
) -> None:
    """Soak: each crash point on its own customer. Fast: one customer whose erasure is crashed in
    every state in turn — each re-run gets one state further and crashes there, on top of the
    partial effects of every earlier crash — until a last re-run finishes."""
    settings = Settings.from_env(local_stack.resources.environment)
    points = _crash_points(baseline)
    staying = new_customer()
    staying.fill()
    others_before = report_of(staying)
    chained = not scaled(0, 1)
    groups = [points] if chained else [[point] for point in points]
    for group in groups:
        leaving = new_customer()
        _fill_lightly(leaving)
        starter = ErasureStarter(settings)
        request_id = ""
        for attempt, (state, step, at) in enumerate(group):
            injector = FaultInjector(FaultPlan(seed=at, crash=Crash(FUNCTION, step, at)))
            with injector.active() as log:
                if attempt == 0:
                    request_id = leaving.call("POST", "/v1/me/withdrawal").body["request_id"]
                    execution = request_id
                else:
                    execution = starter.rerun(request_id, attempt)
                described = wait_for_execution(local_stack, execution)
            assert log.crashed, f"{state}: the crash at call {at} of {step} did not happen"
            assert described["status"] == "FAILED", f"{state}: a crash must fail the run ({described['status']})"
            assert "SimulatedCrash" in json.dumps(history(local_stack, described["executionArn"]), default=str)
            FIGURES.add("crash_points")
            FIGURES.detail("crashes_by_state", {state: 1})
        final = starter.rerun(request_id, len(group))
        record = _erase_and_check(local_stack, leaving, settings, request_id, wait_for_execution(local_stack, final))
        assert _shape(record["certificate"]) == baseline["certificate"], "the certificate differs"
        assert report_of(staying) == others_before, "another customer changed"
        FIGURES.add("erasures_verified")
        FIGURES.add("erasure_reruns", len(group))
    assert points
