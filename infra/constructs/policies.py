"""IAM statements with explicit actions on named resources: no `*` action anywhere.

CDK's `grant*` helpers add wildcard actions (`kms:GenerateDataKey*`, `s3:DeleteObject*`); a
role that touches personal data gets exactly the actions listed here instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aws_cdk import Aws
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from custody.declared import datamap
from custody.declared.datamap import BucketStore
from infra.access import BucketAccess, KeyUse, TableAccess

# Every customer's objects live under their own prefix; a function serving every customer
# is granted the prefix pattern, never the whole bucket.
SUBJECT_OBJECTS = BucketStore.prefix("*") + "*"

_READ = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem"]
TABLE_ACTIONS: Mapping[TableAccess, list[str]] = {
    TableAccess.READ: _READ,
    TableAccess.APPEND: [*_READ, "dynamodb:PutItem"],
    TableAccess.UPDATE: [*_READ, "dynamodb:UpdateItem"],
    TableAccess.RECORD: [*_READ, "dynamodb:PutItem", "dynamodb:UpdateItem"],
    TableAccess.READ_WRITE: [
        *_READ,
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
    ],
    TableAccess.ERASE: ["dynamodb:Query", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"],
    TableAccess.SHRED: ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"],
}
_ERASERS = (TableAccess.ERASE, TableAccess.SHRED)
_WRITERS = (TableAccess.APPEND, TableAccess.UPDATE, TableAccess.RECORD, TableAccess.READ_WRITE)
# Bucket-level actions under the customer prefixes (condition `s3:prefix`).
BUCKET_LIST_ACTIONS: Mapping[BucketAccess, list[str]] = {
    BucketAccess.READ: ["s3:ListBucket"],
    BucketAccess.WRITE: ["s3:ListBucket"],
    BucketAccess.WRITE_MULTIPART: ["s3:ListBucket"],
    BucketAccess.ERASE: ["s3:ListBucket", "s3:ListBucketVersions"],
}
# Bucket-level actions that `s3:prefix` does not apply to (Service Authorization Reference: the key is
# listed for ListBucket and ListBucketVersions only), granted on the bucket without it: under a condition
# on a key the request never carries they would never be allowed.
BUCKET_UNPREFIXED_ACTIONS: Mapping[BucketAccess, list[str]] = {
    BucketAccess.ERASE: ["s3:ListBucketMultipartUploads"],
}
# Object actions on the customer prefixes. A multipart upload's Create/UploadPart/Complete are
# authorized by s3:PutObject, aborting it and listing its parts by their own actions (S3 user guide,
# "Multipart upload API and permissions").
OBJECT_ACTIONS: Mapping[BucketAccess, list[str]] = {
    BucketAccess.READ: ["s3:GetObject"],
    BucketAccess.WRITE: ["s3:GetObject", "s3:PutObject"],
    BucketAccess.WRITE_MULTIPART: [
        "s3:GetObject",
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
    ],
    BucketAccess.ERASE: ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:AbortMultipartUpload"],
}
_BUCKET_WRITERS = (BucketAccess.WRITE, BucketAccess.WRITE_MULTIPART)
KEY_ACTIONS: Mapping[KeyUse, list[str]] = {
    KeyUse.UNWRAP: ["kms:Decrypt"],
    KeyUse.WRAP: ["kms:GenerateDataKey", "kms:Decrypt"],
}
_DECRYPT_ONLY = ["kms:Decrypt", "kms:DescribeKey"]
_ENCRYPT_DECRYPT = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]


def table(
    target: dynamodb.ITable, level: TableAccess, indexes: Iterable[str] = (), key_attributes: Iterable[str] = ()
) -> list[iam.PolicyStatement]:
    """The table's actions; a reader of a table with indexes may also Query those (named) indexes.

    A shredder (`TableAccess.SHRED`) may also put tombstones: `PutItem` of items holding only
    `key_attributes` and `datamap.SHREDDED_AT` (condition `dynamodb:Attributes`, DynamoDB developer
    guide, "Using IAM policy conditions for fine-grained access control") — never key material.
    """
    resources = [target.table_arn]
    if level not in _ERASERS:
        resources += [f"{target.table_arn}/index/{name}" for name in indexes]
    statements = [iam.PolicyStatement(actions=TABLE_ACTIONS[level], resources=resources)]
    if level is TableAccess.SHRED:
        statements.append(
            iam.PolicyStatement(
                actions=["dynamodb:PutItem"],
                resources=[target.table_arn],
                conditions={
                    "ForAllValues:StringEquals": {"dynamodb:Attributes": [*key_attributes, datamap.SHREDDED_AT]},
                    "Null": {"dynamodb:Attributes": "false"},
                },
            )
        )
    return statements


def scan(targets: Iterable[dynamodb.ITable]) -> iam.PolicyStatement:
    """`dynamodb:Scan` of the named tables, and nothing else (their indexes are not scanned)."""
    return iam.PolicyStatement(actions=["dynamodb:Scan"], resources=[target.table_arn for target in targets])


def task_callbacks() -> iam.PolicyStatement:
    """Completing a task by its token (`states:SendTask*`): the Service Authorization Reference
    lists no resource type and no condition key for these actions, so the resource is `*`. The
    token itself is the capability: only a task the workflow handed out can be completed."""
    return iam.PolicyStatement(
        actions=["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"], resources=["*"]
    )


def bucket(target: s3.IBucket, level: BucketAccess) -> list[iam.PolicyStatement]:
    """The level's listing under the customer prefixes, its object actions on them, and (erasers) the
    bucket's in-progress multipart uploads, which cannot be confined to a prefix."""
    statements = [
        iam.PolicyStatement(
            actions=BUCKET_LIST_ACTIONS[level],
            resources=[target.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [SUBJECT_OBJECTS]}},
        ),
        iam.PolicyStatement(actions=OBJECT_ACTIONS[level], resources=[target.arn_for_objects(SUBJECT_OBJECTS)]),
    ]
    if level in BUCKET_UNPREFIXED_ACTIONS:
        statements.append(iam.PolicyStatement(actions=BUCKET_UNPREFIXED_ACTIONS[level], resources=[target.bucket_arn]))
    return statements


def invoke(function_arn: str) -> iam.PolicyStatement:
    """`lambda:InvokeFunction` on exactly one function's unqualified ARN (an Event or RequestResponse invoke)."""
    return iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[function_arn])


def key_through_stores(
    key: kms.IKey, tables: Iterable[TableAccess], buckets: Iterable[BucketAccess]
) -> iam.PolicyStatement | None:
    """What DynamoDB and S3 need of the caller to use the data key on its behalf (SSE-KMS)."""
    table_levels, bucket_levels = list(tables), list(buckets)
    services = [f"dynamodb.{Aws.REGION}.amazonaws.com"] if table_levels else []
    services += [f"s3.{Aws.REGION}.amazonaws.com"] if bucket_levels else []
    if not services:
        return None
    writes = any(level in _WRITERS for level in table_levels) or any(
        level in _BUCKET_WRITERS for level in bucket_levels
    )
    return iam.PolicyStatement(
        actions=_ENCRYPT_DECRYPT if writes else _DECRYPT_ONLY,
        resources=[key.key_arn],
        conditions={"StringEquals": {"kms:ViaService": services}},
    )


def customer_keys(key: kms.IKey, use: KeyUse) -> iam.PolicyStatement:
    """Direct calls on the data key: wrapping and unwrapping customers' own data keys."""
    return iam.PolicyStatement(actions=KEY_ACTIONS[use], resources=[key.key_arn])


def log_writes(log_group_arn: str) -> iam.PolicyStatement:
    return iam.PolicyStatement(actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group_arn])


def xray_writes() -> iam.PolicyStatement:
    # X-Ray's trace APIs have no resource-level permissions (Service Authorization Reference).
    return iam.PolicyStatement(actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources=["*"])
