"""Every personal store of the data map, paged through: exactly what is held, each page under its budget.

Generated from `access_report.personal_stores()`: a store added to the data map is filled past one
page (through its kind's write: items in its partition, objects under the customer's prefix) and
paged through with the cursor, without an edit here. Budgets are made small so a few items span
several pages; the real budgets are held to Lambda's limit in tests/unit/test_paging.py and at scale
in tests/integration/staff/test_access_at_any_size.py.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custody.customers import access_report
from custody.declared import datamap
from custody.declared.settings import get_settings
from custody.platform import paging
from custody.platform.aws import clients
from custody.stores import dynamo
from tests.integration.customers.conftest import Customer, call

STORES = access_report.personal_stores()
SEEDED = 10
REPORT_BUDGET = 600  # bytes: two seeded items or so (each carries 30 CJK characters: 210 bytes on the wire)
PAGE_BUDGET = 1000  # three or so
PADDING = "数" * 30
ROUTE_ENVELOPE = 300  # the page's own fields: store, count, cursor, extras


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paging, "REPORT_STORE_BUDGET_BYTES", REPORT_BUDGET)
    monkeypatch.setattr(paging, "PAGE_BUDGET_BYTES", PAGE_BUDGET)


def seed(store: datamap.Store, subject_id: str, count: int, mark: str) -> None:
    """`count` items of `store` for the subject, each carrying its number (`seed`) and `mark`."""
    settings = get_settings()
    mark += PADDING if isinstance(store, datamap.TableStore) else PADDING[:6]  # a key shows up three times
    if isinstance(store, datamap.TableStore):
        items = [
            dynamo.to_item(
                {store.partition_key: subject_id, store.sort_key: f"seed#{index:04d}", "seed": index, "note": mark}
            )
            for index in range(count)
        ]
        table = settings.table(store.name)
        for start in range(0, count, 25):
            batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
            clients.dynamodb().batch_write_item(RequestItems={table: batch})  # type: ignore[dict-item]
    else:
        for index in range(count):
            key = f"{datamap.BucketStore.prefix(subject_id)}seed/{mark}-{index:04d}"
            clients.s3().put_object(Bucket=settings.bucket(store.name), Key=key, Body=b"x")


def items_of(store: datamap.Store, page: dict[str, Any]) -> list[Any]:
    found = page[access_report.reader_of(store).items_field]
    return list(found.values()) if isinstance(found, dict) else list(found)


def seeds_of(store: datamap.Store, items: list[Any]) -> list[int]:
    if isinstance(store, datamap.TableStore):
        return [int(item["seed"]) for item in items]
    return [int(item["key"].rsplit("-", 1)[1]) for item in items]


def page_path(store: str, cursor: str | None) -> str:
    return f"/v1/me/stores/{store}" + (f"?{urlencode({'cursor': cursor})}" if cursor is not None else "")


@pytest.mark.parametrize("store", STORES, ids=[store.name for store in STORES])
def test_every_personal_store_pages_through_exactly_what_it_holds(
    store: datamap.Store, new_customer: Any, small_pages: None
) -> None:
    ann, bob = new_customer(), new_customer()
    seed(store, ann.subject_id, SEEDED, "ann")
    seed(store, bob.subject_id, SEEDED, "bob")
    report = call("subject_access", "GET", "/v1/me", ann)
    assert report.status == 200, report.raw
    first = report.body["stores"][store.name]
    assert first["count"] == SEEDED
    assert first["next_cursor"], "ten items do not fit one small page"
    found = items_of(store, first)
    assert len(found) > 1
    assert paging.wire_size(found) <= REPORT_BUDGET
    cursor, pages = first["next_cursor"], 1
    while cursor:
        reply = call("subject_access", "GET", page_path(store.name, cursor), ann)
        assert reply.status == 200, reply.raw
        assert len(reply.raw.encode()) <= PAGE_BUDGET + ROUTE_ENVELOPE
        assert (reply.body["store"], reply.body["count"]) == (store.name, None)
        page = items_of(store, reply.body)
        assert page
        assert paging.wire_size(page) <= PAGE_BUDGET or len(page) == 1
        found += page
        cursor, pages = reply.body["next_cursor"], pages + 1
    assert pages >= 2
    assert sorted(seeds_of(store, found)) == list(range(SEEDED)), "each item once, none missing"
    assert "bob" not in str(found)
    assert reply.body["next_cursor"] is None
    whole = call("subject_access", "GET", page_path(store.name, None), ann)
    assert whole.body["count"] == SEEDED, "a first page counts, as the report does"


def test_a_store_that_is_not_personal_or_not_declared_is_a_404(customer: Customer) -> None:
    for name in ("subject_keys", "subjects", "nope"):
        reply = call("subject_access", "GET", f"/v1/me/stores/{name}", customer)
        assert (reply.status, reply.body["error"]) == (404, "not_found")


def test_a_cursor_of_another_store_is_a_400(new_customer: Any, small_pages: None) -> None:
    ann = new_customer()
    seed(datamap.store("consents"), ann.subject_id, SEEDED, "ann")
    cursor = call("subject_access", "GET", "/v1/me", ann).body["stores"]["consents"]["next_cursor"]
    reply = call("subject_access", "GET", page_path("interactions", cursor), ann)
    assert (reply.status, reply.body["error"], reply.body["details"]["parameter"]) == (
        400,
        "malformed_request",
        "cursor",
    )


@pytest.fixture(scope="module")
def two_customers(stack: Any) -> tuple[Customer, Customer]:
    import time
    import uuid

    made = []
    for mark in ("ann", "bob"):
        subject = str(uuid.uuid4())
        made.append(Customer(subject, f"{subject[:8]}@example.com", int(time.time()), stack))
        for store in STORES:
            seed(store, subject, 3, f"{mark}-secret")
    return made[0], made[1]


def _positions() -> st.SearchStrategy[str]:
    names = st.sampled_from([store.name for store in STORES])
    return st.one_of(
        st.text(max_size=400),
        st.builds(paging.encode, st.just("consents"), st.text(min_size=1, max_size=80)),
        st.builds(paging.encode, names, st.text(min_size=1, max_size=40)),
        st.builds(
            lambda cursor, cut: cursor[:cut], st.builds(paging.encode, names, st.text(max_size=20)), st.integers(0, 60)
        ),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cursor=_positions())
def test_any_cursor_is_a_400_or_a_page_of_ones_own_never_a_5xx(
    two_customers: tuple[Customer, Customer], cursor: str
) -> None:
    ann, _ = two_customers
    reply = call("subject_access", "GET", page_path("consents", cursor), ann)
    assert reply.status in (200, 400), reply.raw
    assert "bob-secret" not in reply.raw
    if reply.status == 400:
        assert reply.body["error"] == "malformed_request"
        assert reply.body["details"] == {"parameter": "cursor", "reason": reply.body["details"]["reason"]}
    else:
        assert reply.body["store"] == "consents"
        assert all(item["note"].startswith("ann-secret") for item in reply.body["history"])
