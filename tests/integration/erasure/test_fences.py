"""Issue 16: erasure is final — the fence on every write, the upload's intent and commit, the tombstones.

The interleaving suite (tests/robustness) holds every writing route of the catalog at its first write
while an erasure runs; these tests pin the mechanisms one by one, at the moments the suite cannot
reach: between the withdrawal and Freeze, and between an upload's intent and its commit.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from custody.declared.settings import Settings
from custody.erasure.contract import VerifyInput
from custody.erasure.errors import ResidualDataFound, UploadsInFlight
from custody.erasure.starter import ErasureStarter
from custody.erasure.steps import verify
from custody.erasure.steps.context import StepContext
from custody.stores.documents import DocumentsBucket
from custody.stores.requests import ErasureReason
from custody.stores.subjects import TOMBSTONE_ATTRIBUTES, SubjectRegistry
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import Customer, wait_for_execution
from tests.integration.erasure.test_withdrawal import _residue

UPLOAD = {
    "file_name": "late.txt",
    "content_type": "text/plain",
    "content_base64": base64.b64encode(b"Zephyrine late letter").decode(),
}


def _settings(stack: LocalStack) -> Settings:
    return Settings.from_env(stack.resources.environment)


def _subjects_item(stack: LocalStack, subject_id: str) -> dict[str, Any]:
    return dict(
        stack.clients("dynamodb")
        .get_item(TableName=stack.resources.tables["subjects"], Key={"subject_id": {"S": subject_id}})
        .get("Item", {})
    )


def test_nothing_is_written_between_the_withdrawal_and_freeze(
    local_stack: LocalStack, customer: Customer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Case 4: the workflow has not started yet (Freeze has not run); every write is refused already."""
    customer.fill()
    monkeypatch.setattr(ErasureStarter, "start", lambda self, request, attempt=0: request.request_id)
    accepted = customer.call("POST", "/v1/me/withdrawal", {})
    assert accepted.status == 202
    before = _residue(local_stack, customer.subject_id)
    record = _subjects_item(local_stack, customer.subject_id)

    writes = [
        ("PATCH", "/v1/me/profile", {"contact": {"phone": "+84 90 765 4321"}}),
        ("PUT", "/v1/me/profile", {"preferences": {"language": "vi"}}),
        ("POST", "/v1/me/consents", {"purpose": "marketing", "policy_version": "2026-11"}),
        ("DELETE", "/v1/me/consents/marketing", None),
        ("POST", "/v1/me/documents", UPLOAD),
        ("POST", "/v1/me/change-requests", {"field": "legal_name", "value": "Quilliam Ode", "reason": "late"}),
    ]
    for method, path, body in writes:
        reply = customer.call(method, path, body)
        assert reply.status == 403, (method, path, reply.text)
        assert reply.body["error"] == "forbidden"
    for path in ("/v1/me/change-requests",):
        assert customer.call("GET", path).status == 403
    report = customer.call("GET", "/v1/me").body
    assert report["account"]["status"] == "erasing"
    assert report["stores"] == {}
    assert report["email"] is None
    assert [request["request_id"] for request in report["open_requests"]] == [accepted.body["request_id"]]
    assert _residue(local_stack, customer.subject_id) == before
    assert _subjects_item(local_stack, customer.subject_id) == record


def test_an_upload_refused_at_its_commit_holds_verify_back_until_its_deadline(
    local_stack: LocalStack, customer: Customer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Case 1 at S3: the withdrawal lands between the upload's intent and its put."""
    customer.fill(documents=0)
    settings = _settings(local_stack)
    put = DocumentsBucket.put
    withdrawn: dict[str, str] = {}

    def withdrawal_meanwhile(self: DocumentsBucket, subject_id: str, *args: Any) -> None:
        withdrawn["request_id"] = ErasureStarter(settings).withdraw(subject_id).request_id
        put(self, subject_id, *args)

    monkeypatch.setattr(ErasureStarter, "start", lambda self, request, attempt=0: request.request_id)
    monkeypatch.setattr(DocumentsBucket, "put", withdrawal_meanwhile)
    reply = customer.call("POST", "/v1/me/documents", UPLOAD)
    assert reply.status == 403, reply.text
    subject = SubjectRegistry(settings).load(customer.subject_id)
    assert len(subject.uploads_in_flight) == 1  # the intent stays: the erasure waits on it

    event = VerifyInput(
        step="verify",
        request_id=withdrawn["request_id"],
        subject_id=customer.subject_id,
        reason=ErasureReason.WITHDRAWAL,
        scope=("documents",),
    )
    with pytest.raises(UploadsInFlight):
        verify.run(StepContext.of(settings), event)


def test_a_full_erasure_leaves_tombstones_only(local_stack: LocalStack, customer: Customer) -> None:
    """Case 2: consent state, versions, activity and disclosures do not survive the certificate."""
    customer.fill()
    request_id = customer.call("POST", "/v1/me/withdrawal", {}).body["request_id"]
    assert wait_for_execution(local_stack, request_id)["status"] == "SUCCEEDED"
    record = _subjects_item(local_stack, customer.subject_id)
    assert set(record) <= set(TOMBSTONE_ATTRIBUTES)
    assert record["status"] == {"S": "erased"}
    assert record["status_request"] == {"S": request_id}
    report = customer.call("GET", "/v1/me").body
    assert report["account"]["status"] == "erased"
    assert report["stores"] == {}
    assert customer.call("POST", "/v1/me/consents", {"purpose": "crm_core", "policy_version": "2026-11"}).status == 403
    assert _residue(local_stack, customer.subject_id) == {}


def test_verify_finds_a_subject_record_that_is_not_a_tombstone(local_stack: LocalStack, customer: Customer) -> None:
    customer.fill(documents=0)
    settings = _settings(local_stack)
    context = StepContext.of(settings)
    context.keyring.shred(customer.subject_id)
    event = VerifyInput(
        step="verify",
        request_id="00000000-0000-4000-8000-000000000000",
        subject_id=customer.subject_id,
        reason=ErasureReason.WITHDRAWAL,
        scope=(),
    )
    with pytest.raises(ResidualDataFound, match="subjects"):
        verify.run(context, event)


def test_an_old_token_writes_nothing_more_about_an_erased_customer(local_stack: LocalStack, customer: Customer) -> None:
    """A fresh break found every refusal of an old token appended to the erased subject's chain."""
    customer.fill(documents=0)
    request_id = customer.call("POST", "/v1/me/withdrawal", {}).body["request_id"]
    assert wait_for_execution(local_stack, request_id)["status"] == "SUCCEEDED"
    chains = local_stack.resources.tables["audit_chains"]
    dynamodb = local_stack.clients("dynamodb")

    def head() -> dict[str, Any]:
        key = {"chain_id": {"S": f"subject/{customer.subject_id}"}}
        return dict(dynamodb.get_item(TableName=chains, Key=key, ConsistentRead=True).get("Item", {}))

    before = head()
    for method, path, body in (
        ("POST", "/v1/me/consents", {"purpose": "crm_core", "policy_version": "2026-11"}),
        ("PATCH", "/v1/me/profile", {"contact": {"phone": "+84 90 765 4321"}}),
        ("POST", "/v1/me/withdrawal", {}),
    ):
        assert customer.call(method, path, body).status == 403
    assert head() == before
