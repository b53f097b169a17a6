"""Pages bounded by bytes on the wire, and cursors that only ever resume inside the caller's own partition."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.customers import access_report
from custody.declared import catalog, datamap
from custody.declared.errors import MalformedRequest
from custody.platform import paging

CJK = "数据保护" * 500  # 2,000 characters: an interaction summary at its validation limit


def test_wire_size_is_the_body_as_the_proxy_response_carries_it() -> None:
    item = {"summary": CJK, "quote": 'a "b" \\ c'}
    proxy = json.dumps({"statusCode": 200, "body": json.dumps(item, separators=(",", ":"))})
    assert paging.wire_size(item) == len(proxy) - len(json.dumps({"statusCode": 200, "body": ""}))
    assert paging.wire_size(CJK) == 2 * 2 + 2000 * 7  # each \uXXXX with its backslash escaped again; the quotes too


def test_the_budgets_keep_every_response_well_under_lambdas_limit() -> None:
    report = len(access_report.personal_stores()) * paging.REPORT_STORE_BUDGET_BYTES + paging.REPORT_ENVELOPE_BYTES
    assert report <= paging.LAMBDA_RESPONSE_LIMIT_BYTES / 2
    assert paging.PAGE_BUDGET_BYTES + paging.REPORT_ENVELOPE_BYTES <= paging.LAMBDA_RESPONSE_LIMIT_BYTES / 2
    # the largest item validation lets in (an interaction) fits a report page many times over
    assert paging.wire_size({"summary": CJK, "reference": "x" * 64}) * 10 < paging.REPORT_STORE_BUDGET_BYTES


def test_the_retention_section_has_room_in_the_envelope() -> None:
    assert paging.wire_size(access_report._retention()) < paging.REPORT_ENVELOPE_BYTES / 4


def _entries(sizes: list[int]) -> list[tuple[str, str]]:
    return [(f"k{index:04d}", "x" * size) for index, size in enumerate(sizes)]


def test_a_page_holds_what_fits_and_the_cursor_resumes_after_its_last_item() -> None:
    entries = _entries([100] * 10)
    page = paging.take("interactions", iter(entries), budget=350)
    assert page.items == ["x" * 100] * 3
    assert paging.decode("interactions", page.next_cursor) == "k0002"
    assert paging.take("interactions", iter(entries), budget=10_000).next_cursor is None


def test_an_item_larger_than_the_page_is_a_page_of_its_own() -> None:
    page = paging.take("documents", iter(_entries([5_000, 10])), budget=100)
    assert (len(page.items), paging.decode("documents", page.next_cursor)) == (1, "k0000")


def test_the_page_is_under_its_budget_whatever_the_sizes() -> None:
    for sizes in ([1] * 500, [99, 1, 99, 1], [50] * 7):
        page = paging.take("consents", iter(_entries(sizes)), budget=200)
        assert len(json.dumps(json.dumps(page.items, separators=(",", ":")))) <= 200 + 4


def test_a_cursor_for_another_store_is_refused() -> None:
    cursor = paging.encode("consents", "2026-12-01T00:00:00.000Z#abc")
    with pytest.raises(MalformedRequest) as refused:
        paging.decode("interactions", cursor)
    assert refused.value.status == 400
    assert refused.value.details == {"parameter": "cursor", "reason": "issued for another store"}


def _raw(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not base64!",
        "x" * (paging.MAX_CURSOR_CHARS + 1),
        _raw([1, 2]),
        _raw({"v": 2, "s": "consents", "k": "a"}),
        _raw({"v": True, "s": "consents", "k": "a"}),
        _raw({"v": 1, "s": "consents", "k": ""}),
        _raw({"v": 1, "s": "consents", "k": 7}),
        _raw({"v": 1, "s": "consents", "k": "a", "subject_id": "someone-else"}),
        _raw({"v": 1, "s": "consents", "k": "\ud800"}),
        _raw({"v": 1, "s": "consents", "k": "é" * paging.MAX_POSITION_BYTES}),
    ],
)
def test_what_is_not_a_cursor_is_a_400_naming_the_parameter_only(cursor: str) -> None:
    with pytest.raises(MalformedRequest) as refused:
        paging.decode("consents", cursor)
    assert set(refused.value.details) == {"parameter", "reason"}
    assert refused.value.details["parameter"] == "cursor"


@given(st.text(max_size=3000))
def test_any_text_decodes_to_a_position_or_is_a_400(text: str) -> None:
    try:
        position = paging.decode("interactions", text)
    except MalformedRequest:
        return  # a 400 (MalformedRequest.status), never anything else
    assert isinstance(position, str)
    assert 0 < len(position.encode()) <= paging.MAX_POSITION_BYTES


@given(st.text(min_size=1, max_size=200))
def test_a_cursor_round_trips(position: str) -> None:
    assert paging.decode("staff_access", paging.encode("staff_access", position)) == position


def test_the_paging_routes_are_declared() -> None:
    assert catalog.route("GET", "/v1/me/stores/{store}") is not None
    staff = catalog.route("GET", "/v1/staff/customers/{customer_id}/interactions")
    assert staff is not None
    assert set(staff.groups) == {"support", "privacy_officer"}


def test_every_personal_stores_sort_key_is_an_id_or_a_time_not_personal_data() -> None:
    """A cursor carries a sort key: each personal table's is a key or an id by name, and no field of a category.

    What they hold, store by store, is in `access_report`'s docstring (categories, `<time>#<uuid>`,
    uuids, `grant#<uuid>`, `read#<time>#<uuid>`); a new store's sort key is held to the naming here.
    """
    tables = [store for store in access_report.personal_stores() if isinstance(store, datamap.TableStore)]
    fields = {name for category in datamap.CATEGORIES for name in category.fields}
    for store in tables:
        assert store.sort_key == "category" or store.sort_key.endswith(("_key", "_id")), store.name
        assert store.sort_key not in fields, store.name
