"""Issue 14: a processor's identity is bound to everything it does, and nothing a caller typed reaches
the Object Lock ledger (regression tests of the attacks found on the earlier code)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from custody.declared import naming
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import PROFILE, wait_for_execution
from tests.integration.staff.conftest import agreement, consented, footprint
from tests.integration.staff.test_processors import disclose, messages, register

ACK = "/v1/processors/erasure-acks"
NAME_LIKE = "Firstname-Lastname-1979-03-14-POSTCODE"
QUICK = {"deletion_channel": {"kind": "sqs", "acknowledgement_timeout_seconds": 120}}


def ledger_keys(stack: LocalStack, prefix: str = "ledger/") -> list[str]:
    s3 = stack.clients("s3")
    bucket = stack.resources.buckets[naming.AUDIT_BUCKET]
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


def ledger_events(stack: LocalStack, prefix: str) -> list[dict[str, Any]]:
    s3 = stack.clients("s3")
    bucket = stack.resources.buckets[naming.AUDIT_BUCKET]
    found = [key for key in ledger_keys(stack, prefix) if "/documents/" not in key]
    return [json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) for key in sorted(found)]


def outcomes(stack: LocalStack, request_id: str) -> dict[str, str]:
    item = stack.clients("dynamodb").get_item(
        TableName=stack.resources.tables["requests"], Key={"request_id": {"S": request_id}}
    )["Item"]
    return {name: value["S"] for name, value in item["sub_processors"]["M"].items()}


def test_a_processor_cannot_acknowledge_with_another_processors_token(
    local_stack: LocalStack, new_customer: Any, staff: Any, processor: Any
) -> None:
    officer, support = staff("privacy_officer"), staff("support")
    acme, beta = processor("acme"), processor("beta")
    acme_id, beta_id = register(officer, acme, **QUICK), register(officer, beta, **QUICK)
    customer = consented(new_customer, "crm_core", f"sharing:{acme_id}", f"sharing:{beta_id}")
    assert customer.call("PUT", "/v1/me/profile", {"contact": PROFILE["contact"]}).status == 200
    assert disclose(support, customer, acme_id, ["contact"]).status == 201
    assert disclose(support, customer, beta_id, ["contact"]).status == 201
    request_id = customer.call("POST", "/v1/me/withdrawal", {}).body["request_id"]
    (to_acme,), (to_beta,) = messages(local_stack, acme_id), messages(local_stack, beta_id)
    acme_token = to_acme["task_token"]

    # beta presents acme's token, as itself and as acme: both refused, and nothing completes.
    as_itself = {"processor_id": beta_id, "request_id": request_id, "task_token": acme_token}
    assert beta.call("POST", ACK, as_itself).status == 403
    as_acme = {"processor_id": acme_id, "request_id": request_id, "task_token": acme_token}
    assert beta.call("POST", ACK, as_acme).status == 403
    assert outcomes(local_stack, request_id) == {acme_id: "notified", beta_id: "notified"}

    # acme's own acknowledgement still works, and so does beta's with its own token.
    assert acme.call("POST", ACK, as_acme).status == 200
    own = {"processor_id": beta_id, "request_id": request_id, "task_token": to_beta["task_token"]}
    assert beta.call("POST", ACK, own).status == 200
    assert wait_for_execution(local_stack, request_id)["status"] == "SUCCEEDED"
    assert outcomes(local_stack, request_id) == {acme_id: "confirmed", beta_id: "confirmed"}


def test_a_refused_ack_names_the_authenticated_actor_and_no_chain_the_body_names(
    local_stack: LocalStack, staff: Any, processor: Any
) -> None:
    officer = staff("privacy_officer")
    acme, beta, stranger = processor("acme-victim"), processor("beta-attacker"), processor("unregistered")
    acme_id, beta_id = register(officer, acme), register(officer, beta)
    acme_before = ledger_keys(local_stack, f"ledger/processors/{acme_id}/")
    beta_before = len(ledger_keys(local_stack, f"ledger/processors/{beta_id}/"))
    refusals_before = len(ledger_keys(local_stack, "ledger/refusals/processors/"))
    nobody = f"nobody-{uuid.uuid4().hex[:8]}"
    for _ in range(3):
        body = {"processor_id": acme_id, "request_id": str(uuid.uuid4()), "task_token": "stolen"}
        assert beta.call("POST", ACK, body).status == 403
    assert stranger.call("POST", ACK, {**body, "processor_id": nobody}).status == 403

    assert ledger_keys(local_stack, f"ledger/processors/{acme_id}/") == acme_before
    assert not ledger_keys(local_stack, f"ledger/processors/{nobody}/")
    refused = ledger_events(local_stack, f"ledger/processors/{beta_id}/")[beta_before:]
    assert [(event["actor"], event["target"], event["outcome"]) for event in refused] == [
        (f"processor/{beta_id}", f"processor/{beta_id}:forbidden", "refused")
    ] * 3
    unresolved = ledger_events(local_stack, "ledger/refusals/processors/")[refusals_before:]
    assert [event["actor"] for event in unresolved if event["step"] == "processor_erasure_ack"] == ["processor"]
    assert all(nobody not in json.dumps(event) for event in unresolved)


def test_a_refused_grant_for_a_name_like_customer_id_writes_no_chain_of_that_text(
    local_stack: LocalStack, staff: Any
) -> None:
    support = staff("support")
    body = {"customer_id": NAME_LIKE, "purpose": "crm_core", "ticket": "SUP-1234", "categories": ["contact"]}
    reply = support.call("POST", "/v1/staff/access-grants", body)
    assert reply.status == 403, reply.text
    assert not [key for key in ledger_keys(local_stack) if NAME_LIKE in key]
    refused = ledger_events(local_stack, "ledger/refusals/staff/")
    assert refused
    assert all(NAME_LIKE not in json.dumps(event) for event in refused)


def test_a_sharing_consent_for_free_text_is_refused_and_writes_nothing(
    local_stack: LocalStack, new_customer: Any
) -> None:
    customer = consented(new_customer, "crm_core")
    before = footprint(local_stack, customer.subject_id)
    chain = f"ledger/subject/{customer.subject_id}/"
    events = len(ledger_keys(local_stack, chain))
    purpose = "sharing:firstname-lastname-1979-03-14"
    reply = customer.call("POST", "/v1/me/consents", {"purpose": purpose, "policy_version": "2026-11"})
    assert reply.status == 422, reply.text
    assert footprint(local_stack, customer.subject_id) == before
    assert len(ledger_keys(local_stack, chain)) == events
    assert not [key for key in ledger_keys(local_stack) if "firstname-lastname" in key]


def test_an_agreement_names_a_principal_no_other_agreement_names(staff: Any, processor: Any) -> None:
    officer, machine = staff("privacy_officer"), processor("one-principal")
    register(officer, machine)
    taken = officer.call("PUT", f"/v1/staff/processors/other-{uuid.uuid4().hex[:8]}", agreement(machine.sub))
    assert taken.status == 422, taken.text
