"""The delivery path to sub-processors, through the real ASL on moto: queue → relay → HTTPS → acknowledgement.

The relay function runs in the in-process Lambda runtime under the template's IAM; the queue's
event source mapping is `local_stack.relay` (polled here, round by round), the processor the
loopback HTTPS fake (`devstack.processor_endpoint`), which verifies the signature and calls the
acknowledgement route with its own machine token.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from custody.declared import catalog, naming
from devstack.processor_endpoint import Delivery, FakeProcessor
from devstack.queue_source import QueueEventSource
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import PROFILE, SUBMITTED_VALUES, Customer, wait_for_execution
from tests.integration.staff.conftest import Caller, agreement, consented


def https_channel(stack: LocalStack, **extra: Any) -> dict[str, Any]:
    assert stack.processor is not None
    return {"kind": "https", "endpoint": stack.processor.endpoint, **extra}


def register(officer: Caller, processor_id: str, channel: dict[str, Any], **extra: Any) -> Any:
    """An agreement whose principal is the machine client named after the processor (as the fake acts)."""
    principal = Caller(officer.stack, officer.stack.processor_token(processor_id)).sub
    body = agreement(principal, deletion_channel=channel, **extra)
    return officer.call("PUT", f"/v1/staff/processors/{processor_id}", body)


def erase_customer_shared_with(
    stack: LocalStack, new_customer: Any, staff: Any, processor_id: str
) -> tuple[Customer, str]:
    customer = consented(new_customer, "crm_core", "marketing", f"sharing:{processor_id}")
    assert customer.call("PUT", "/v1/me/profile", {"contact": PROFILE["contact"]}).status == 200
    body = {"processor_id": processor_id, "categories": ["contact"]}
    assert staff("support").call("POST", f"/v1/staff/customers/{customer.subject_id}/disclosures", body).status == 201
    withdrawal = customer.call("POST", "/v1/me/withdrawal", {})
    assert withdrawal.status == 202, withdrawal.text
    return customer, str(withdrawal.body["request_id"])


def relay(stack: LocalStack) -> QueueEventSource:
    assert stack.relay is not None
    return stack.relay


def fake(stack: LocalStack) -> FakeProcessor:
    assert stack.processor is not None
    return stack.processor


def poll_until(stack: LocalStack, match: Any, timeout: float = 30.0) -> list[Delivery]:
    """Poll the queue as the mapping does until the fake processor has seen deliveries that `match`; those."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        relay(stack).poll_once()
        try:
            seen = fake(stack).wait_for(lambda deliveries: any(map(match, deliveries)), timeout=0.2)
        except AssertionError:
            continue
        return [delivery for delivery in seen if match(delivery)]
    raise AssertionError(f"the fake processor saw {fake(stack).deliveries}")


def outcomes(stack: LocalStack, request_id: str) -> dict[str, str]:
    request = stack.clients("dynamodb").get_item(
        TableName=stack.resources.tables["requests"], Key={"request_id": {"S": request_id}}
    )["Item"]
    return {name: value["S"] for name, value in request.get("sub_processors", {}).get("M", {}).items()}


def dead_letters(stack: LocalStack) -> list[dict[str, Any]]:
    """Every message on the dead-letter queue, however many earlier tests left there (a receive returns ≤ 10)."""
    sqs = stack.clients("sqs")
    url = stack.resources.queues[naming.PROCESSOR_NOTIFICATIONS] + "-dlq"
    seen: dict[str, dict[str, Any]] = {}
    receipts: list[str] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30).get("Messages", [])
        fresh = [item for item in batch if item["MessageId"] not in seen]
        if not fresh:
            break
        for item in fresh:
            seen[item["MessageId"]] = json.loads(item["Body"])
            receipts.append(item["ReceiptHandle"])
    for receipt in receipts:  # visible again for the next look
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=receipt, VisibilityTimeout=0)
    return list(seen.values())


def retry_until_dead_letter(stack: LocalStack, request_id: str) -> list[dict[str, Any]]:
    """Poll as the mapping would, letting each backoff delay pass at once, until SQS dead-letters the request."""
    sqs = stack.clients("sqs")
    url = stack.resources.queues[naming.PROCESSOR_NOTIFICATIONS]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = [body for body in dead_letters(stack) if body["request_id"] == request_id]
        if found:
            return found
        round_ = relay(stack).poll_once()
        if not round_.received:
            time.sleep(0.05)  # the workflow has not asked yet
        assert not round_.deleted, "a failing delivery was deleted from the queue"
        for receipt in round_.receipts.values():  # the relay's jittered delay, elapsed
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=receipt, VisibilityTimeout=0)
    raise AssertionError("the request never reached the dead-letter queue")


def test_a_processor_is_notified_over_https_signed_and_its_acknowledgement_confirms_it(
    local_stack: LocalStack, new_customer: Any, staff: Any
) -> None:
    officer = staff("privacy_officer")
    processor_id = f"mail-{uuid.uuid4().hex[:8]}"
    created = register(officer, processor_id, https_channel(local_stack))
    assert created.status == 200, created.text
    secret = created.body["signing_secret"]
    assert len(secret or "") >= 40  # 256 bits, shown once
    again = register(officer, processor_id, https_channel(local_stack))
    assert (again.status, again.body["signing_secret"]) == (200, None)  # never shown twice
    assert "signing_secret" not in json.dumps(officer.call("GET", "/v1/staff/processors").body)
    _, request_id = erase_customer_shared_with(local_stack, new_customer, staff, processor_id)

    (delivery,) = poll_until(
        local_stack,
        lambda d: d.processor_id == processor_id and d.acknowledged,
    )
    assert (delivery.verified, delivery.status, delivery.acknowledged) == (True, 202, 200)
    assert delivery.request_id == request_id
    execution = wait_for_execution(local_stack, request_id)
    assert execution["status"] == "SUCCEEDED"
    assert outcomes(local_stack, request_id) == {processor_id: "confirmed"}
    sqs = local_stack.clients("sqs")
    left = sqs.receive_message(
        QueueUrl=local_stack.resources.queues[naming.PROCESSOR_NOTIFICATIONS], VisibilityTimeout=0
    )
    assert not [m for m in left.get("Messages", []) if processor_id in m["Body"]], "a delivered request stayed queued"


def test_a_rotated_secret_is_issued_once_and_the_previous_one_still_verifies(
    local_stack: LocalStack, new_customer: Any, staff: Any
) -> None:
    officer = staff("privacy_officer")
    processor_id = f"rot-{uuid.uuid4().hex[:8]}"
    first = register(officer, processor_id, https_channel(local_stack)).body["signing_secret"]
    rotated = register(officer, processor_id, https_channel(local_stack), rotate_signing_secret=True)
    assert rotated.status == 200, rotated.text
    assert rotated.body["signing_secret"] not in (None, first)
    fake(local_stack).register(processor_id, first)  # the processor has not switched yet
    _, request_id = erase_customer_shared_with(local_stack, new_customer, staff, processor_id)
    (delivery,) = poll_until(local_stack, lambda d: d.request_id == request_id and d.acknowledged)
    assert delivery.verified
    assert wait_for_execution(local_stack, request_id)["status"] == "SUCCEEDED"
    assert outcomes(local_stack, request_id) == {processor_id: "confirmed"}


def test_an_endpoint_that_keeps_failing_is_retried_then_dead_lettered_with_ids_only(
    local_stack: LocalStack, new_customer: Any, staff: Any
) -> None:
    officer = staff("privacy_officer")
    processor_id = f"down-{uuid.uuid4().hex[:8]}"
    quick = https_channel(local_stack, acknowledgement_timeout_seconds=1)
    assert register(officer, processor_id, quick).status == 200
    fake(local_stack).fail_with[processor_id] = 503
    customer, request_id = erase_customer_shared_with(local_stack, new_customer, staff, processor_id)
    (dead,) = retry_until_dead_letter(local_stack, request_id)
    attempts = [d for d in fake(local_stack).deliveries if d.request_id == request_id]
    assert len(attempts) == catalog.QUEUE_MAX_RECEIVES
    assert all(d.verified and d.status == 503 and d.acknowledged is None for d in attempts)
    assert set(dead) == {"kind", "task_token", "request_id", "subject_id", "processor_id", "deadline"}
    for value in (*SUBMITTED_VALUES, customer.email):
        assert value not in json.dumps(dead)
    assert wait_for_execution(local_stack, request_id)["status"] == "SUCCEEDED"
    assert outcomes(local_stack, request_id) == {processor_id: "unconfirmed"}


def test_a_request_with_a_bad_signature_is_refused_by_the_processor(
    local_stack: LocalStack, new_customer: Any, staff: Any
) -> None:
    officer = staff("privacy_officer")
    processor_id = f"bad-{uuid.uuid4().hex[:8]}"
    assert register(officer, processor_id, https_channel(local_stack, acknowledgement_timeout_seconds=1)).status == 200
    fake(local_stack).register(processor_id, "not-the-secret-it-was-given")
    _, request_id = erase_customer_shared_with(local_stack, new_customer, staff, processor_id)
    (refused,) = poll_until(local_stack, lambda d: d.processor_id == processor_id)
    assert (refused.verified, refused.status, refused.acknowledged) == (False, 401, None)
    retry_until_dead_letter(local_stack, request_id)
    assert wait_for_execution(local_stack, request_id)["status"] == "SUCCEEDED"
    assert outcomes(local_stack, request_id) == {processor_id: "unconfirmed"}


def test_a_processor_without_an_endpoint_reaches_the_dead_letter_queue(
    local_stack: LocalStack, new_customer: Any, staff: Any
) -> None:
    officer = staff("privacy_officer")
    processor_id = f"none-{uuid.uuid4().hex[:8]}"
    reply = register(officer, processor_id, {"kind": "sqs", "acknowledgement_timeout_seconds": 1})
    assert (reply.status, reply.body["signing_secret"]) == (200, None)
    _, request_id = erase_customer_shared_with(local_stack, new_customer, staff, processor_id)
    (dead,) = retry_until_dead_letter(local_stack, request_id)
    assert dead["processor_id"] == processor_id
    assert not [d for d in fake(local_stack).deliveries if d.processor_id == processor_id]


def test_the_registry_refuses_endpoints_that_are_not_public_https(local_stack: LocalStack, staff: Any) -> None:
    officer = staff("privacy_officer")
    processor_id = f"val-{uuid.uuid4().hex[:8]}"
    for endpoint in (
        "http://processor.example.com/erase",
        "https://10.0.0.5/erase",
        "https://169.254.169.254/latest",
        "https://user:pw@processor.example.com/",
        "https://printer.local/erase",
        "https://[::1]x/",
    ):
        reply = register(officer, processor_id, {"kind": "https", "endpoint": endpoint})
        assert reply.status == 422, (endpoint, reply.text)
        assert endpoint not in reply.text  # errors never echo the value
    assert register(officer, processor_id, {"kind": "https"}).status == 422
    assert register(officer, processor_id, {"kind": "sqs", "endpoint": "https://processor.example.com/"}).status == 422
