"""The right of access at any size (issue 18): a customer holding more than Lambda's 6 MB is read page by page.

1,000 interactions of 2,000 CJK characters (the summary's validation limit: 14 MB on the wire, more
than twice what one Lambda response holds) and 50 documents: every
page of `GET /v1/me`, `GET /v1/me/stores/{store}`, the staff view and the staff interaction pages is
a 200 under its byte budget, measured at the Lambda boundary (the function invoked through the
Lambda API with the event API Gateway sends; the local runtime fails a response over 6 MB as Lambda
does), and the pages account for every item exactly once. The interactions are sealed and built
as `staff_access.interactions` writes them and put 25 to a `BatchWriteItem` (moto copies every table
for each transaction), not sent as 1,000 HTTP calls. At 3,000 interactions the same test held 47 MB
over 47 customer pages and 46 staff pages, the largest response 1,046,196 bytes; it takes minutes.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from custody.crypto import sealed
from custody.crypto.keyring import get_keyring
from custody.customers import access_report
from custody.declared.settings import Settings
from custody.platform import paging
from custody.platform.aws import clients
from custody.staff_access.interactions import expires_at
from custody.stores import dynamo
from custody.stores.partitions import BATCH_WRITE_MAX
from custody.stores.staff_access import TTL_ATTRIBUTE
from devstack import identity
from devstack.auth import render_claims
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import Customer, settings

__all__ = ["settings"]

INTERACTIONS = 1000
DOCUMENTS = 50
SUMMARY = "个人数据保护与访问权利" * 200  # 2,000 characters: 14 KB each on the wire
# The page's own fields around its items (ids, count, cursor, the proxy response's status and headers).
ENVELOPE = 4 * 1024


def _seed_interactions(settings: Settings, subject_id: str, count: int) -> None:
    key = get_keyring().get(subject_id)
    table = settings.table("interactions")
    puts = []
    for index in range(count):
        at = f"2026-11-{1 + index % 28:02d}T00:00:{index % 60:02d}.{index:06d}Z"
        interaction_key = f"{at}#{uuid.uuid4()}"
        values = {"kind": "support_ticket", "summary": SUMMARY, "reference": f"T-{index}"}
        item = {
            "subject_id": subject_id,
            "interaction_key": interaction_key,
            "created_at": at,
            "recorded_by": "seed",
            "grant_id": "seed",
            "expires_at": expires_at(),
            sealed.FIELDS: sealed.seal(key, "interactions", interaction_key, values),
        }
        puts.append({"PutRequest": {"Item": dynamo.to_item(item)}})
    for start in range(0, len(puts), BATCH_WRITE_MAX):
        response = clients.dynamodb().batch_write_item(RequestItems={table: puts[start : start + BATCH_WRITE_MAX]})
        assert not response.get("UnprocessedItems")


def _boundary(stack: LocalStack, token: str) -> Callable[[str], tuple[dict[str, Any], int]]:
    claims = render_claims(identity.unverified_claims(token))

    def get(path: str) -> tuple[dict[str, Any], int]:
        answer = stack.invoke("GET", path, claims)  # a function error (ResponseSizeTooLarge among them) fails here
        assert answer["statusCode"] == 200, (path.split("?")[0], answer["body"][:300])
        return json.loads(answer["body"]), len(json.dumps(answer).encode())

    return get


def _items(store: str, page: dict[str, Any]) -> list[Any]:
    found = page[
        access_report.reader_of(next(s for s in access_report.personal_stores() if s.name == store)).items_field
    ]
    return list(found.values()) if isinstance(found, dict) else list(found)


def test_a_customer_holding_more_than_six_mb_is_read_page_by_page(
    local_stack: LocalStack, settings: Settings, staff: Any
) -> None:
    started = time.monotonic()
    customer = Customer.signed_up(local_stack)
    customer.fill(documents=DOCUMENTS)
    support = staff("support")
    body = {
        "customer_id": customer.subject_id,
        "purpose": "crm_core",
        "ticket": "SUP-18",
        "categories": ["interactions"],
    }
    granted = support.call("POST", "/v1/staff/access-grants", body)
    assert granted.status == 201, granted.text
    grant_id = granted.body["grant_id"]
    _seed_interactions(settings, customer.subject_id, INTERACTIONS)
    seeded = time.monotonic()

    get = _boundary(local_stack, customer.token)
    report, size = get("/v1/me")
    largest, pages, held = size, 1, size
    report_budget = (
        len(access_report.personal_stores()) * paging.REPORT_STORE_BUDGET_BYTES + paging.REPORT_ENVELOPE_BYTES
    )
    assert size <= report_budget
    for store, first in report["stores"].items():
        found = _items(store, first)
        assert paging.wire_size(found) <= paging.REPORT_STORE_BUDGET_BYTES or len(found) == 1
        cursor = first["next_cursor"]
        while cursor:
            page, size = get(f"/v1/me/stores/{store}?cursor={cursor}")
            assert size <= paging.PAGE_BUDGET_BYTES + ENVELOPE, store
            assert (page["store"], page["count"]) == (store, None)
            found += _items(store, page)
            largest, pages, held = max(largest, size), pages + 1, held + size
            cursor = page["next_cursor"]
        assert len(found) == first["count"], store
        if store == "interactions":
            assert len({item["interaction_key"] for item in found}) == INTERACTIONS
            assert {item["reference"] for item in found} == {f"T-{index}" for index in range(INTERACTIONS)}
        if store == "documents":
            assert len({item["document_id"] for item in found}) == DOCUMENTS
    assert report["stores"]["interactions"]["count"] == INTERACTIONS
    assert held > paging.LAMBDA_RESPONSE_LIMIT_BYTES, "the customer holds more than one Lambda response"

    first, size = _boundary(local_stack, support.token)(
        f"/v1/staff/customers/{customer.subject_id}?grant_id={grant_id}"
    )
    assert size <= paging.REPORT_STORE_BUDGET_BYTES + ENVELOPE
    assert first["interactions_count"] == INTERACTIONS
    keys = [item["interaction_key"] for item in first["interactions"]]
    cursor, staff_pages = first["interactions_next_cursor"], 1
    while cursor:
        path = f"/v1/staff/customers/{customer.subject_id}/interactions?grant_id={grant_id}&cursor={cursor}"
        page, size = _boundary(local_stack, support.token)(path)
        assert size <= paging.PAGE_BUDGET_BYTES + ENVELOPE
        keys += [item["interaction_key"] for item in page["interactions"]]
        largest, staff_pages, cursor = max(largest, size), staff_pages + 1, page["next_cursor"]
    assert len(keys) == len(set(keys)) == INTERACTIONS

    log = dynamo.query_partition(settings.table("staff_access"), "subject_id", customer.subject_id)
    reads = [item for item in log if item.get("kind") == "read"]
    assert len(reads) == staff_pages, "the view and every further page are each a read in the access log"
    assert all(TTL_ATTRIBUTE in item for item in reads)
    print(
        f"\nheld {held:,} bytes over {pages} customer pages and {staff_pages} staff pages; largest response "
        f"{largest:,} bytes; seeded in {seeded - started:.1f} s, read in {time.monotonic() - seeded:.1f} s"
    )


def test_the_interaction_pages_need_a_grant_that_covers_them_and_a_cursor_for_them(
    local_stack: LocalStack, settings: Settings, staff: Any
) -> None:
    customer = Customer.signed_up(local_stack)
    customer.fill(documents=0)
    support = staff("support")
    body = {"customer_id": customer.subject_id, "purpose": "crm_core", "ticket": "SUP-18", "categories": ["identity"]}
    identity_only = support.call("POST", "/v1/staff/access-grants", body).body["grant_id"]
    path = f"/v1/staff/customers/{customer.subject_id}/interactions?grant_id="
    refused = support.call("GET", path + identity_only)
    assert (refused.status, refused.body["details"]) == (403, {"reason": "category_not_granted"})
    covered = support.call("POST", "/v1/staff/access-grants", {**body, "categories": ["interactions"]}).body["grant_id"]
    for cursor in (paging.encode("consents", "seed#0001"), "garbage", "x" * 5000):
        reply = support.call("GET", f"{path}{covered}&cursor={cursor}")
        assert (reply.status, reply.body["error"]) == (400, "malformed_request"), reply.text
    empty = support.call("GET", path + covered).body
    assert (empty["interactions"], empty["count"], empty["next_cursor"]) == ([], 0, None)
