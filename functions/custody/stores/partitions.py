"""Every personal store of the data map, one customer at a time: what erasure and verification read and delete.

Each store is partitioned by the customer's `subject_id` (a table's partition key, a bucket's
`subjects/<subject_id>/` prefix), so these read and delete O(that customer's data) and never
Scan. A store added to the data map is reached without an edit here.

* `TablePartition`: the keys of a subject's items (with the category attribute, when the store
  holds several categories) and their deletion by `BatchWriteItem`, 25 at a time, retrying
  unprocessed items after a jittered, growing, capped pause (`stores.dynamo.batch_write`). An
  operational table partitioned by `subject_id` (the idempotency records) is walked the same way.
* `BucketPrefix`: every object version and delete marker under a subject's prefix, and their
  deletion by `DeleteObjects`, 1,000 at a time; and the unfinished multipart uploads there (an
  export ended mid-archive), whose parts no version listing shows, aborted one by one.

Raises `PartialWrite` when a batch could not be completed after its retries: the caller (a
workflow step) reports it as transient, and its state retries.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

from custody.declared import datamap
from custody.declared.settings import Settings
from custody.platform.aws import clients
from custody.stores import dynamo

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import WriteRequestTypeDef
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

BATCH_WRITE_MAX: Final = dynamo.BATCH_WRITE_MAX
DELETE_OBJECTS_MAX: Final = 1000  # DeleteObjects' limit


class PartialWrite(Exception):
    """Some deletes of a batch were not done after retries (`count` of them)."""

    def __init__(self, store: str, count: int) -> None:
        super().__init__(f"{count} deletes of {store} stayed undone.")
        self.count = count


class TablePartition:
    """One data-map table store (or an operational table partitioned by `subject_id`), for one subject at a time."""

    def __init__(
        self,
        settings: Settings,
        store: datamap.TableStore | datamap.OperationalTable,
        *,
        table: str | None = None,
    ) -> None:
        """`table`: another table of the store's shape (a copy restored from a backup), else the store's own."""
        self.store = store
        self.table = table or settings.table(store.name)
        self._key_names = tuple(name for name in (store.partition_key, store.sort_key) if name)

    def keys(self, subject_id: str) -> Iterator[dict[str, Any]]:
        """The keys (and category) of the subject's items, consistently read: nothing else is read."""
        store = self.store
        category = store.category_attribute if isinstance(store, datamap.TableStore) else None
        attributes = set(self._key_names) | ({category} if category else set())
        names = {f"#a{index}": name for index, name in enumerate(sorted(attributes))}
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "#pk = :pk",
            "ProjectionExpression": ", ".join(names),
            "ExpressionAttributeNames": {**names, "#pk": store.partition_key},
            "ExpressionAttributeValues": dynamo.to_values({":pk": subject_id}),
            "ConsistentRead": True,
        }
        while True:
            response = clients.dynamodb().query(**kwargs)
            for item in response.get("Items", []):
                yield {name: value for name, value in dynamo.from_item(item).items() if name in attributes}
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def items(self, subject_id: str, after: str | None = None) -> Iterator[dict[str, Any]]:
        """Every item of the subject's partition in sort-key order, or those past sort key `after` (the report's read).

        The partition is always `subject_id`'s: `after` only says where to resume inside it.
        """
        sort_key = self.store.sort_key
        resume = (sort_key, after) if after is not None and sort_key else None
        return dynamo.query_partition(self.table, self.store.partition_key, subject_id, after=resume)

    def count(self, subject_id: str) -> int:
        """How many items the subject's partition holds (`Select=COUNT`: every item counted is billed as read)."""
        return dynamo.count_partition(self.table, self.store.partition_key, subject_id)

    def kept_until(self, subject_id: str) -> tuple[int, str | None]:
        """How many items the subject's partition holds, and the latest `datamap.KEPT_UNTIL` among them (or None).

        For a store of records kept under a legal obligation: one Query of the partition projecting the
        sort key and that date only, consistently read; nothing sealed is read.
        """
        count, latest = 0, None
        names = {"#pk": self.store.partition_key, "#until": datamap.KEPT_UNTIL}
        projection = "#pk, #until"
        if self.store.sort_key:
            names["#sk"] = self.store.sort_key
            projection += ", #sk"
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "#pk = :pk",
            "ProjectionExpression": projection,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": dynamo.to_values({":pk": subject_id}),
            "ConsistentRead": True,
        }
        while True:
            response = clients.dynamodb().query(**kwargs)
            for item in response.get("Items", []):
                count += 1
                until = dynamo.from_item(item).get(datamap.KEPT_UNTIL)
                if isinstance(until, str) and (latest is None or until > latest):
                    latest = until
            if "LastEvaluatedKey" not in response:
                return count, latest
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def delete(self, keys: list[dict[str, Any]]) -> int:
        """Delete these items (their key attributes), in batches; returns how many."""
        key_names = self._key_names
        for start in range(0, len(keys), BATCH_WRITE_MAX):
            batch: list[WriteRequestTypeDef] = [
                {"DeleteRequest": {"Key": dynamo.to_item({name: key[name] for name in key_names})}}
                for key in keys[start : start + BATCH_WRITE_MAX]
            ]
            self._batch_write(batch)
        return len(keys)

    def _batch_write(self, requests: list[WriteRequestTypeDef]) -> None:
        pending = dynamo.batch_write(self.table, requests)
        if pending:
            raise PartialWrite(self.store.name, len(pending))


class BucketPrefix:
    """One data-map bucket store, for one subject at a time."""

    def __init__(self, settings: Settings, store: datamap.BucketStore) -> None:
        self.store = store
        self.bucket = settings.bucket(store.name)

    def versions(self, subject_id: str, limit: int = DELETE_OBJECTS_MAX) -> tuple[list[ObjectIdentifierTypeDef], bool]:
        """Up to `limit` object versions and delete markers under the subject's prefix, and whether more remain."""
        listed = clients.s3().list_object_versions(
            Bucket=self.bucket, Prefix=datamap.BucketStore.prefix(subject_id), MaxKeys=limit
        )
        versions: list[ObjectIdentifierTypeDef] = [
            {"Key": entry["Key"], "VersionId": entry["VersionId"]}
            for entry in [*listed.get("Versions", []), *listed.get("DeleteMarkers", [])]
        ]
        return versions, bool(listed.get("IsTruncated"))

    def unfinished_uploads(self, subject_id: str, limit: int = DELETE_OBJECTS_MAX) -> list[dict[str, str]]:
        """Up to `limit` multipart uploads begun and neither completed nor aborted under the subject's prefix.

        Items `{"Key", "UploadId"}`. Their parts hold data that `versions` does not list and
        `DeleteObjects` cannot reach (Amazon S3 user guide, "Aborting a multipart upload").
        """
        listed = clients.s3().list_multipart_uploads(
            Bucket=self.bucket, Prefix=datamap.BucketStore.prefix(subject_id), MaxUploads=limit
        )
        return [{"Key": upload["Key"], "UploadId": upload["UploadId"]} for upload in listed.get("Uploads", [])]

    def abort(self, uploads: list[dict[str, str]]) -> int:
        """Abort these multipart uploads (their parts are deleted); returns how many."""
        for upload in uploads:
            clients.s3().abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        return len(uploads)

    def objects(self, subject_id: str, after: str | None = None) -> Iterator[dict[str, Any]]:
        """The subject's current objects in key order: `{key (relative to their prefix), size_bytes, last_modified}`.

        `after`: a relative key to resume past (S3's `StartAfter`, under the subject's own prefix).
        """
        prefix = datamap.BucketStore.prefix(subject_id)
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if after is not None:
            kwargs["StartAfter"] = prefix + after
        for page in clients.s3().get_paginator("list_objects_v2").paginate(**kwargs):
            for item in page.get("Contents", []):
                yield {
                    "key": item["Key"][len(prefix) :],
                    "size_bytes": item["Size"],
                    "last_modified": item["LastModified"],
                }

    def count(self, subject_id: str) -> int:
        """How many current objects the subject has: a listing of their prefix, 1,000 keys per `ListObjectsV2` call."""
        prefix = datamap.BucketStore.prefix(subject_id)
        pages = clients.s3().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sum(int(page.get("KeyCount", len(page.get("Contents", [])))) for page in pages)

    def delete(self, versions: list[ObjectIdentifierTypeDef]) -> int:
        """Delete these versions for good (at most `DELETE_OBJECTS_MAX`); returns how many."""
        if not versions:
            return 0
        response = clients.s3().delete_objects(Bucket=self.bucket, Delete={"Objects": versions, "Quiet": True})
        errors = response.get("Errors", [])
        if errors:
            raise PartialWrite(self.store.name, len(errors))
        return len(versions)
