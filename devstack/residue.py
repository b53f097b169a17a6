"""What the local stack still holds of one subject, asked of the AWS APIs directly (issue 16).

The places come from the data map, never from a hand list, so a store or derived record added there
is checked without an edit here:

* every table store, by the subject's partition — the key store counting key material only (a
  shredded key's tombstone is what keeps a new key from ever being made);
* every bucket store, by every object version and delete marker under the subject's prefix, and
  (where objects arrive as multipart uploads) every unfinished upload there, whose parts are data
  no version listing shows;
* every operational table whose `subject_records` are `deleted`, by the subject's partition;
* every operational table whose `subject_records` are a `tombstone`, by the attributes the
  subject's record holds beyond the tombstone's.

The demo journey, the integration tests and the robustness suites all ask this one function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from custody.declared import datamap
from custody.stores.subjects import TOMBSTONE_ATTRIBUTES
from devstack.resources import Resources

Clients = Callable[[str], Any]


def residue(aws: Clients, resources: Resources, subject_id: str) -> dict[str, int]:
    """`{place: how many}` of what remains of `subject_id`; empty when nothing does.

    `aws(service)` gives a boto3 client of the local stack. A tombstone table's count is the number
    of attributes beyond the tombstone's (0 when the record is one, or absent).
    """
    found: dict[str, int] = {}
    dynamodb, s3 = aws("dynamodb"), aws("s3")

    def partition(table: str, partition_key: str, only_key_material: bool = False) -> int:
        count = 0
        for page in dynamodb.get_paginator("query").paginate(
            TableName=resources.tables[table],
            KeyConditionExpression="#pk = :subject",
            ExpressionAttributeNames={"#pk": partition_key},
            ExpressionAttributeValues={":subject": {"S": subject_id}},
            ConsistentRead=True,
            Select="COUNT",
            **({"FilterExpression": "attribute_exists(wrapped_key)"} if only_key_material else {}),
        ):
            count += int(page["Count"])
        return count

    for store in datamap.table_stores():
        found[store.name] = partition(store.name, store.partition_key, store.erasure is datamap.Erasure.SHRED)
    for bucket in datamap.bucket_stores():
        count = 0
        for page in s3.get_paginator("list_object_versions").paginate(
            Bucket=resources.buckets[bucket.name], Prefix=bucket.prefix(subject_id)
        ):
            count += len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))
        if bucket.multipart_uploads:
            listed = s3.list_multipart_uploads(Bucket=resources.buckets[bucket.name], Prefix=bucket.prefix(subject_id))
            count += len(listed.get("Uploads", []))
        found[bucket.name] = count
    for name, table in datamap.OPERATIONAL_TABLES.items():
        if table.subject_records is datamap.SubjectRecords.DELETED:
            found[name] = partition(name, table.partition_key)
        elif table.subject_records is datamap.SubjectRecords.TOMBSTONE:
            item = dynamodb.get_item(
                TableName=resources.tables[name], Key={table.partition_key: {"S": subject_id}}, ConsistentRead=True
            ).get("Item", {})
            found[name] = len(set(item) - set(TOMBSTONE_ATTRIBUTES))
    return {place: count for place, count in found.items() if count}
