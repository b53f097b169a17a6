"""A customer's change requests awaiting review are bounded: the review queue and their lists cannot be flooded.

Found by a fresh break of issue 18: with no bound, 1,637 open requests made `GET /v1/me/change-requests`
and the officer's per-customer view answer 502 (Lambda's 6 MB response) and filled the review queue.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from custody.customers.change_requests import MAX_PENDING
from custody.declared.settings import get_settings
from custody.stores import dynamo
from tests.integration.customers.conftest import Customer, call, grant

CHANGE = {"field": "legal_name", "value": "Ann Lee-Ode", "reason": "Married"}


def _held(customer: Customer) -> int:
    return len(list(dynamo.query_partition(get_settings().table("change_requests"), "subject_id", customer.subject_id)))


def test_one_more_than_the_limit_is_a_409_that_writes_nothing(customer: Customer) -> None:
    grant(customer, "crm_core")
    for _ in range(MAX_PENDING):
        assert call("subject_access", "POST", "/v1/me/change-requests", customer, CHANGE).status == 201
    refused = call("subject_access", "POST", "/v1/me/change-requests", customer, CHANGE)
    assert refused.status == 409, refused.raw
    assert refused.body["details"] == {"pending": MAX_PENDING, "limit": MAX_PENDING}
    assert "Ann" not in refused.raw
    assert _held(customer) == MAX_PENDING


def test_a_burst_cannot_pass_the_limit(customer: Customer) -> None:
    grant(customer, "crm_core")
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(
            pool.map(
                lambda _: call("subject_access", "POST", "/v1/me/change-requests", customer, CHANGE).status, range(16)
            )
        )
    assert statuses.count(201) == MAX_PENDING, statuses
    assert set(statuses) <= {201, 409}
    assert _held(customer) == MAX_PENDING
