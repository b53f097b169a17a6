"""Sub-processors: agreements, disclosures, and erasure notifications with a task token on moto."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from custody.audit.review.reader import AuditorReader
from custody.audit.review.verification import verify
from custody.declared import naming
from custody.declared.settings import Settings
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import PROFILE, SUBMITTED_VALUES, Customer, history, wait_for_execution
from tests.integration.staff.conftest import Caller, agreement, audit_events, consented, footprint, is_refusal


def register(officer: Caller, processor: Caller, **overrides: Any) -> str:
    processor_id = f"mail-{uuid.uuid4().hex[:8]}"
    reply = officer.call("PUT", f"/v1/staff/processors/{processor_id}", agreement(processor.sub, **overrides))
    assert reply.status == 200, reply.text
    return processor_id


def disclose(caller: Caller, customer: Customer, processor_id: str, categories: list[str]) -> Any:
    body = {"processor_id": processor_id, "categories": categories}
    return caller.call("POST", f"/v1/staff/customers/{customer.subject_id}/disclosures", body)


def messages(stack: LocalStack, processor_id: str, timeout: float = 30.0) -> list[dict[str, Any]]:
    sqs = stack.clients("sqs")
    url = stack.resources.queues[naming.PROCESSOR_NOTIFICATIONS]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        mine = [json.loads(item["Body"]) for item in received.get("Messages", [])]
        mine = [body for body in mine if body["processor_id"] == processor_id]
        if mine:
            return mine
        time.sleep(0.05)
    raise AssertionError(f"no notification for {processor_id}")


def test_the_registry_is_kept_by_privacy_officers(staff: Any, processor: Any) -> None:
    officer, machine = staff("privacy_officer"), processor("registry-check")
    processor_id = register(officer, machine)
    support = staff("support")  # API Gateway: no privacy_officer scope in the token
    assert support.call("PUT", f"/v1/staff/processors/{processor_id}", agreement(machine.sub)).status == 401
    broken = agreement(machine.sub, commitments={**agreement("x")["commitments"], "confidentiality": False})
    assert officer.call("PUT", f"/v1/staff/processors/{processor_id}", broken).status == 422
    listed = staff("auditor").call("GET", "/v1/staff/processors")
    assert listed.status == 200
    assert processor_id in [item["processor_id"] for item in listed.body["processors"]]


def test_disclosures_need_an_active_agreement_covering_them_and_consent(
    local_stack: LocalStack, new_customer: Any, staff: Any, processor: Any
) -> None:
    officer, support = staff("privacy_officer"), staff("support")
    processor_id = register(officer, processor("disclosure-check"))
    customer = consented(new_customer, "crm_core", "marketing", profile={"contact": PROFILE["contact"]})

    def refused(categories: list[str], pid: str = processor_id) -> None:
        before, events = (
            footprint(local_stack, customer.subject_id),
            len(audit_events(local_stack, customer.subject_id)),
        )
        assert disclose(support, customer, pid, categories).status == 403
        assert footprint(local_stack, customer.subject_id) == before
        assert [is_refusal(event) for event in audit_events(local_stack, customer.subject_id)[events:]] == [True]

    refused(["contact"])  # no sharing consent
    assert (
        customer.call(
            "POST", "/v1/me/consents", {"purpose": f"sharing:{processor_id}", "policy_version": "2026-11"}
        ).status
        == 201
    )
    refused(["identity"])  # not covered by the agreement
    refused(["contact"], "nobody-registered")
    done = disclose(support, customer, processor_id, ["contact"])
    assert done.status == 201, done.text
    report = customer.call("GET", "/v1/me").body
    assert report["stores"]["disclosures"]["items"][0]["processor_id"] == processor_id
    assert report["stores"]["disclosures"]["items"][0]["categories"] == ["contact"]


def test_erasure_waits_for_each_processor_and_records_a_timeout_as_unconfirmed(
    local_stack: LocalStack, new_customer: Any, staff: Any, processor: Any
) -> None:
    officer, support = staff("privacy_officer"), staff("support")
    prompt, silent, stranger = processor("prompt"), processor("silent"), processor("stranger")
    quick = {"deletion_channel": {"kind": "sqs", "acknowledgement_timeout_seconds": 60}}
    prompt_id = register(officer, prompt, **quick)
    silent_id = register(officer, silent, deletion_channel={"kind": "sqs", "acknowledgement_timeout_seconds": 1})
    customer = consented(new_customer, "crm_core", "marketing", f"sharing:{prompt_id}", f"sharing:{silent_id}")
    assert (
        customer.call("PUT", "/v1/me/profile", {"identity": PROFILE["identity"], "contact": PROFILE["contact"]}).status
        == 200
    )
    assert disclose(support, customer, prompt_id, ["contact"]).status == 201
    assert disclose(support, customer, silent_id, ["contact"]).status == 201

    withdrawal = customer.call("POST", "/v1/me/withdrawal", {})
    assert withdrawal.status == 202, withdrawal.text
    request_id = withdrawal.body["request_id"]
    (message,) = messages(local_stack, prompt_id)
    assert message["request_id"] == request_id
    assert message["subject_id"] == customer.subject_id
    assert message["deadline"]
    ack = {"processor_id": prompt_id, "request_id": request_id, "task_token": message["task_token"]}
    assert stranger.call("POST", "/v1/processors/erasure-acks", ack).status == 403
    done = prompt.call("POST", "/v1/processors/erasure-acks", ack)
    assert done.status == 200, done.text

    execution = wait_for_execution(local_stack, request_id)
    assert execution["status"] == "SUCCEEDED"
    request = local_stack.clients("dynamodb").get_item(
        TableName=local_stack.resources.tables["requests"], Key={"request_id": {"S": request_id}}
    )["Item"]
    outcomes = {name: value["S"] for name, value in request["sub_processors"]["M"].items()}
    assert outcomes == {prompt_id: "confirmed", silent_id: "unconfirmed"}
    # The certificate came first (the customer's erasure never waits on a sub-processor): it counts
    # the processors asked; their answers completed the request's record afterwards.
    certificate = request["certificate"]["M"]["sub_processors"]["M"]
    assert {name: int(value["N"]) for name, value in certificate.items()} == {
        "notified": 2,
        "confirmed": 0,
        "unconfirmed": 0,
    }
    text = json.dumps(history(local_stack, execution["executionArn"]), default=str)
    assert "Escalate" in text
    for value in (*SUBMITTED_VALUES, customer.email):
        assert value not in text
    assert prompt.call("POST", "/v1/processors/erasure-acks", ack).body["outcome"] == "confirmed"
    # A repeat is answered only with the token that was issued: a made-up one learns nothing.
    forged = {**ack, "task_token": "x"}
    assert prompt.call("POST", "/v1/processors/erasure-acks", forged).status == 403


def test_a_silent_processor_never_holds_back_the_customers_own_erasure(
    local_stack: LocalStack, new_customer: Any, staff: Any, processor: Any
) -> None:
    """Issue 16, case 5: the key, the identity and the certificate do not wait on a sub-processor."""
    officer, support = staff("privacy_officer"), staff("support")
    silent_id = register(
        officer, processor("never-answers"), deletion_channel={"kind": "sqs", "acknowledgement_timeout_seconds": 86_400}
    )
    customer = consented(new_customer, "crm_core", f"sharing:{silent_id}", profile={"contact": PROFILE["contact"]})
    assert disclose(support, customer, silent_id, ["contact"]).status == 201
    request_id = customer.call("POST", "/v1/me/withdrawal", {}).body["request_id"]
    (message,) = messages(local_stack, silent_id)  # asked, after the certificate
    assert message["request_id"] == request_id
    status = customer.call("GET", f"/v1/requests/{request_id}").body
    assert status["status"] == "completed"
    request = local_stack.clients("dynamodb").get_item(
        TableName=local_stack.resources.tables["requests"], Key={"request_id": {"S": request_id}}
    )["Item"]
    assert request["certificate_digest"]["S"]
    assert {name: value["S"] for name, value in request["sub_processors"]["M"].items()} == {silent_id: "notified"}
    keys = local_stack.clients("dynamodb").get_item(
        TableName=local_stack.resources.tables["subject_keys"],
        Key={"subject_id": {"S": customer.subject_id}, "key_version": {"S": "1"}},
    )["Item"]
    assert "wrapped_key" not in keys
    sfn = local_stack.clients("stepfunctions")
    machine = local_stack.resources.state_machines[naming.ERASURE_STATE_MACHINE]
    arn = f"{machine.replace(':stateMachine:', ':execution:')}:{request_id}"
    assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"  # still waiting on the processor
    # The auditor finds the certificate sound while the sub-processors' part is still running.
    settings = Settings.from_env(local_stack.resources.environment)
    verification = verify(AuditorReader(settings, local_stack.clients).chain(request_id))
    assert [str(finding) for finding in verification.findings] == []
    assert verification.certificate_digest == request["certificate_digest"]["S"]
    sfn.stop_execution(executionArn=arn)


def test_withdrawing_a_sharing_consent_notifies_that_processor_only(
    local_stack: LocalStack, new_customer: Any, staff: Any, processor: Any
) -> None:
    officer, support, machine = staff("privacy_officer"), staff("support"), processor("sharing-check")
    processor_id = register(officer, machine)
    customer = consented(new_customer, "crm_core", f"sharing:{processor_id}", profile={"contact": PROFILE["contact"]})
    assert disclose(support, customer, processor_id, ["contact"]).status == 201
    assert customer.call("DELETE", f"/v1/me/consents/sharing:{processor_id}").status in (200, 202)
    (message,) = messages(local_stack, processor_id)
    ack = {"processor_id": processor_id, "request_id": message["request_id"], "task_token": message["task_token"]}
    assert machine.call("POST", "/v1/processors/erasure-acks", ack).status == 200
    assert wait_for_execution(local_stack, message["request_id"])["status"] == "SUCCEEDED"
    report = customer.call("GET", "/v1/me").body
    assert report["stores"]["profiles"]["categories"]["contact"]["phone"] == PROFILE["contact"]["phone"]
