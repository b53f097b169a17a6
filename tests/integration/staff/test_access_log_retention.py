"""The access log is kept for its retention, no longer: every item any staff route writes carries the TTL.

Generated from the catalog: every route of the `staff` function (the one that writes the
`staff_access` store) is called for one customer, and a route added to that function fails this
test until it is called here too. Reads are kept `ACCESS_LOG_RETENTION_DAYS` past the read, grants
as long past their expiry.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from custody.declared import catalog, clock, datamap
from custody.declared.settings import Settings
from custody.stores import dynamo
from custody.stores.staff_access import TTL_ATTRIBUTE
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import Customer, settings
from tests.integration.staff.conftest import Caller

__all__ = ["settings"]

RETENTION_SECONDS = datamap.ACCESS_LOG_RETENTION_DAYS * 86_400


def test_the_access_logs_category_declares_its_retention_and_its_store_the_ttl() -> None:
    store = datamap.store("staff_access")
    assert isinstance(store, datamap.TableStore)
    assert store.ttl_attribute == TTL_ATTRIBUTE != "expires_at"  # grants keep `expires_at` for their own expiry
    assert datamap.category("staff_access").retention_days == datamap.ACCESS_LOG_RETENTION_DAYS


def test_every_staff_access_item_written_by_every_staff_route_carries_the_ttl(
    local_stack: LocalStack, settings: Settings, staff: Any
) -> None:
    customer = Customer.signed_up(local_stack)
    customer.fill(documents=0)
    support, officer, other_officer = staff("support"), staff("privacy_officer"), staff("privacy_officer")
    sid = customer.subject_id
    values: dict[str, str] = {}

    def grant(caller: Caller, purpose: str, categories: list[str]) -> str:
        body = {"customer_id": sid, "purpose": purpose, "ticket": "SUP-18", "categories": categories}
        reply = caller.call("POST", "/v1/staff/access-grants", body)
        assert reply.status == 201, reply.text
        return str(reply.body["grant_id"])

    def request_grant() -> int:
        values["grant"] = grant(support, "crm_core", ["identity", "interactions", "invoices"])
        values["pending"] = grant(officer, "health_services", ["health"])
        return 201

    def approve() -> int:
        path = f"/v1/staff/access-grants/{values['pending']}/approval"
        return other_officer.call("POST", path, {"customer_id": sid}).status

    def view() -> int:
        return support.call("GET", f"/v1/staff/customers/{sid}?grant_id={values['grant']}").status

    def record() -> int:
        body = {"grant_id": values["grant"], "kind": "order", "summary": "Ordered a lamp"}
        return support.call("POST", f"/v1/staff/customers/{sid}/interactions", body).status

    def page() -> int:
        return support.call("GET", f"/v1/staff/customers/{sid}/interactions?grant_id={values['grant']}").status

    def record_invoice() -> int:
        body = {
            "grant_id": values["grant"],
            "invoice_number": "INV-2026-0042",
            "issued_on": "2026-11-30",
            "amount": "120.50",
            "currency": "EUR",
            "line_summary": "2 garden chairs",
        }
        return support.call("POST", f"/v1/staff/customers/{sid}/invoices", body).status

    def invoices() -> int:
        return support.call("GET", f"/v1/staff/customers/{sid}/invoices?grant_id={values['grant']}").status

    def hold() -> int:  # a legal hold: the subject's record and the ledger, no staff read of the customer's data
        until = (clock.now().date() + timedelta(days=30)).isoformat()
        body = {"reason_code": "dispute", "ticket": "LEG-18", "until": until}
        return officer.call("PUT", f"/v1/staff/customers/{sid}/legal-hold", body).status

    def lift() -> int:
        return officer.call("DELETE", f"/v1/staff/customers/{sid}/legal-hold").status

    def queue() -> int:
        reply = officer.call("GET", f"/v1/staff/change-requests?customer_id={sid}")
        values["change"] = reply.body["change_requests"][0]["change_request_id"]
        return reply.status

    def decide() -> int:
        body = {"customer_id": sid, "decision": "approve", "reason": "Passport seen"}
        return officer.call("POST", f"/v1/staff/change-requests/{values['change']}/decision", body).status

    def register() -> int:  # the requests register: ids and dates, no staff read of a customer's data
        return officer.call("GET", "/v1/staff/requests?due_within_days=45").status

    def extend() -> int:
        return officer.call("POST", f"/v1/staff/requests/{values['change']}/extension", {"reason": "volume"}).status

    scenario: dict[str, Callable[[], int]] = {
        "POST /v1/staff/access-grants": request_grant,
        "POST /v1/staff/access-grants/{grant_id}/approval": approve,
        "GET /v1/staff/customers/{customer_id}": view,
        "POST /v1/staff/customers/{customer_id}/interactions": record,
        "GET /v1/staff/customers/{customer_id}/interactions": page,
        "POST /v1/staff/customers/{customer_id}/invoices": record_invoice,
        "GET /v1/staff/customers/{customer_id}/invoices": invoices,
        "GET /v1/staff/change-requests": queue,
        "GET /v1/staff/requests": register,
        "POST /v1/staff/requests/{request_id}/extension": extend,
        "POST /v1/staff/change-requests/{change_request_id}/decision": decide,
        "PUT /v1/staff/customers/{customer_id}/legal-hold": hold,
        "DELETE /v1/staff/customers/{customer_id}/legal-hold": lift,
    }
    assert set(scenario) == {route.key for route in catalog.routes_of("staff")}, "call every staff route here"
    for key, run in scenario.items():
        assert run() in (200, 201), key

    now = time.time()
    log = list(dynamo.query_partition(settings.table("staff_access"), "subject_id", sid))
    assert {item["kind"] for item in log} == {"grant", "read"}
    assert len([item for item in log if item["kind"] == "read"]) >= 4  # the view, the pages, the review queue
    for item in log:
        kept = item.get(TTL_ATTRIBUTE)
        assert isinstance(kept, int), item["access_key"]
        start = item["expires_at"] if item["kind"] == "grant" else now
        assert abs(kept - (start + RETENTION_SECONDS)) < 120, item["access_key"]

    report = customer.call("GET", "/v1/me").body
    assert report["retention"]["staff_access"]["retention_days"] == datamap.ACCESS_LOG_RETENTION_DAYS
    assert all(TTL_ATTRIBUTE in item for item in report["stores"]["staff_access"]["items"])
