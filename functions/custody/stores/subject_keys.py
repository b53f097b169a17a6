"""The `subject_keys` store: each customer's data key, wrapped by the KMS data key.

Item: `{subject_id, key_version, wrapped_key (bytes), wrapping_key_id, created_at}`. Shredding it is
crypto-shredding: every copy of the customer's data that cannot be deleted item by item (PITR,
backups) becomes unreadable. A shredded key leaves a tombstone, `{subject_id, key_version,
shredded_at}` and no key material, so the conditional put of a new key is refused for ever: a
write in flight can never give an erased customer a fresh key. The table is excluded from AWS
Backup and keeps the shortest PITR window, which bounds when a shredded key is gone everywhere.

The same guarantee keeps an erasure's notice key: the per-request key that seals the customer's
address from Freeze until Certify sends the completion notice (`custody.notices.addresses`). It lives
under its own partition, `notice#<request id>` (`NOTICE_PARTITION_PREFIX`), never a subject's, so a
subject's shredding cannot take it early and IAM can let the erasure steps put exactly these
(`dynamodb:LeadingKeys`): `{subject_id: "notice#<request id>", key_version: "notice", wrapped_key,
wrapping_key_id, created_at}`. Deleting it shreds the sealed address wherever a copy of the request
record went.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from botocore.exceptions import ClientError

from custody.declared import datamap
from custody.declared.clock import now_iso
from custody.declared.notices import NOTICE_KEY_PARTITION_PREFIX
from custody.declared.settings import Settings
from custody.platform.aws import Clients, clients
from custody.stores import dynamo

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef

TABLE: Final = "subject_keys"
SHREDDED_AT: Final = "shredded_at"
NOTICE_PARTITION_PREFIX: Final = NOTICE_KEY_PARTITION_PREFIX
NOTICE_KEY_VERSION: Final = "notice"


def _key_store() -> datamap.TableStore:
    store = datamap.store(TABLE)
    if not isinstance(store, datamap.TableStore):
        raise TypeError(f"The data map must declare {TABLE!r} as a table.")
    return store


PARTITION: Final = _key_store().partition_key
SORT: Final = _key_store().sort_key


class SubjectKeysTable:
    """The `subject_keys` table: wrapped data keys by (`subject_id`, `key_version`).

    `aws`: the clients to use (the keyring's; tests give it their own). DynamoDB errors other than a
    refused condition pass through as botocore's `ClientError`.
    """

    def __init__(self, settings: Settings, aws: Clients = clients) -> None:
        self.table = settings.table(TABLE)
        self._aws = aws

    def new_key(self, subject_id: str, version: str, wrapped: bytes, wrapping_key_id: str) -> TransactWriteItemTypeDef:
        """The transaction item that stores a new key (refused if the customer has one)."""
        return {
            "Put": {
                "TableName": self.table,
                "Item": self._item(subject_id, version, wrapped, wrapping_key_id),
                "ConditionExpression": "attribute_not_exists(#pk)",
                "ExpressionAttributeNames": {"#pk": PARTITION},
            }
        }

    def add(self, subject_id: str, version: str, wrapped: bytes, wrapping_key_id: str) -> bool:
        """Store a new key on its own; False when the customer already had one (a race another create won)."""
        try:
            self._aws.dynamodb().put_item(
                TableName=self.table,
                Item=self._item(subject_id, version, wrapped, wrapping_key_id),
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": PARTITION},
            )
        except ClientError as error:
            if not dynamo.is_condition_failure(error):
                raise
            return False
        return True

    def wrapped(self, subject_id: str, version: str) -> bytes | None:
        """The wrapped key of that version (consistent read), or None (never created, or a tombstone)."""
        found = self._aws.dynamodb().get_item(TableName=self.table, Key=_key(subject_id, version), ConsistentRead=True)
        item = found.get("Item")
        value = item.get("wrapped_key", {}).get("B") if item else None
        return bytes(value) if value else None

    def exists(self, subject_id: str, version: str) -> bool:
        """Whether key material of that version is stored (a tombstone is not a key; never reads the key)."""
        return self._state(subject_id, version) == "key"

    def shredded(self, subject_id: str, version: str) -> bool:
        """Whether that version was shredded (its tombstone is stored)."""
        return self._state(subject_id, version) == "tombstone"

    def _state(self, subject_id: str, version: str) -> str | None:
        found = self._aws.dynamodb().get_item(
            TableName=self.table,
            Key=_key(subject_id, version),
            ConsistentRead=True,
            ProjectionExpression="#pk, #shredded",
            ExpressionAttributeNames={"#pk": PARTITION, "#shredded": SHREDDED_AT},
        )
        item = found.get("Item")
        if item is None:
            return None
        return "tombstone" if SHREDDED_AT in item else "key"

    def tombstone(self, subject_id: str, version: str) -> bool:
        """Replace that version by its tombstone (no key material); True when key material was there.

        Unconditional and idempotent: a customer who never had a key gets a tombstone too, so none can
        be created for them later. The put names no attribute but the key's and `shredded_at` — no
        condition, no returned values — because that is all IAM lets the erasure steps write here
        (`dynamodb:Attributes`); whether key material was there is read first (a consistent GetItem).
        """
        had_key = self._state(subject_id, version) == "key"
        self._aws.dynamodb().put_item(
            TableName=self.table,
            Item={PARTITION: {"S": subject_id}, SORT: {"S": version}, SHREDDED_AT: {"S": now_iso()}},
        )
        return had_key

    def versions(self, subject_id: str) -> list[AttributeValueTypeDef]:
        """Every stored version of the customer's key (their sort keys)."""
        versions: list[AttributeValueTypeDef] = []
        pages = (
            self._aws.dynamodb()
            .get_paginator("query")
            .paginate(
                TableName=self.table,
                KeyConditionExpression="#pk = :sid",
                ExpressionAttributeNames={"#pk": PARTITION, "#sk": SORT},
                ExpressionAttributeValues={":sid": {"S": subject_id}},
                ProjectionExpression="#sk",
                ConsistentRead=True,
            )
        )
        for page in pages:
            versions.extend(item[SORT] for item in page.get("Items", []))
        return versions

    def delete(self, subject_id: str, version: AttributeValueTypeDef) -> bool:
        """Delete one version; False when it was already gone (a concurrent shred got there first)."""
        try:
            self._aws.dynamodb().delete_item(
                TableName=self.table,
                Key={PARTITION: {"S": subject_id}, SORT: version},
                ConditionExpression="attribute_exists(#pk)",
                ExpressionAttributeNames={"#pk": PARTITION},
            )
        except ClientError as error:
            if not dynamo.is_condition_failure(error):
                raise
            return False
        return True

    def put_notice_key(self, request_id: str, wrapped: bytes, wrapping_key_id: str) -> bool:
        """Store a request's wrapped notice key; False when it has one already (a retried Freeze keeps the first)."""
        try:
            self._aws.dynamodb().put_item(
                TableName=self.table,
                Item=self._item(notice_partition(request_id), NOTICE_KEY_VERSION, wrapped, wrapping_key_id),
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": PARTITION},
            )
        except ClientError as error:
            if not dynamo.is_condition_failure(error):
                raise
            return False
        return True

    def notice_key(self, request_id: str) -> bytes | None:
        """The request's wrapped notice key (consistent read), or None (never stored, or shredded)."""
        return self.wrapped(notice_partition(request_id), NOTICE_KEY_VERSION)

    def delete_notice_key(self, request_id: str) -> None:
        """Shred the request's notice key: delete it (idempotent)."""
        self._aws.dynamodb().delete_item(
            TableName=self.table, Key=_key(notice_partition(request_id), NOTICE_KEY_VERSION)
        )

    @staticmethod
    def _item(subject_id: str, version: str, wrapped: bytes, wrapping_key_id: str) -> dict[str, AttributeValueTypeDef]:
        return {
            PARTITION: {"S": subject_id},
            SORT: {"S": version},
            "wrapped_key": {"B": wrapped},
            "wrapping_key_id": {"S": wrapping_key_id},
            "created_at": {"S": now_iso()},
        }


def notice_partition(request_id: str) -> str:
    """The partition of a request's notice key: `notice#<request id>`, which no subject id can be."""
    return NOTICE_PARTITION_PREFIX + request_id


def _key(subject_id: str, version: str) -> dict[str, AttributeValueTypeDef]:
    return {PARTITION: {"S": subject_id}, SORT: {"S": version}}
