"""Issue 18: exports go with every erasure, every version and unfinished upload; Verify checks it.

On the in-process stack: the exporter runs as Lambda runs an asynchronous invocation (after the
request, on its own), the workflow is the real ASL.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
import requests

from custody.customers import export_archive
from custody.declared import datamap
from custody.declared.settings import Settings
from custody.erasure.contract import VerifyInput
from custody.erasure.errors import ResidualDataFound, UploadsInFlight
from custody.erasure.starter import ErasureStarter
from custody.erasure.steps import verify
from custody.erasure.steps.context import StepContext
from custody.stores.requests import ErasureReason
from custody.stores.subjects import SubjectRegistry
from devstack.iam.enforce import acting_as
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import Customer, wait_for_execution
from tests.integration.erasure.test_withdrawal import _residue


def _settings(stack: LocalStack) -> Settings:
    return Settings.from_env(stack.resources.environment)


def _exported(stack: LocalStack, customer: Customer) -> dict[str, Any]:
    started = customer.call("POST", "/v1/me/exports")
    assert started.status == 202, started.text
    stack.wait_for_async(120)
    view = customer.call("GET", started.body["status_url"])
    assert view.status == 200, view.text
    assert view.body["status"] == "ready", view.body
    return dict(view.body)


def _exports_held(stack: LocalStack, subject_id: str) -> int:
    s3, bucket = stack.clients("s3"), stack.resources.buckets["exports"]
    prefix = datamap.BucketStore.prefix(subject_id)
    listed = s3.list_object_versions(Bucket=bucket, Prefix=prefix)
    uploads = s3.list_multipart_uploads(Bucket=bucket, Prefix=prefix)
    return len(listed.get("Versions", [])) + len(listed.get("DeleteMarkers", [])) + len(uploads.get("Uploads", []))


def test_a_withdrawal_erases_every_export_and_the_status_of_the_export_is_refused(
    local_stack: LocalStack, customer: Customer
) -> None:
    customer.fill()
    view = _exported(local_stack, customer)
    archive = zipfile.ZipFile(io.BytesIO(requests.get(view["download"]["url"], timeout=30).content))
    assert json.loads(archive.read("account.json"))["email"] == customer.email  # held by Cognito, exported too
    assert _exports_held(local_stack, customer.subject_id) == 1
    request_id = customer.call("POST", "/v1/me/withdrawal").body["request_id"]
    assert wait_for_execution(local_stack, request_id)["status"] == "SUCCEEDED"
    assert _exports_held(local_stack, customer.subject_id) == 0
    assert _residue(local_stack, customer.subject_id) == {}
    assert customer.call("GET", view["status_url"]).status == 403
    assert customer.call("POST", "/v1/me/exports").status == 403


def test_verify_finds_an_export_object_or_an_unfinished_upload(local_stack: LocalStack, customer: Customer) -> None:
    customer.fill(documents=0)
    settings = _settings(local_stack)
    s3, bucket = local_stack.clients("s3"), local_stack.resources.buckets["exports"]
    key = f"{datamap.BucketStore.prefix(customer.subject_id)}exports/left.zip"
    event = VerifyInput(
        step="verify",
        request_id="00000000-0000-4000-8000-000000000000",
        subject_id=customer.subject_id,
        reason=ErasureReason.PURPOSE_WITHDRAWN,
        scope=("exports",),
    )
    s3.put_object(Bucket=bucket, Key=key, Body=b"PK")
    with pytest.raises(ResidualDataFound, match="exports"):
        verify.run(StepContext.of(settings), event)
    for version in s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", []):
        s3.delete_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])
    s3.create_multipart_upload(Bucket=bucket, Key=key)
    with pytest.raises(ResidualDataFound, match="exports"):
        verify.run(StepContext.of(settings), event)


def test_an_export_running_when_the_withdrawal_lands_holds_verify_back_and_is_then_erased(
    local_stack: LocalStack, customer: Customer, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer.fill(documents=0)  # (with documents, the job stops at the first: a document is not read once erasing)
    settings = _settings(local_stack)
    write = export_archive.ArchiveWriter.write
    withdrawn: dict[str, str] = {}

    def withdrawal_meanwhile(self: Any, upload: Any) -> str:
        with acting_as("erase"):  # the customer's withdrawal, through the erase function, while the job runs
            withdrawn["request_id"] = ErasureStarter(settings).withdraw(customer.subject_id).request_id
        return write(self, upload)

    monkeypatch.setattr(ErasureStarter, "start", lambda self, request, attempt=0: request.request_id)
    monkeypatch.setattr(export_archive.ArchiveWriter, "write", withdrawal_meanwhile)
    assert customer.call("POST", "/v1/me/exports").status == 202
    local_stack.wait_for_async(120)
    subject = SubjectRegistry(settings).load(customer.subject_id)
    [entry] = subject.uploads_in_flight  # the commit was refused: the intent stays for Verify
    assert entry.endswith(next(iter(subject.exports)))
    assert _exports_held(local_stack, customer.subject_id) == 1  # the archive landed after the withdrawal
    event = VerifyInput(
        step="verify",
        request_id=withdrawn["request_id"],
        subject_id=customer.subject_id,
        reason=ErasureReason.WITHDRAWAL,
        scope=tuple(category.name for category in datamap.CATEGORIES),
    )
    with pytest.raises(UploadsInFlight):
        verify.run(StepContext.of(settings), event)


def test_a_purpose_withdrawal_erases_the_exports_taken_before_it(local_stack: LocalStack, customer: Customer) -> None:
    customer.fill(documents=0)
    view = _exported(local_stack, customer)
    withdrawn = customer.call("DELETE", "/v1/me/consents/marketing")
    assert withdrawn.status == 200, withdrawn.text
    request_id = withdrawn.body["erasure"]["request_id"]
    assert wait_for_execution(local_stack, request_id)["status"] == "SUCCEEDED"
    assert _exports_held(local_stack, customer.subject_id) == 0
    after = customer.call("GET", view["status_url"]).body
    assert (after["status"], after["download"]) == ("superseded", None)
