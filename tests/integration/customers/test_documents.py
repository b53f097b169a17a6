"""Documents: checked, encrypted with the customer's key before S3, readable only by them."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest

from custody.customers import documents
from custody.declared.settings import get_settings
from custody.platform.aws import clients
from devstack.iam.ledger import LEDGER
from tests.integration.customers.conftest import Customer, call, grant

PDF = b"%PDF-1.7\n1 0 obj\n<< /Title (Ann Lee medical letter) >>\nendobj\n"


def _upload(
    customer: Customer, name: str = "letter.pdf", content_type: str = "application/pdf", content: bytes = PDF
) -> Any:
    body = {"file_name": name, "content_type": content_type, "content_base64": base64.b64encode(content).decode()}
    return call("collect", "POST", "/v1/me/documents", customer, body)


def _objects(customer: Customer) -> list[dict[str, Any]]:
    listed = clients.s3().list_object_versions(
        Bucket=get_settings().bucket("documents"), Prefix=f"subjects/{customer.subject_id}/"
    )
    return list(listed.get("Versions", []))


def test_a_document_is_stored_encrypted_under_the_customers_prefix_and_comes_back(customer: Customer) -> None:
    grant(customer, "crm_core")
    reply = _upload(customer)
    assert reply.status == 201
    document_id = reply.body["document_id"]
    [stored] = _objects(customer)
    assert stored["Key"] == f"subjects/{customer.subject_id}/documents/{document_id}"
    raw = clients.s3().get_object(Bucket=get_settings().bucket("documents"), Key=stored["Key"])
    body = raw["Body"].read()
    assert b"Ann Lee" not in body
    assert b"letter.pdf" not in repr(raw["Metadata"]).encode()

    report = call("subject_access", "GET", "/v1/me", customer).body
    [listed] = report["stores"]["documents"]["items"]
    assert listed["download_url"] == f"/v1/me/documents/{document_id}"
    download = call("subject_access", "GET", listed["download_url"], customer)
    assert download.status == 200
    assert download.content == PDF
    assert download.headers["Content-Type"] == "application/pdf"
    assert 'filename="letter.pdf"' in download.headers["Content-Disposition"]


def test_another_customer_cannot_download_it(new_customer: Any) -> None:
    ann, bob = new_customer(), new_customer()
    grant(ann, "crm_core")
    document_id = _upload(ann).body["document_id"]
    assert call("subject_access", "GET", f"/v1/me/documents/{document_id}", bob).status == 404


def test_a_missing_document_is_a_404_although_s3_answers_403_to_this_role(customer: Customer) -> None:
    """S3 hides a missing key behind 403 from a caller without s3:ListBucket on the bucket, which
    subject_access only has under the customer prefixes (regression: the function mapped only 404)."""
    grant(customer, "crm_core")
    hidden = LEDGER.hidden_not_found
    missing = call("subject_access", "GET", f"/v1/me/documents/{uuid.uuid4()}", customer)
    assert missing.status == 404, missing.raw
    assert missing.body["error"] == "not_found"
    assert LEDGER.hidden_not_found == hidden + 1


@pytest.mark.parametrize(
    ("name", "content_type", "content", "field"),
    [
        ("../../etc/passwd", "text/plain", b"x", "file_name"),
        ("a/b.txt", "text/plain", b"x", "file_name"),
        ("..hidden", "text/plain", b"x", "file_name"),
        ("script<x>.txt", "text/plain", b"x", "file_name"),
        ("scan.pdf\n", "text/plain", b"x", "file_name"),  # `$` once let a trailing newline through
        ("report.exe", "application/x-msdownload", b"MZ", "content_type"),
        ("fake.pdf", "application/pdf", b"not a pdf", "content_type"),
        ("image.png", "image/png", PDF, "content_type"),
        ("binary.txt", "text/plain", b"\x00\xff\xfe", "content_type"),
        ("empty.txt", "text/plain", b"", "content_base64"),
        ("big.txt", "text/plain", b"a" * (documents.MAX_BYTES + 1), "content_base64"),
    ],
)
def test_unsafe_uploads_are_refused_and_nothing_is_stored(
    customer: Customer, name: str, content_type: str, content: bytes, field: str
) -> None:
    grant(customer, "crm_core")
    reply = _upload(customer, name, content_type, content)
    assert reply.status == 422, reply.raw
    assert field in {item["field"] for item in reply.body["details"]["fields"]}
    assert name not in reply.raw
    assert _objects(customer) == []


def test_content_that_is_not_base64_is_refused(customer: Customer) -> None:
    grant(customer, "crm_core")
    body = {"file_name": "a.txt", "content_type": "text/plain", "content_base64": "%%%not-base64"}
    reply = call("collect", "POST", "/v1/me/documents", customer, body)
    assert (reply.status, reply.body["details"]["fields"][0]["field"]) == (422, "content_base64")


def test_documents_need_consent(customer: Customer) -> None:
    grant(customer, "marketing")
    reply = _upload(customer)
    assert (reply.status, reply.body["details"]["missing"]) == (403, ["crm_core"])
    assert _objects(customer) == []
