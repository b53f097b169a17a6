"""Collection: consent before storage, accuracy, versions, verified fields — and nothing half-written."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from custody.declared import datamap, errors
from custody.declared.settings import get_settings
from custody.stores import dynamo
from tests.integration.customers.conftest import Customer, call, grant

NEXT_YEAR = datetime.now(UTC).year + 1
SAMPLES: dict[str, dict[str, Any]] = {
    "identity": {"legal_name": "Ann Lee", "birth_date": "1990-02-03"},
    "contact": {"phone": "+84912345678"},
    "preferences": {"channels": ["email"], "language": "vi"},
    "payment": {
        "card_number": "4111111111111111",
        "expiry_month": 12,
        "expiry_year": NEXT_YEAR,
        "holder_name": "Ann Lee",
    },
    "health": {"allergies": [{"substance": "Penicillin", "severity": "severe"}]},
}
PROFILE_CATEGORIES = [category.name for category in datamap.categories_in("profiles")]


def _stored_items(customer: Customer) -> list[dict[str, Any]]:
    return list(dynamo.query_partition(get_settings().table("profiles"), "subject_id", customer.subject_id))


def _put(customer: Customer, body: dict[str, Any], **headers: str) -> Any:
    return call("collect", "PUT", "/v1/me/profile", customer, body, headers)


def _patch(customer: Customer, body: dict[str, Any], **headers: str) -> Any:
    return call("collect", "PATCH", "/v1/me/profile", customer, body, headers)


@pytest.mark.parametrize("category", PROFILE_CATEGORIES)
@pytest.mark.parametrize("purpose", datamap.PURPOSES)
def test_consent_by_category_matrix(new_customer: Any, category: str, purpose: str) -> None:
    customer = new_customer()
    grant(customer, purpose)
    reply = _put(customer, {category: SAMPLES[category]})
    if purpose in datamap.category(category).purposes:
        assert reply.status == 200, reply.raw
        assert [item["category"] for item in _stored_items(customer)] == [category]
    else:
        assert (reply.status, reply.body["error"]) == (403, "consent_required")
        assert reply.body["details"]["missing"] == list(datamap.category(category).purposes)
        assert _stored_items(customer) == []


def test_one_unconsented_category_refuses_the_whole_request(customer: Customer) -> None:
    grant(customer, "crm_core")
    reply = _put(customer, {"identity": SAMPLES["identity"], "health": SAMPLES["health"]})
    assert (reply.status, reply.body["details"]["missing"]) == (403, ["health_services"])
    assert _stored_items(customer) == []
    assert call("subject_access", "GET", "/v1/me", customer).body["stores"]["profiles"]["version"] == '"v0"'


def test_invalid_input_is_a_422_with_the_field_and_nothing_is_written(customer: Customer) -> None:
    grant(customer, "crm_core")
    reply = _put(customer, {"identity": SAMPLES["identity"], "contact": {"phone": "12345"}})
    assert reply.status == 422
    assert [item["field"] for item in reply.body["details"]["fields"]] == ["contact.phone"]
    assert _stored_items(customer) == []


def test_every_stored_field_is_ciphertext(customer: Customer) -> None:
    grant(customer, *datamap.PURPOSES)
    assert _put(customer, SAMPLES).status == 200
    raw = repr(_stored_items(customer))
    for secret in ("Ann Lee", "1990-02-03", "+84912345678", "4111111111111111", "Penicillin", "vi"):
        assert f"'{secret}'" not in raw
    for item in _stored_items(customer):
        assert all(token.startswith("cc1.") for token in item["fields"].values())


def test_the_card_is_shown_only_as_brand_and_last_four(customer: Customer) -> None:
    grant(customer, "payments")
    reply = _put(customer, {"payment": SAMPLES["payment"]})
    assert reply.body["categories"]["payment"]["card"] == {"brand": "visa", "last4": "1111"}
    assert "4111111111111111" not in reply.raw
    report = call("subject_access", "GET", "/v1/me", customer)
    assert "4111111111111111" not in report.raw


def test_put_replaces_and_patch_merges_with_versions(customer: Customer) -> None:
    grant(customer, "crm_core", "marketing")
    first = _put(customer, {"identity": SAMPLES["identity"], "preferences": SAMPLES["preferences"]})
    assert (first.status, first.headers["ETag"]) == (200, '"v1"')
    patched = _patch(
        customer, {"contact": {"phone": "+84912345678"}, "preferences": {"language": None}}, **{"If-Match": '"v1"'}
    )
    assert patched.headers["ETag"] == '"v2"'
    assert patched.body["categories"]["preferences"] == {"channels": ["email"]}
    assert patched.body["categories"]["identity"] == SAMPLES["identity"]
    replaced = _put(customer, {"identity": SAMPLES["identity"]})
    assert set(replaced.body["categories"]) == {"identity"}
    assert [item["category"] for item in _stored_items(customer)] == ["identity"]


def test_a_json_merge_patch_is_json(customer: Customer) -> None:
    """RFC 7396's media type is JSON: PATCH takes it, and never answers in another error shape."""
    grant(customer, "crm_core")
    _put(customer, {"identity": SAMPLES["identity"]})
    patched = _patch(
        customer, {"contact": {"phone": "+84912345678"}}, **{"Content-Type": "application/merge-patch+json"}
    )
    assert patched.status == 200, patched.raw
    assert patched.body["categories"]["contact"] == {"phone": "+84912345678"}
    refused = _patch(customer, {"contact": {"phone": 7}}, **{"Content-Type": "application/merge-patch+json"})
    assert (refused.status, set(refused.body)) == (422, {"error", "message", "details"})


def test_a_stale_if_match_gets_412_and_changes_nothing(customer: Customer) -> None:
    grant(customer, "crm_core")
    _put(customer, {"identity": SAMPLES["identity"]})
    _patch(customer, {"contact": {"phone": "+84912345678"}})
    reply = _patch(customer, {"contact": {"phone": "+84900000000"}}, **{"If-Match": '"v1"'})
    assert (reply.status, reply.body["details"]["current_etag"]) == (412, '"v2"')
    report = call("subject_access", "GET", "/v1/me", customer).body
    assert report["stores"]["profiles"]["categories"]["contact"] == {"phone": "+84912345678"}


def test_a_patch_cannot_leave_a_category_incomplete(customer: Customer) -> None:
    grant(customer, "payments")
    reply = _patch(customer, {"payment": {"holder_name": "Ann Lee"}})
    assert reply.status == 422
    assert {item["field"] for item in reply.body["details"]["fields"]} == {
        "payment.card_number",
        "payment.expiry_month",
        "payment.expiry_year",
    }


@pytest.mark.parametrize(
    "change",
    [
        {"identity": {"legal_name": "Someone Else"}},
        {"identity": {"birth_date": "1991-01-01"}},
        {"identity": {"legal_name": None}},
    ],
)
def test_verified_fields_change_only_through_a_change_request(customer: Customer, change: dict[str, Any]) -> None:
    grant(customer, "crm_core")
    _put(customer, {"identity": SAMPLES["identity"]})
    reply = _patch(customer, change)
    assert (reply.status, reply.body["error"]) == (409, "conflict")
    assert reply.body["details"]["change_request_url"] == "/v1/me/change-requests"
    assert _put(customer, {"contact": {"phone": "+84912345678"}}).status == 409
    assert _patch(customer, {"identity": {"preferred_name": "Annie"}}).status == 200


def test_concurrent_patches_lose_nothing(customer: Customer) -> None:
    grant(customer, "crm_core", "marketing")
    _put(customer, {"identity": {"legal_name": "Ann Lee"}})
    changes = [
        {"identity": {"preferred_name": "Annie"}},
        {"contact": {"phone": "+84912345678"}},
        {"preferences": {"language": "vi"}},
        {"preferences": {"channels": ["sms"]}},
        {"contact": {"address": {"line1": "1 Main St", "city": "Hanoi", "postal_code": "100000", "country": "VN"}}},
    ]
    replies: list[int] = []
    threads = [threading.Thread(target=lambda c=c: replies.append(_patch(customer, c).status)) for c in changes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert replies == [200] * len(changes)
    profile = call("subject_access", "GET", "/v1/me", customer).body["stores"]["profiles"]
    assert profile["version"] == f'"v{1 + len(changes)}"'
    categories = profile["categories"]
    assert categories["identity"] == {"legal_name": "Ann Lee", "preferred_name": "Annie"}
    assert categories["contact"]["phone"] == "+84912345678"
    assert categories["contact"]["address"]["city"] == "Hanoi"
    assert categories["preferences"] == {"language": "vi", "channels": ["sms"]}


def test_the_first_write_creates_the_data_key(customer: Customer) -> None:
    from custody.crypto.keyring import get_keyring

    grant(customer, "crm_core")
    assert not get_keyring().exists(customer.subject_id)
    _put(customer, {"identity": SAMPLES["identity"]})
    assert get_keyring().exists(customer.subject_id)


def test_a_body_that_is_not_json_is_a_400(customer: Customer) -> None:
    reply = call("collect", "PUT", "/v1/me/profile", customer, raw_body='{"identity": ')
    assert (reply.status, reply.body["error"]) == (400, "malformed_request")


def test_unknown_fields_are_refused(customer: Customer) -> None:
    grant(customer, "crm_core")
    reply = _put(customer, {"identity": {"legal_name": "Ann Lee", "nickname-of-Ann-Lee": "A"}})
    assert reply.status == 422
    # Reported on the object that holds it: an undeclared field's name is the caller's text.
    assert reply.body["details"]["fields"][0] == {"field": "identity", "reason": errors.UNDECLARED_FIELD}
    assert "nickname" not in reply.raw
