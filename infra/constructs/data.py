"""Every store of the data map, and the operational tables, exactly as `custody.declared.datamap` declares them.

Tables: partitioned by `subject_id` (operational tables by their own id), on-demand, SSE with
the data key, PITR on. A store erased by shredding keeps the shortest PITR window DynamoDB
allows: that window bounds how long a shredded key survives anywhere. Buckets: versioned,
SSE-KMS with the data key and a bucket key, public access blocked, TLS only, server access
logs into the access-log bucket. Each resource is tagged with its store and classification.
"""

from __future__ import annotations

from aws_cdk import Duration, Tags
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct

from custody.declared import datamap, naming
from custody.declared.datamap import BucketStore, Classification, Erasure, TableStore
from infra.config import CustodyConfig
from infra.constructs.lifecycle import KEEP, guard_table_deletion
from infra.nag import HIPAA, NIST, acknowledge, acknowledge_in_packs, checkov_skip

CLASSIFICATION_TAG = "custody:classification"
# On an operational table: what a full erasure does to the records it keeps about a subject.
SUBJECT_RECORDS_TAG = "custody:subject-records"
STORE_TAG = "custody:store"


def tag_store(resource: IConstruct, store: str, classification: Classification) -> None:
    Tags.of(resource).add(CLASSIFICATION_TAG, classification.value)
    Tags.of(resource).add(STORE_TAG, store)


class Data(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: CustodyConfig, data_key: kms.IKey, qualifier: str
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self._key = data_key
        self.tables: dict[str, dynamodb.Table] = {}
        self.buckets: dict[str, s3.Bucket] = {}

        self.access_logs = self._access_log_bucket(qualifier)
        for store in datamap.table_stores():
            self.tables[store.name] = self._store_table(store)
        for name, table in datamap.OPERATIONAL_TABLES.items():
            self.tables[name] = self._table(
                name, table.partition_key, table.sort_key, table.ttl_attribute, config.pitr_recovery_days
            )
            _add_indexes(self.tables[name], table.indexes)
            tag_store(self.tables[name], name, Classification.OPERATIONAL)
            Tags.of(self.tables[name]).add(SUBJECT_RECORDS_TAG, table.subject_records.value)
        for bucket in datamap.bucket_stores():
            self.buckets[bucket.name] = self._store_bucket(bucket, qualifier)

    def _store_table(self, store: TableStore) -> dynamodb.Table:
        shredded = store.erasure is Erasure.SHRED
        window = self._config.shredded_pitr_recovery_days if shredded else self._config.pitr_recovery_days
        table = self._table(store.name, store.partition_key, store.sort_key, store.ttl_attribute, window)
        _add_indexes(table, store.indexes)
        tag_store(table, store.name, store.classification)
        if shredded:
            acknowledge_in_packs(
                table,
                "DynamoDBInBackupPlan",
                f"The {store.name} table is kept out of AWS Backup on purpose: erasure crypto-shreds a customer "
                "by deleting their wrapped key here, and a recovery point holding that key would undo it. PITR "
                "with DynamoDB's shortest window is its only copy.",
                packs=(HIPAA, NIST),
            )
        return table

    def _table(
        self, name: str, partition_key: str, sort_key: str | None, ttl_attribute: str | None, recovery_days: int
    ) -> dynamodb.Table:
        return dynamodb.Table(
            self,
            _construct_id(name) + "Table",
            table_name=naming.table_name(self._config.prefix, name),
            partition_key=dynamodb.Attribute(name=partition_key, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=sort_key, type=dynamodb.AttributeType.STRING) if sort_key else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self._key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True, recovery_period_in_days=recovery_days
            ),
            time_to_live_attribute=ttl_attribute,
            resource_policy=guard_table_deletion(self, naming.table_name(self._config.prefix, name)),
            removal_policy=KEEP,
        )

    def _store_bucket(self, store: BucketStore, qualifier: str) -> s3.Bucket:
        rules = [
            s3.LifecycleRule(
                id="ForgetOldVersions",
                noncurrent_version_expiration=Duration.days(self._config.noncurrent_version_days),
                abort_incomplete_multipart_upload_after=Duration.days(1),
            )
        ]
        if store.expiration_days is not None:
            rules = [
                s3.LifecycleRule(
                    id="Expire",
                    expiration=Duration.days(store.expiration_days),
                    noncurrent_version_expiration=Duration.days(1),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ]
        bucket = s3.Bucket(
            self,
            _construct_id(store.name) + "Bucket",
            bucket_name=self._config.bucket_name(store.name, qualifier),
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self._key,
            bucket_key_enabled=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=f"{store.name}/",
            lifecycle_rules=rules,
            removal_policy=KEEP,
        )
        tag_store(bucket, store.name, store.classification)
        no_replica(
            bucket,
            f"A cross-region replica of the {store.name} bucket would be one more copy of customers' objects that "
            "erasure must reach and the data map does not name; durability comes from S3's multi-AZ storage and "
            "versioning.",
        )
        return bucket

    def _access_log_bucket(self, qualifier: str) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "AccessLogsBucket",
            bucket_name=self._config.bucket_name(naming.ACCESS_LOG_BUCKET, qualifier),
            # S3 delivers server access logs only to buckets encrypted with SSE-S3.
            encryption=s3.BucketEncryption.S3_MANAGED,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="Expire",
                    expiration=Duration.days(self._config.access_log_retention_days),
                    noncurrent_version_expiration=Duration.days(1),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=KEEP,
        )
        tag_store(bucket, naming.ACCESS_LOG_BUCKET, Classification.OPERATIONAL)
        loop = (
            "The access-log bucket is where S3 delivers server access logs; logging it into itself would log "
            "each log delivery, without end."
        )
        acknowledge(bucket, "AwsSolutions-S1", loop)
        checkov_skip(bucket, "CKV_AWS_18", loop)
        acknowledge_in_packs(bucket, "S3BucketLoggingEnabled", loop)
        acknowledge_in_packs(
            bucket,
            "S3DefaultEncryptionKMS",
            "S3 delivers server access logs only to buckets encrypted with SSE-S3 (not SSE-KMS), so the "
            "access-log bucket cannot use the data key.",
        )
        no_replica(
            bucket,
            "A replica of the access logs would copy object keys that name customers (subjects/<id>/...) into "
            "another region, outside the data map; the logs serve investigations here and expire.",
        )
        return bucket


def _add_indexes(table: dynamodb.Table, indexes: tuple[datamap.Index, ...]) -> None:
    for index in indexes:
        table.add_global_secondary_index(
            index_name=index.name,
            partition_key=dynamodb.Attribute(name=index.partition_key, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=index.sort_key, type=dynamodb.AttributeType.STRING)
            if index.sort_key
            else None,
            projection_type=dynamodb.ProjectionType.INCLUDE if index.projection else dynamodb.ProjectionType.KEYS_ONLY,
            non_key_attributes=list(index.projection) or None,
        )


def no_replica(bucket: s3.IBucket, reason: str) -> None:
    acknowledge_in_packs(bucket, "S3BucketReplicationEnabled", reason)


def _construct_id(logical: str) -> str:
    return "".join(part.title() for part in logical.split("_"))
