"""The workflow's other paths: partial scope, residue found by Verify, a failure in any state, a re-run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from custody.declared import workflow as workflow_names
from custody.declared.settings import Settings
from custody.erasure import workflow
from custody.erasure.contract import EraseStoresInput, EraseStoresOutput, StoreTotal
from custody.erasure.starter import ErasureStarter
from custody.erasure.steps.context import StepContext
from custody.stores.requests import ErasureReason, ErasureRequest, RequestsTable
from devstack.paths import ERASURE_ASL
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import Customer, history, wait_for_execution
from tests.integration.erasure.test_withdrawal import _residue


class ProbeError(Exception):
    """Raised only by these tests: its name in the history proves the injection took effect."""


def _entered(events: list[dict[str, Any]]) -> list[str]:
    return [event["stateEnteredEventDetails"]["name"] for event in events if "stateEnteredEventDetails" in event]


def _settings(stack: LocalStack) -> Settings:
    return Settings.from_env(stack.resources.environment)


def _replace(monkeypatch: pytest.MonkeyPatch, step: str, run: Any) -> Any:
    """Run `run` for this step from now on (the dispatcher looks steps up on every invocation); returns the original."""
    original = workflow.STEPS[step].run
    monkeypatch.setitem(workflow.STEPS, step, workflow.Step(step, run))  # type: ignore[arg-type]
    return original


def test_withdrawing_one_purpose_erases_only_what_it_justified(local_stack: LocalStack, customer: Customer) -> None:
    customer.fill()
    reply = customer.call("DELETE", "/v1/me/consents/payments")
    erasure = reply.body["erasure"]
    assert erasure["categories"] == ["payment", "exports"]  # an export taken before may hold the card
    assert wait_for_execution(local_stack, erasure["request_id"])["status"] == "SUCCEEDED"

    report = customer.call("GET", "/v1/me")
    assert report.status == 200, "the account, its key and its identity stay"
    categories = report.body["stores"]["profiles"]["categories"]
    assert set(categories) == {"identity", "contact", "preferences", "health"}
    assert report.body["stores"]["documents"]["items"], "documents are justified by crm_core, still granted"
    assert customer.call("GET", erasure["status_url"]).body["status"] == "completed"
    # The erasure is no longer open; the change request fill() opened still awaits its review.
    assert erasure["request_id"] not in [item["request_id"] for item in report.body["open_requests"]]
    assert [item["kind"] for item in report.body["requests"]] == ["rectification"]


def test_residue_found_by_verify_sends_the_run_round_again(
    local_stack: LocalStack, customer: Customer, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer.fill(documents=2)
    skipped: list[str] = []

    def forgetful(context: StepContext, event: EraseStoresInput) -> EraseStoresOutput:
        if not skipped:
            skipped.append("documents")
            event = event.model_copy(update={"stores": tuple(s for s in event.stores if s != "documents")})
            output: EraseStoresOutput = original(context, event)
            return output.model_copy(update={"stores": (*output.stores, StoreTotal(store="documents", erased=0))})
        return original(context, event)  # type: ignore[no-any-return]

    original = _replace(monkeypatch, "erase_stores", forgetful)
    request_id = customer.call("POST", "/v1/me/withdrawal").body["request_id"]
    described = wait_for_execution(local_stack, request_id)
    assert described["status"] == "SUCCEEDED"
    assert _entered(history(local_stack, described["executionArn"])).count("CountRound") == 1
    assert _residue(local_stack, customer.subject_id) == {}
    # each round's totals are kept apart and summed: the second round erased what the first forgot
    item = RequestsTable(Settings.from_env(local_stack.resources.environment)).load(request_id)
    assert item is not None
    assert sorted(run.get("documents", 0) for run in item["erased"].values()) == [0, 2]
    assert item["certificate"]["stores"]["documents"] == 2


def test_residue_that_survives_three_rounds_fails_the_run_and_alarms(
    local_stack: LocalStack, customer: Customer, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer.fill()

    def stubborn(context: StepContext, event: EraseStoresInput) -> EraseStoresOutput:
        event = event.model_copy(update={"stores": tuple(s for s in event.stores if s != "consents")})
        return original(context, event)  # type: ignore[no-any-return]

    original = _replace(monkeypatch, "erase_stores", stubborn)
    request_id = customer.call("POST", "/v1/me/withdrawal").body["request_id"]
    described = wait_for_execution(local_stack, request_id)
    assert (described["status"], described["error"]) == ("FAILED", "ErasureFailed")
    entered = _entered(history(local_stack, described["executionArn"]))
    assert entered.count("CountRound") == 3
    assert entered[-3:] == ["RecordFailure", "AlarmOnFailure", "ErasureFailed"]
    status = customer.call("GET", f"/v1/requests/{request_id}").body
    assert status["status"] == "failed"


# Task states an uninterrupted withdrawal of a customer without sub-processors does not enter, and why.
# Every other Task state of the ASL is failed below: a step added to the workflow is failed here too.
OFF_THE_PLAIN_PATH = {
    workflow_names.ASK_PROCESSOR: "runs only for a registered sub-processor (tests/integration/staff)",
    workflow_names.RECORD_PROCESSOR_OUTCOME: "runs only for a registered sub-processor (tests/integration/staff)",
    workflow_names.RECORD_FAILURE: "is where a failure goes; its own failure is the alarm's (test_crash_resume)",
}


def _step_states(states: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(step, state) of every Task state naming a step in its Payload, in the ASL's order, Map bodies included."""
    for name, state in states.items():
        payload = (state.get("Parameters") or {}).get("Payload")
        if isinstance(payload, dict) and "step" in payload:
            yield payload["step"], name
        if "ItemProcessor" in state:
            yield from _step_states(state["ItemProcessor"]["States"])


STEP_STATES = [
    (step, state)
    for step, state in _step_states(json.loads(ERASURE_ASL.read_text())["States"])
    if step not in OFF_THE_PLAIN_PATH
]


def test_every_step_of_the_asl_is_failed_below_or_says_why_not() -> None:
    failed = {step for step, _ in STEP_STATES}
    assert failed | set(OFF_THE_PLAIN_PATH) == set(workflow_names.STEPS)
    assert {"freeze", "erase_stores", "list_processors", "shred_key", "delete_identity", "verify", "certify"} <= failed


@pytest.mark.parametrize(("step", "state"), STEP_STATES, ids=[f"{step}-{state}" for step, state in STEP_STATES])
def test_a_failure_in_any_state_is_recorded_and_a_rerun_finishes_the_job(
    local_stack: LocalStack, new_customer: Any, monkeypatch: pytest.MonkeyPatch, step: str, state: str
) -> None:
    leaving, staying = new_customer(), new_customer()
    leaving.fill(documents=2)
    staying.fill()
    before = staying.call("GET", "/v1/me").body

    def failing_once(context: StepContext, event: Any) -> Any:
        # The real work happens first: the crash comes after a partial effect, as it would.
        original(context, event)
        raise ProbeError(f"{step} crashed after doing its work")

    original = _replace(monkeypatch, step, failing_once)
    request_id = leaving.call("POST", "/v1/me/withdrawal").body["request_id"]
    described = wait_for_execution(local_stack, request_id)
    assert described["status"] == "FAILED"
    events = history(local_stack, described["executionArn"])
    failed = [event["taskFailedEventDetails"]["error"] for event in events if event["type"] == "TaskFailed"]
    assert "ProbeError" in failed
    assert state in _entered(events)
    # A crash after the certificate was filed leaves the request certified (`completed`), the failure
    # recorded beside it; before it, the request is `failed`.
    expected = "completed" if step == "certify" else "failed"
    assert leaving.call("GET", f"/v1/requests/{request_id}").body["status"] == expected
    recorded = RequestsTable(_settings(local_stack)).load(request_id) or {}
    assert recorded.get("follow_up_failure" if step == "certify" else "failure") == "ProbeError"

    monkeypatch.setitem(workflow.STEPS, step, workflow.Step(step, original))
    request = RequestsTable(_settings(local_stack)).erasure(request_id)
    assert request is not None
    rerun = ErasureStarter(_settings(local_stack)).start(request, attempt=1)
    assert wait_for_execution(local_stack, rerun)["status"] == "SUCCEEDED"
    assert _residue(local_stack, leaving.subject_id) == {}
    status = leaving.call("GET", f"/v1/requests/{request_id}").body
    assert (status["status"], status["steps_done"]) == ("completed", 7)
    # whichever state crashed, the certificate counts what the runs erased, once: a run stopped after
    # EraseStores left its totals for the re-run's certificate (found by a fresh break: it said 0)
    certified = RequestsTable(_settings(local_stack)).load(request_id) or {}
    assert certified["certificate"]["stores"]["documents"] == 2
    after = staying.call("GET", "/v1/me").body
    before.pop("generated_at")
    after.pop("generated_at")
    assert after == before


def test_running_a_completed_erasure_again_changes_nothing(local_stack: LocalStack, customer: Customer) -> None:
    customer.fill()
    request_id = customer.call("POST", "/v1/me/withdrawal").body["request_id"]
    assert wait_for_execution(local_stack, request_id)["status"] == "SUCCEEDED"
    requests = RequestsTable(_settings(local_stack))
    first = requests.load(request_id)
    request = requests.erasure(request_id)
    assert request is not None
    rerun = ErasureStarter(_settings(local_stack)).start(request, attempt=1)
    assert wait_for_execution(local_stack, rerun)["status"] == "SUCCEEDED"
    second = requests.load(request_id)
    assert first is not None
    assert second is not None
    assert (second["status"], second["certificate_digest"]) == ("completed", first["certificate_digest"])
    assert second["certificate"] == first["certificate"]


def test_an_execution_naming_another_subject_erases_no_one(local_stack: LocalStack, new_customer: Any) -> None:
    victim, other = new_customer(), new_customer()
    victim.fill()
    other.fill()
    requests = RequestsTable(_settings(local_stack))
    recorded = ErasureRequest.new(victim.subject_id, ErasureReason.WITHDRAWAL, ())
    local_stack.clients("dynamodb").transact_write_items(TransactItems=[requests.put_new(recorded)])
    forged = ErasureRequest(
        recorded.request_id, other.subject_id, recorded.reason, recorded.scope, recorded.status, recorded.created_at
    )
    described = wait_for_execution(local_stack, ErasureStarter(_settings(local_stack)).start(forged))
    assert described["status"] == "FAILED"
    events = history(local_stack, described["executionArn"])
    failed = [event["taskFailedEventDetails"]["error"] for event in events if event["type"] == "TaskFailed"]
    assert failed[0] == "RequestNotFound"
    assert "AlarmOnFailure" in _entered(events)
    assert _residue(local_stack, victim.subject_id).keys() >= {"profiles", "subject_keys"}
    assert _residue(local_stack, other.subject_id).keys() >= {"profiles", "subject_keys"}
