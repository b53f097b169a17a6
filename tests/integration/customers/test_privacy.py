"""No value a customer submitted appears in logs, metrics, error bodies or operational tables."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from custody.declared import datamap
from custody.declared.settings import get_settings
from custody.platform.aws import clients
from custody.stores import dynamo
from tests.integration.customers.conftest import Customer, call, grant

# Values distinctive enough that any hit is a leak, not a coincidence.
SUBMITTED = {
    "legal_name": "Quilliam Zephyrine",
    "preferred_name": "Zephy",
    "phone": "+84987654321",
    "line1": "77 Xylophone Alley",
    "city": "Vexbury",
    "card_number": "5555555555554444",
    "holder_name": "Quilliam Zephyrine",
    "condition": "Zebra syndrome",
    "allergy": "Quokka dander",
    "interest": "xenobotany",
    "document": "Quilliam private letter",
    "change_reason": "Zephyrine wedding",
}


def _journey(customer: Customer) -> list[str]:
    """Submit every kind of value, valid and invalid; return every response body."""
    bodies = []

    def send(function: str, method: str, path: str, body: Any = None) -> None:
        reply = call(function, method, path, customer, body)
        assert reply.status < 500, reply.raw
        bodies.append(reply.raw)

    grant(customer, *datamap.PURPOSES)
    profile = {
        "identity": {"legal_name": SUBMITTED["legal_name"], "preferred_name": SUBMITTED["preferred_name"]},
        "contact": {
            "phone": SUBMITTED["phone"],
            "address": {
                "line1": SUBMITTED["line1"],
                "city": SUBMITTED["city"],
                "postal_code": "10115",
                "country": "DE",
            },
        },
        "preferences": {"interests": [SUBMITTED["interest"]]},
        "payment": {
            "card_number": SUBMITTED["card_number"],
            "expiry_month": 1,
            "expiry_year": 2099,
            "holder_name": SUBMITTED["holder_name"],
        },
        "health": {
            "conditions": [{"name": SUBMITTED["condition"]}],
            "allergies": [{"substance": SUBMITTED["allergy"]}],
        },
    }
    send("collect", "PUT", "/v1/me/profile", profile)
    # refused: invalid values, a verified-field change, a stale version
    send("collect", "PATCH", "/v1/me/profile", {"contact": {"phone": SUBMITTED["phone"] + "999999999"}})
    send("collect", "PATCH", "/v1/me/profile", {"identity": {"legal_name": SUBMITTED["legal_name"] + "x"}})
    send("collect", "PATCH", "/v1/me/profile", {"identity": {"legal_name": SUBMITTED["legal_name"] + "1"}})
    send("collect", "PATCH", "/v1/me/profile", {"payment": {"card_number": SUBMITTED["card_number"][:-1] + "5"}})
    send(
        "collect",
        "PATCH",
        "/v1/me/profile",
        {
            "contact": {
                "address": {
                    "line1": SUBMITTED["line1"],
                    "city": SUBMITTED["city"],
                    "postal_code": "ZZ",
                    "country": "DE",
                }
            }
        },
    )
    document = base64.b64encode(SUBMITTED["document"].encode()).decode()
    send(
        "collect",
        "POST",
        "/v1/me/documents",
        {"file_name": "letter.txt", "content_type": "text/plain", "content_base64": document},
    )
    send(
        "subject_access",
        "POST",
        "/v1/me/change-requests",
        {"field": "legal_name", "value": "Q Zephyrine", "reason": SUBMITTED["change_reason"]},
    )
    send(
        "subject_access",
        "POST",
        "/v1/me/change-requests",
        {"field": "legal_name", "value": SUBMITTED["legal_name"] + "9", "reason": "x"},
    )
    send("collect", "DELETE", "/v1/me/consents/health_services")
    return bodies


def test_no_submitted_value_leaks_into_logs_metrics_or_error_bodies(
    customer: Customer, capfd: pytest.CaptureFixture[str]
) -> None:
    bodies = _journey(customer)
    output = capfd.readouterr()
    errors = [body for body in bodies if '"error"' in body]
    assert len(errors) >= 6
    for name, value in SUBMITTED.items():
        assert value not in output.out, f"{name} leaked to stdout (logs, metrics)"
        assert value not in output.err, f"{name} leaked to stderr"
        for body in errors:
            assert value not in body, f"{name} leaked into an error body"


def test_operational_tables_hold_no_submitted_value(customer: Customer) -> None:
    _journey(customer)
    settings = get_settings()
    held = [dynamo.get(settings.table("subjects"), {"subject_id": customer.subject_id})]
    scanned = clients.dynamodb().scan(TableName=settings.table("requests"))["Items"]  # test inspection only
    held += [dynamo.from_item(item) for item in scanned]
    text = json.dumps(held, default=str)
    assert customer.subject_id in text
    for name, value in SUBMITTED.items():
        assert value not in text, f"{name} stored in an operational table"
