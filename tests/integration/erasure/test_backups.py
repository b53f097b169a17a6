"""Backups: a restored copy of an erased customer is ciphertext nobody can read, and the guard removes it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from custody.crypto import sealed
from custody.crypto.keyring import SubjectKeyring
from custody.declared.errors import SubjectKeyUnavailable
from custody.declared.settings import Settings
from custody.erasure import restore_guard
from custody.stores import dynamo
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import Customer, wait_for_execution


def _rows(table: str, subject_id: str) -> list[dict[str, Any]]:
    return list(dynamo.query_partition(table, "subject_id", subject_id))


def test_a_restored_backup_holds_only_undecryptable_ciphertext_and_the_guard_removes_it(
    local_stack: LocalStack, new_customer: Any, settings: Settings
) -> None:
    leaving, staying = new_customer(), new_customer()
    leaving.fill()
    staying.fill()
    dynamodb = local_stack.clients("dynamodb")
    profiles = local_stack.resources.tables["profiles"]
    backup = dynamodb.create_backup(TableName=profiles, BackupName=f"before-{uuid.uuid4().hex[:8]}")["BackupDetails"]

    request_id = leaving.call("POST", "/v1/me/withdrawal").body["request_id"]
    assert wait_for_execution(local_stack, request_id)["status"] == "SUCCEEDED"
    assert _rows(profiles, leaving.subject_id) == []

    restored = f"{profiles}-restored-{uuid.uuid4().hex[:6]}"
    dynamodb.restore_table_from_backup(TargetTableName=restored, BackupArn=backup["BackupArn"])
    rows = _rows(restored, leaving.subject_id)
    assert rows, "the backup still holds the erased customer's rows"
    for row in rows:
        assert all(token.startswith("cc1.") for token in row[sealed.FIELDS].values())
    with pytest.raises(SubjectKeyUnavailable):
        SubjectKeyring(settings).get(leaving.subject_id)

    report = restore_guard.guard(settings, restored, "profiles")
    assert report.items_removed == len(rows)
    assert _rows(restored, leaving.subject_id) == []
    assert len(_rows(restored, staying.subject_id)) == len(_rows(profiles, staying.subject_id)) > 0
    assert restore_guard.guard(settings, restored, "profiles").items_removed == 0, "the guard is idempotent"


def test_a_partial_erasure_is_replayed_only_for_its_categories(
    local_stack: LocalStack, customer: Customer, settings: Settings
) -> None:
    customer.fill()
    dynamodb = local_stack.clients("dynamodb")
    profiles = local_stack.resources.tables["profiles"]
    backup = dynamodb.create_backup(TableName=profiles, BackupName=f"partial-{uuid.uuid4().hex[:8]}")["BackupDetails"]
    erasure = customer.call("DELETE", "/v1/me/consents/health_services").body["erasure"]
    assert wait_for_execution(local_stack, erasure["request_id"])["status"] == "SUCCEEDED"

    restored = f"{profiles}-restored-{uuid.uuid4().hex[:6]}"
    dynamodb.restore_table_from_backup(TargetTableName=restored, BackupArn=backup["BackupArn"])
    restore_guard.guard(settings, restored, "profiles")
    remaining = {row["category"] for row in _rows(restored, customer.subject_id)}
    assert remaining == {"identity", "contact", "preferences", "payment"}


def test_the_certificate_states_when_no_backup_can_yield_the_data(local_stack: LocalStack, customer: Customer) -> None:
    from custody.stores.requests import RequestsTable

    customer.fill()
    request_id = customer.call("POST", "/v1/me/withdrawal").body["request_id"]
    wait_for_execution(local_stack, request_id)
    item = RequestsTable(Settings.from_env(local_stack.resources.environment)).load(request_id)
    assert item is not None
    certificate = item["certificate"]
    assert certificate["key_shredded"] is True
    assert certificate["unrecoverable_after"] > item["key_shredded_at"]
    assert set(certificate["stores"]) >= {"profiles", "consents", "documents"}
    # the counts are the totals the Map's runs carried: one document, one consent per purpose
    assert (certificate["stores"]["documents"], certificate["stores"]["consents"]) == (1, 4)
