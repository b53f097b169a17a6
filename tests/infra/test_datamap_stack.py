"""The data map and the stack hold the same stores: none unnamed, none missing, same keys."""

from __future__ import annotations

from custody.declared import datamap
from custody.declared.datamap import BucketStore, Classification, TableStore
from infra.constructs.data import CLASSIFICATION_TAG, SUBJECT_RECORDS_TAG
from tests.infra.conftest import Cfn
from tests.infra.stores import BUCKET, PERSONAL_CLASSES, TABLE, classified

CLASSIFICATIONS = {item.value for item in Classification}


def test_every_personal_store_in_the_stack_is_in_the_data_map_and_back(cfn: Cfn) -> None:
    in_stack = {
        (kind, name)
        for cfn_type, kind in ((TABLE, "dynamodb"), (BUCKET, "s3"))
        for name in classified(cfn, cfn_type, PERSONAL_CLASSES).values()
    }
    in_data_map = {(store.kind, store.name) for store in datamap.STORES}
    assert in_stack == in_data_map


def test_each_store_carries_the_classification_the_data_map_gives_it(cfn: Cfn) -> None:
    for cfn_type in (TABLE, BUCKET):
        for lid, name in classified(cfn, cfn_type, CLASSIFICATIONS).items():
            tag = Cfn.tags(cfn.resources[lid])[CLASSIFICATION_TAG]
            if tag in PERSONAL_CLASSES:
                assert datamap.store(name).classification.value == tag, name


def test_no_table_or_bucket_escapes_classification(cfn: Cfn) -> None:
    for cfn_type in (TABLE, BUCKET):
        untagged = set(cfn.of_type(cfn_type)) - set(cfn.tagged(cfn_type, CLASSIFICATION_TAG))
        assert not untagged, f"{cfn_type} without {CLASSIFICATION_TAG}: {untagged}"
        assert set(cfn.tagged(cfn_type, CLASSIFICATION_TAG).values()) <= CLASSIFICATIONS


def test_operational_tables_are_exactly_the_declared_ones(cfn: Cfn) -> None:
    operational = classified(cfn, TABLE, {Classification.OPERATIONAL.value})
    assert set(operational.values()) == set(datamap.OPERATIONAL_TABLES)
    for lid, name in operational.items():
        table = datamap.OPERATIONAL_TABLES[name]
        expected = [{"AttributeName": table.partition_key, "KeyType": "HASH"}]
        if table.sort_key:
            expected.append({"AttributeName": table.sort_key, "KeyType": "RANGE"})
        assert cfn.props(lid)["KeySchema"] == expected
        ttl = cfn.props(lid).get("TimeToLiveSpecification")
        assert (ttl or {}).get("AttributeName") == table.ttl_attribute


def test_every_operational_table_says_what_erasure_does_to_a_subjects_records(cfn: Cfn) -> None:
    """Issue 16: every derived record is declared with how it is erased, and the deployed table says so."""
    for lid, name in classified(cfn, TABLE, {Classification.OPERATIONAL.value}).items():
        table = datamap.OPERATIONAL_TABLES[name]
        tags = {tag["Key"]: tag["Value"] for tag in cfn.props(lid).get("Tags", [])}
        assert tags[SUBJECT_RECORDS_TAG] == table.subject_records.value
        if table.subject_records is not datamap.SubjectRecords.NONE:
            assert table.subject_records_note, f"{name}: say how and why"
        keyed_by_subject = "subject_id" in (table.partition_key, table.sort_key)
        assert not keyed_by_subject or table.subject_records is not datamap.SubjectRecords.NONE, name


def test_table_key_schema_and_ttl_match_the_data_map(cfn: Cfn) -> None:
    for lid, name in classified(cfn, TABLE, PERSONAL_CLASSES).items():
        store = datamap.store(name)
        assert isinstance(store, TableStore)
        props = cfn.props(lid)
        assert props["KeySchema"] == [
            {"AttributeName": store.partition_key, "KeyType": "HASH"},
            {"AttributeName": store.sort_key, "KeyType": "RANGE"},
        ], name
        ttl = props.get("TimeToLiveSpecification")
        if store.ttl_attribute:
            assert ttl == {"AttributeName": store.ttl_attribute, "Enabled": True}, name
        else:
            assert ttl is None, name


def test_bucket_expiry_follows_the_data_map(cfn: Cfn) -> None:
    for lid, name in classified(cfn, BUCKET, PERSONAL_CLASSES).items():
        store = datamap.store(name)
        assert isinstance(store, BucketStore)
        rules = cfn.props(lid)["LifecycleConfiguration"]["Rules"]
        expiries = {rule.get("ExpirationInDays") for rule in rules} - {None}
        assert expiries == ({store.expiration_days} if store.expiration_days else set()), name
