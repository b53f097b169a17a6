"""What a request costs, counted through botocore's event hooks — not timed."""

from __future__ import annotations

from collections import Counter

from custody.crypto.keyring import get_keyring
from custody.customers import access_report
from custody.declared import datamap
from tests.integration.customers.conftest import Customer, call, grant
from tests.integration.customers.test_profile import SAMPLES

WRITES = ("dynamodb.PutItem", "dynamodb.UpdateItem", "dynamodb.DeleteItem", "dynamodb.BatchWriteItem")


def _kms(calls: Counter[str]) -> int:
    return sum(count for name, count in calls.items() if name.startswith("kms."))


def test_the_first_profile_write_costs_one_kms_call_and_one_transaction(
    customer: Customer, aws_calls: Counter[str]
) -> None:
    grant(customer, *datamap.PURPOSES)
    aws_calls.clear()
    assert call("collect", "PUT", "/v1/me/profile", customer, SAMPLES).status == 200
    assert _kms(aws_calls) == 1
    assert aws_calls["dynamodb.TransactWriteItems"] == 1
    assert not any(aws_calls[name] for name in WRITES)


def test_a_patch_with_a_cold_key_cache_costs_one_kms_call_and_one_transaction(
    customer: Customer, aws_calls: Counter[str]
) -> None:
    grant(customer, "crm_core")
    call("collect", "PUT", "/v1/me/profile", customer, {"identity": SAMPLES["identity"]})
    get_keyring().cache.clear()
    aws_calls.clear()
    assert call("collect", "PATCH", "/v1/me/profile", customer, {"contact": SAMPLES["contact"]}).status == 200
    assert _kms(aws_calls) == 1
    assert aws_calls["dynamodb.TransactWriteItems"] == 1
    assert not any(aws_calls[name] for name in WRITES)
    aws_calls.clear()
    assert call("collect", "PATCH", "/v1/me/profile", customer, {"identity": {"preferred_name": "Annie"}}).status == 200
    assert _kms(aws_calls) == 0


def test_the_access_report_costs_two_queries_per_store_and_at_most_one_kms_call(
    customer: Customer, aws_calls: Counter[str]
) -> None:
    grant(customer, *datamap.PURPOSES)
    call("collect", "PUT", "/v1/me/profile", customer, SAMPLES)
    get_keyring().cache.clear()
    aws_calls.clear()
    assert call("subject_access", "GET", "/v1/me", customer).status == 200
    stores = access_report.personal_stores()
    tables = [store for store in stores if isinstance(store, datamap.TableStore)]
    buckets = [store for store in stores if isinstance(store, datamap.BucketStore)]
    # per store: its first page, and its count (`Select=COUNT`, or a listing of the prefix)
    assert aws_calls["dynamodb.Query"] == 2 * len(tables)
    assert aws_calls["s3.ListObjectsV2"] == 2 * len(buckets)
    assert _kms(aws_calls) == 1
    assert aws_calls["dynamodb.Scan"] == 0
    # the subject record and the (uncached) wrapped key
    assert aws_calls["dynamodb.GetItem"] == 2
    aws_calls.clear()
    call("subject_access", "GET", "/v1/me", customer)
    assert _kms(aws_calls) == 0
