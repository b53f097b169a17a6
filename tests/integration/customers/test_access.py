"""The access report: every store of the data map, decrypted, for the token's subject only."""

from __future__ import annotations

from typing import Any

from custody.customers import access_report
from custody.declared import datamap
from tests.integration.customers.conftest import Customer, call, grant
from tests.integration.customers.test_profile import SAMPLES


def test_the_report_covers_every_personal_store_of_the_data_map(customer: Customer) -> None:
    grant(customer, *datamap.PURPOSES)
    assert call("collect", "PUT", "/v1/me/profile", customer, SAMPLES).status == 200
    report = call("subject_access", "GET", "/v1/me", customer).body
    personal = {store.name for store in datamap.STORES if store.classification is datamap.Classification.PERSONAL}
    assert set(report["stores"]) == personal
    assert report["stores"]["profiles"]["categories"]["identity"] == SAMPLES["identity"]
    assert report["stores"]["profiles"]["categories"]["health"] == SAMPLES["health"]
    assert report["email"] == customer.email
    assert set(report["retention"]) == {category.name for category in datamap.CATEGORIES}
    assert report["retention"]["interactions"]["retention_days"] == datamap.INTERACTION_RETENTION_DAYS


def test_a_store_added_to_the_data_map_is_read_by_the_reader_of_its_kind() -> None:
    points = datamap.TableStore("loyalty_points", "Points earned.", "entry_key")
    vouchers = datamap.BucketStore("vouchers", "Vouchers issued.")
    assert access_report.reader_of(points) is access_report.reader_of(datamap.store("interactions"))
    assert access_report.reader_of(vouchers) is access_report.reader_of(datamap.store("exports"))
    assert access_report.reader_of(datamap.store("profiles")) is not access_report.reader_of(points)


def test_the_key_store_is_not_personal_data_and_is_not_reported() -> None:
    assert datamap.store("subject_keys") not in access_report.personal_stores()


def test_a_customer_never_reaches_another_customers_data(new_customer: Any) -> None:
    ann, bob = new_customer(), new_customer()
    grant(ann, *datamap.PURPOSES)
    call("collect", "PUT", "/v1/me/profile", ann, SAMPLES)
    change = {"field": "legal_name", "value": "Ann Lee Smith", "reason": "marriage"}
    assert call("subject_access", "POST", "/v1/me/change-requests", ann, change).status == 201
    report = call("subject_access", "GET", "/v1/me", bob)
    assert report.status == 200
    assert report.body["subject_id"] == bob.subject_id
    for value in ("Ann Lee", "84912345678", "Penicillin", "marriage"):
        assert value not in report.raw
    assert call("subject_access", "GET", "/v1/me/change-requests", bob).body == {"change_requests": []}


def test_a_subject_in_the_path_or_body_is_ignored(new_customer: Any) -> None:
    ann, bob = new_customer(), new_customer()
    grant(ann, "crm_core")
    call("collect", "PUT", "/v1/me/profile", ann, {"identity": SAMPLES["identity"]})
    reply = call("subject_access", "GET", f"/v1/me?subject_id={ann.subject_id}", bob)
    assert "Ann Lee" not in reply.raw
    refused = call(
        "collect", "PUT", "/v1/me/profile", bob, {"subject_id": ann.subject_id, "identity": {"legal_name": "X"}}
    )
    assert refused.status == 422


def test_without_a_token_every_customer_route_is_refused() -> None:
    for function, method, path in [
        ("subject_access", "GET", "/v1/me"),
        ("collect", "PUT", "/v1/me/profile"),
        ("collect", "POST", "/v1/me/consents"),
        ("subject_access", "GET", "/v1/me/change-requests"),
    ]:
        reply = call(function, method, path, None, {"purpose": "crm_core", "policy_version": "1"})
        assert reply.status in (401, 422), (method, path)
        if reply.status == 401:
            assert reply.body["error"] == "unauthenticated"


def test_change_requests_are_validated_and_listed(customer: Customer) -> None:
    grant(customer, "crm_core")
    bad = call(
        "subject_access",
        "POST",
        "/v1/me/change-requests",
        customer,
        {"field": "legal_name", "value": "R2-D2", "reason": "x"},
    )
    assert (bad.status, bad.body["details"]["fields"][0]["field"]) == (422, "value.legal_name")
    assert "R2-D2" not in bad.raw
    not_verified = call(
        "subject_access",
        "POST",
        "/v1/me/change-requests",
        customer,
        {"field": "phone", "value": "+84912345678", "reason": "x"},
    )
    assert not_verified.status == 422
    opened = call(
        "subject_access",
        "POST",
        "/v1/me/change-requests",
        customer,
        {"field": "birth_date", "value": "1990-02-04", "reason": "typo"},
    )
    assert (opened.status, opened.body["status"]) == (201, "pending")
    listed = call("subject_access", "GET", "/v1/me/change-requests", customer).body["change_requests"]
    assert [(item["field"], item["value"], item["status"]) for item in listed] == [
        ("birth_date", "1990-02-04", "pending")
    ]


def test_a_change_request_needs_the_identity_purpose(customer: Customer) -> None:
    grant(customer, "marketing")
    reply = call(
        "subject_access",
        "POST",
        "/v1/me/change-requests",
        customer,
        {"field": "legal_name", "value": "Ann", "reason": "x"},
    )
    assert (reply.status, reply.body["error"]) == (403, "consent_required")
