"""Admission at capacity on the in-process stack: the real ASL on moto, the real functions at their boundary.

Step Functions' status-change events are delivered here by `deliver_endings` (the event EventBridge
sends, built from `DescribeExecution`, invoked on `erasure_outcomes` as its rule's target would); the
admission queue is drained by its event source mapping, polled by the test.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from custody.audit.review.reader import AuditorReader
from custody.declared import catalog, clock, naming, workflow
from custody.declared.settings import Settings
from custody.erasure import admission as admission_module
from custody.erasure.admission import Admission, Ticket
from custody.erasure.outcomes import Outcomes
from custody.stores import dynamo
from custody.stores.erasure_slots import POOL, RUNNING, ErasureSlots
from custody.stores.requests import ErasureReason, ErasureRequest, RequestsTable, RequestStatus
from devstack.gateway import lambda_invoker
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import Customer, wait_for_execution

DETAIL_TYPE = "Step Functions Execution Status Change"


@pytest.fixture(autouse=True)
def _reconcile_any_time() -> Iterator[None]:
    admission_module._last_reconcile.clear()
    yield
    admission_module._last_reconcile.clear()


def _executions(stack: LocalStack) -> list[dict[str, Any]]:
    sfn = stack.clients("stepfunctions")
    arn = stack.resources.state_machines[naming.ERASURE_STATE_MACHINE]
    found: list[dict[str, Any]] = []
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn):
        found.extend(page["executions"])
    return found


def status_change(stack: LocalStack, name: str, status: str) -> dict[str, Any]:
    """The event EventBridge delivers for an erasure execution's status change (Step Functions developer
    guide, "EventBridge for Step Functions execution status changes"), `input` included as it is."""
    machine = stack.resources.state_machines[naming.ERASURE_STATE_MACHINE]
    execution = machine.replace(":stateMachine:", ":execution:") + f":{name}"
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": "aws.states",
        "account": stack.resources.account_id,
        "time": "2026-11-02T10:00:00Z",
        "region": stack.resources.region,
        "resources": [execution],
        "detail": {
            "executionArn": execution,
            "stateMachineArn": machine,
            "name": name,
            "status": status,
            "startDate": 1_793_000_000_000,
            "stopDate": 1_793_000_060_000,
            "input": json.dumps({"request_id": name.split("-rerun-")[0]}),
            "output": None,
            "inputDetails": {"included": True},
            "outputDetails": None,
            "error": "States.Runtime" if status == "FAILED" else None,
            "cause": "an error text the function never reads" if status == "FAILED" else None,
        },
    }


def invoke_outcomes(stack: LocalStack, event: dict[str, Any]) -> dict[str, Any]:
    name = stack.resources.functions[naming.ERASURE_OUTCOMES].name
    outcome = lambda_invoker(stack.clients("lambda"))(name, event)
    assert not outcome.errored, outcome.error_type
    result: dict[str, Any] = outcome.result()
    return result


def deliver_endings(stack: LocalStack, already: set[str]) -> int:
    """What EventBridge does for every execution that ended since: invoke the rule's target once each."""
    delivered = 0
    for execution in _executions(stack):
        if execution["status"] != "RUNNING" and execution["name"] not in already:
            invoke_outcomes(stack, status_change(stack, execution["name"], execution["status"]))
            already.add(execution["name"])
            delivered += 1
    return delivered


def _queued(stack: LocalStack) -> int:
    attributes = stack.clients("sqs").get_queue_attributes(
        QueueUrl=stack.resources.queues[naming.ERASURE_ADMISSIONS],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def _settings(stack: LocalStack) -> Settings:
    return Settings.from_env(stack.resources.environment)


def _recorded_request(settings: Settings, status: RequestStatus = RequestStatus.IN_PROGRESS) -> ErasureRequest:
    """A request as the withdrawal records it, moved to `status` (no customer needed: ids only)."""
    request = ErasureRequest.new(str(uuid.uuid4()), ErasureReason.WITHDRAWAL, ())
    requests = RequestsTable(settings)
    dynamo.transact([requests.put_new(request)])
    if status is not RequestStatus.RECEIVED:
        requests.mark(request.request_id, status=status)
    return request


def _ledger_outcomes(stack: LocalStack, settings: Settings, request_id: str) -> list[str]:
    chain = AuditorReader(settings, stack.clients).chain(request_id, with_history=False)
    return [event.outcome for event in chain.latest_events() if event.step == "erasure_ended"]


def _empty_pool(settings: Settings) -> None:
    slots = ErasureSlots(settings)
    for name in slots.running():
        slots.release(name)


# --- a burst larger than the capacity --------------------------------------------------------


def test_a_burst_larger_than_the_capacity_starts_every_erasure_exactly_once(local_stack: LocalStack) -> None:
    settings = _settings(local_stack)
    _empty_pool(settings)
    capacity = settings.erasure_concurrency
    # Every slot held by erasures still running (claimed just now: a reconcile leaves them), so the
    # burst finds none; locally an erasure ends in a second and would free its slot mid-burst.
    slots = ErasureSlots(settings)
    holders = [f"held-{index}" for index in range(capacity)]
    for name in holders:
        assert slots.claim(name)
    burst = 5
    customers = [Customer.signed_up(local_stack) for _ in range(burst)]
    request_ids = []
    for customer in customers:
        reply = customer.call("POST", "/v1/me/withdrawal")
        assert reply.status == 202, reply.text  # accepted at any rate: none refused
        request_ids.append(reply.body["request_id"])
    assert _executions(local_stack) == [] or not {e["name"] for e in _executions(local_stack)} & set(request_ids)
    assert _queued(local_stack) == burst

    for name in holders:
        slots.release(name)
    assert local_stack.admission is not None
    rounds = 0
    while _queued(local_stack) and rounds < 10:
        local_stack.admission.poll_once()
        rounds += 1
    assert _queued(local_stack) == 0
    for request_id in request_ids:
        assert wait_for_execution(local_stack, request_id)["status"] == "SUCCEEDED"
    local_stack.wait_for_async()  # the outcome rule's invocations (EventBridge, locally)

    names = [execution["name"] for execution in _executions(local_stack) if execution["name"] in request_ids]
    assert sorted(names) == sorted(request_ids)  # each request once, named by itself
    requests = RequestsTable(settings)
    assert {requests.load(request_id)["status"] for request_id in request_ids} == {"completed"}  # type: ignore[index]
    assert ErasureSlots(settings).running() == {}


# --- endings, recorded whatever ended the run --------------------------------------------------


@pytest.mark.parametrize("status", ["FAILED", "TIMED_OUT", "ABORTED"])
def test_an_unsuccessful_ending_frees_the_slot_marks_the_request_failed_and_is_audited(
    local_stack: LocalStack, status: str
) -> None:
    settings = _settings(local_stack)
    request = _recorded_request(settings)
    slots = ErasureSlots(settings)
    assert slots.claim(request.request_id)

    answer = invoke_outcomes(local_stack, status_change(local_stack, request.request_id, status))

    assert answer == {"recorded": True, "status": status, "marked_failed": True}
    assert request.request_id not in slots.running()
    record = RequestsTable(settings).load(request.request_id)
    assert record is not None
    assert record["status"] == "failed"
    assert record["failure"] == f"execution_{workflow.EXECUTION_ENDINGS[status]}"
    assert workflow.FAILED in record["steps"]
    assert _ledger_outcomes(local_stack, settings, request.request_id) == [workflow.EXECUTION_ENDINGS[status]]


def test_a_successful_ending_frees_the_slot_and_records_nothing_else(local_stack: LocalStack) -> None:
    settings = _settings(local_stack)
    request = _recorded_request(settings, RequestStatus.COMPLETED)
    slots = ErasureSlots(settings)
    assert slots.claim(request.request_id)

    assert invoke_outcomes(local_stack, status_change(local_stack, request.request_id, "SUCCEEDED"))["recorded"]

    assert request.request_id not in slots.running()
    assert RequestsTable(settings).load(request.request_id)["status"] == "completed"  # type: ignore[index]
    assert _ledger_outcomes(local_stack, settings, request.request_id) == []


def test_a_late_failure_of_the_first_run_leaves_a_rerun_completed_request_completed(local_stack: LocalStack) -> None:
    settings = _settings(local_stack)
    request = _recorded_request(settings, RequestStatus.COMPLETED)
    rerun = naming.execution_name(request.request_id, 1)
    assert ErasureSlots(settings).claim(rerun)

    first = invoke_outcomes(local_stack, status_change(local_stack, request.request_id, "FAILED"))
    second = invoke_outcomes(local_stack, status_change(local_stack, rerun, "SUCCEEDED"))

    assert first["marked_failed"] is False
    assert second["recorded"]
    assert RequestsTable(settings).load(request.request_id)["status"] == "completed"  # type: ignore[index]
    assert rerun not in ErasureSlots(settings).running()


def test_events_of_another_machine_or_a_running_status_are_ignored(local_stack: LocalStack) -> None:
    settings = _settings(local_stack)
    request = _recorded_request(settings)
    running = status_change(local_stack, request.request_id, "RUNNING")
    foreign = status_change(local_stack, request.request_id, "FAILED")
    foreign["detail"]["stateMachineArn"] += "-other"
    for event in (running, foreign):
        assert invoke_outcomes(local_stack, event) == {"recorded": False}
    assert RequestsTable(settings).load(request.request_id)["status"] == "in_progress"  # type: ignore[index]


# --- never dropped: the last receive, reconciliation ---------------------------------------------


def _fill_pool(settings: Settings, claimed_at: str) -> list[str]:
    """Every slot taken by executions that do not exist, claimed at `claimed_at`."""
    names = [str(uuid.uuid4()) for _ in range(settings.erasure_concurrency)]
    slots = ErasureSlots(settings)
    for name in names:
        assert slots.claim(name)
    for name in names:
        dynamo.clients.dynamodb().update_item(
            TableName=slots.table,
            Key=dynamo.to_item({"pool_id": POOL}),
            UpdateExpression="SET #running.#name = :at",
            ExpressionAttributeNames={"#running": RUNNING, "#name": name},
            ExpressionAttributeValues=dynamo.to_values({":at": claimed_at}),
        )
    return names


def test_a_ticket_at_its_last_receive_leaves_its_request_recorded_failed(
    local_stack: LocalStack, settings: Settings
) -> None:
    _empty_pool(settings)
    names = _fill_pool(settings, "2999-01-01T00:00:00.000Z")  # fresh: no reconcile may free them
    request = _recorded_request(settings, RequestStatus.RECEIVED)
    admission = Admission(settings)

    assert admission.admit_ticket(Ticket(request.request_id), receive_count=2) is False
    assert RequestsTable(settings).load(request.request_id)["status"] == "received"  # type: ignore[index]
    assert admission.admit_ticket(Ticket(request.request_id), receive_count=catalog.ADMISSION_MAX_RECEIVES) is False

    record = RequestsTable(settings).load(request.request_id)
    assert record is not None
    assert (record["status"], record["failure"]) == ("failed", "not_started")
    assert _ledger_outcomes(local_stack, settings, request.request_id) == ["not_started"]
    assert set(ErasureSlots(settings).running()) == set(names)  # it never held one
    _empty_pool(settings)


def test_reconcile_frees_slots_whose_execution_ended_or_never_started(
    local_stack: LocalStack, settings: Settings
) -> None:
    _empty_pool(settings)
    customer = Customer.signed_up(local_stack)
    ended = customer.call("POST", "/v1/me/withdrawal").body["request_id"]
    assert wait_for_execution(local_stack, ended)["status"] == "SUCCEEDED"
    local_stack.wait_for_async()
    never_started = str(uuid.uuid4())
    just_claimed = str(uuid.uuid4())
    slots = ErasureSlots(settings)
    assert slots.claim(ended)  # as if Certify's release and the ending's event were both lost
    assert slots.claim(never_started)
    assert slots.claim(just_claimed)
    dynamo.clients.dynamodb().update_item(
        TableName=slots.table,
        Key=dynamo.to_item({"pool_id": POOL}),
        UpdateExpression="SET #running.#name = :at",
        ExpressionAttributeNames={"#running": RUNNING, "#name": never_started},
        ExpressionAttributeValues=dynamo.to_values({":at": "2000-01-01T00:00:00.000Z"}),
    )

    freed = Admission(settings).reconcile(clock.now())

    assert freed == 2
    assert set(slots.running()) == {just_claimed}  # its StartExecution may still be on its way
    _empty_pool(settings)


def test_a_full_pool_of_leaked_slots_admits_the_next_ticket_through_the_queue(
    local_stack: LocalStack, settings: Settings
) -> None:
    _empty_pool(settings)
    _fill_pool(settings, "2000-01-01T00:00:00.000Z")  # leaked: their executions never existed
    customer = Customer.signed_up(local_stack)
    request_id = customer.call("POST", "/v1/me/withdrawal").body["request_id"]
    assert _queued(local_stack) == 1
    assert local_stack.admission is not None

    delivered = local_stack.admission.poll_once()

    assert delivered.deleted
    assert not delivered.failed
    assert wait_for_execution(local_stack, request_id)["status"] == "SUCCEEDED"
    local_stack.wait_for_async()
    # the reconcile freed the oldest leaked slots; the new erasure's own slot went at its certificate
    assert len(ErasureSlots(settings).running()) == settings.erasure_concurrency - admission_module.RECONCILE_BATCH
    _empty_pool(settings)


def test_outcomes_are_recorded_once_per_call_and_a_second_delivery_changes_no_state(settings: Settings) -> None:
    request = _recorded_request(settings)
    outcomes = Outcomes(settings)
    assert outcomes.ended(request.request_id, "TIMED_OUT").marked_failed
    assert not outcomes.ended(request.request_id, "TIMED_OUT").marked_failed  # failed stays failed, as it was
    assert RequestsTable(settings).load(request.request_id)["status"] == "failed"  # type: ignore[index]
    with pytest.raises(ValueError, match="terminal"):
        outcomes.ended(request.request_id, "RUNNING")
