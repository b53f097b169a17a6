"""The audit ledger bucket (Object Lock, COMPLIANCE) and the CloudTrail trail that delivers into it.

The trail is multi-region, validates its log files, is encrypted with the audit key and records
every management event (every KMS call on the keys among them) plus the data events on the
personal-data tables and buckets and on the erasure state machine. It also streams to an
encrypted CloudWatch Logs group. With the context flag `custody:cloudTrailLake`, a CloudTrail
Lake event data store and channel receive a copy of every audit event (`custody.audit.lake`).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from custody.declared import naming
from custody.declared.datamap import Classification
from infra.config import CustodyConfig
from infra.constructs.data import no_replica, tag_store
from infra.constructs.lifecycle import KEEP
from infra.constructs.loggroups import encrypted_log_group
from infra.constructs.workflow import erasure_state_machine_arn
from infra.nag import acknowledge_wildcard

TRAIL_PREFIX = "cloudtrail"
LEDGER_PREFIX = "ledger"  # audit events; the trail writes under TRAIL_PREFIX


class Audit(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: CustodyConfig,
        audit_key: kms.IKey,
        access_logs: s3.IBucket,
        qualifier: str,
        tables: Sequence[dynamodb.ITable],
        buckets: Sequence[s3.IBucket],
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = audit_key
        self.bucket = s3.Bucket(
            self,
            "LedgerBucket",
            bucket_name=config.bucket_name(naming.AUDIT_BUCKET, qualifier),
            encryption=s3.BucketEncryption.KMS,
            encryption_key=audit_key,
            bucket_key_enabled=True,
            versioned=True,
            object_lock_enabled=True,
            object_lock_default_retention=s3.ObjectLockRetention.compliance(Duration.days(config.audit_retention_days)),
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix=f"{naming.AUDIT_BUCKET}/",
            removal_policy=KEEP,
        )
        tag_store(self.bucket, naming.AUDIT_BUCKET, Classification.OPERATIONAL)
        no_replica(
            self.bucket,
            "The audit ledger is protected in place by Object Lock COMPLIANCE and CloudTrail log-file validation; "
            "a replica needs an Object Lock bucket in another region, an account-level disaster-recovery "
            "decision this single-region stack does not own.",
        )

        # Regional: a multi-region trail's shadow copies take its name in every region, so a
        # deployment in another region of the account could not create a trail of the same name.
        trail_name = config.regional_name("audit")
        trail_arn = f"arn:{Aws.PARTITION}:cloudtrail:{Aws.REGION}:{Aws.ACCOUNT_ID}:trail/{trail_name}"
        self._let_cloudtrail_deliver(trail_arn)
        log_group = encrypted_log_group(self, "TrailLogs", key=audit_key, days=config.log_retention_days)
        role = iam.Role(self, "TrailLogsRole", assumed_by=iam.ServicePrincipal("cloudtrail.amazonaws.com"))
        policy = iam.ManagedPolicy(
            self,
            "TrailLogsPolicy",
            description="CloudTrail streams the audit trail into its encrypted log group.",
            statements=[
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn]
                )
            ],
            roles=[role],
        )
        self.trail = cloudtrail.CfnTrail(
            self,
            "Trail",
            trail_name=trail_name,
            is_logging=True,
            s3_bucket_name=self.bucket.bucket_name,
            s3_key_prefix=TRAIL_PREFIX,
            is_multi_region_trail=config.multi_region_trail,
            include_global_service_events=config.multi_region_trail,
            enable_log_file_validation=True,
            kms_key_id=audit_key.key_arn,
            cloud_watch_logs_log_group_arn=log_group.log_group_arn,
            cloud_watch_logs_role_arn=role.role_arn,
            advanced_event_selectors=_selectors(tables, buckets, erasure_state_machine_arn(config)),
        )
        bucket_policy = self.bucket.policy
        assert bucket_policy is not None  # enforce_ssl and the CloudTrail statements made it
        self.trail.node.add_dependency(bucket_policy, policy)
        self.lake_channel_arn: str | None = self._lake(config) if config.cloud_trail_lake else None
        # Every function's right to put ledger events, in one policy: the creation barrier holds it
        # back until everything else exists, so nothing lands under Object Lock before that.
        self.ledger_writers = iam.ManagedPolicy(
            self,
            "LedgerWriters",
            description="Append-only audit events: new objects under ledger/, encrypt-only on the audit key.",
            statements=self.ledger_writes(),
        )
        acknowledge_wildcard(
            self.ledger_writers,
            self.bucket.arn_for_objects(f"{LEDGER_PREFIX}/*"),
            f"Ledger writers append audit events as new objects under {LEDGER_PREFIX}/ only (s3:PutObject); "
            "Object Lock COMPLIANCE refuses any overwrite or delete of what they wrote.",
        )

    def _let_cloudtrail_deliver(self, trail_arn: str) -> None:
        cloudtrail_principal = iam.ServicePrincipal("cloudtrail.amazonaws.com")
        from_this_trail = {"StringEquals": {"aws:SourceArn": trail_arn}}
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudTrailChecksTheBucketAcl",
                principals=[cloudtrail_principal],
                actions=["s3:GetBucketAcl"],
                resources=[self.bucket.bucket_arn],
                conditions=from_this_trail,
            )
        )
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudTrailDeliversUnderItsPrefix",
                principals=[cloudtrail_principal],
                actions=["s3:PutObject"],
                resources=[self.bucket.arn_for_objects(f"{TRAIL_PREFIX}/AWSLogs/{Aws.ACCOUNT_ID}/*")],
                conditions={
                    "StringEquals": {
                        "aws:SourceArn": trail_arn,
                        "s3:x-amz-acl": "bucket-owner-full-control",
                    }
                },
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudTrailEncryptsItsLogs",
                principals=[cloudtrail_principal],
                actions=["kms:GenerateDataKey*"],
                resources=["*"],
                conditions={
                    **from_this_trail,
                    "StringLike": {
                        "kms:EncryptionContext:aws:cloudtrail:arn": (
                            f"arn:{Aws.PARTITION}:cloudtrail:*:{Aws.ACCOUNT_ID}:trail/*"
                        )
                    },
                },
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudTrailDescribesItsKey",
                principals=[cloudtrail_principal],
                actions=["kms:DescribeKey"],
                resources=["*"],
                conditions=from_this_trail,
            )
        )

    def _lake(self, config: CustodyConfig) -> str:
        """An event data store for application audit events, and the channel that feeds it."""
        store = cloudtrail.CfnEventDataStore(
            self,
            "LakeStore",
            name=config.name("audit-lake"),
            advanced_event_selectors=[
                cloudtrail.CfnEventDataStore.AdvancedEventSelectorProperty(
                    name="The ledger's audit events",
                    field_selectors=[
                        cloudtrail.CfnEventDataStore.AdvancedFieldSelectorProperty(
                            field="eventCategory", equal_to=["ActivityAuditLog"]
                        )
                    ],
                )
            ],
            kms_key_id=self.key.key_arn,
            multi_region_enabled=False,
            organization_enabled=False,
            retention_period=max(7, config.audit_retention_days),
            termination_protection_enabled=True,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudTrailLakeEncryptsItsStore",
                principals=[iam.ServicePrincipal("cloudtrail.amazonaws.com")],
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
        channel = cloudtrail.CfnChannel(
            self,
            "LakeChannel",
            name=config.name("audit-lake"),
            source="Custom",
            destinations=[
                cloudtrail.CfnChannel.DestinationProperty(
                    type="EVENT_DATA_STORE", location=store.attr_event_data_store_arn
                )
            ],
        )
        return channel.attr_channel_arn

    def ledger_writes(self) -> list[iam.PolicyStatement]:
        """Append-only: put new audit events (Object Lock keeps them), encrypt-only on the audit key."""
        lake = (
            [iam.PolicyStatement(actions=["cloudtrail-data:PutAuditEvents"], resources=[self.lake_channel_arn])]
            if self.lake_channel_arn
            else []
        )
        return [
            *lake,
            iam.PolicyStatement(
                actions=["s3:PutObject"], resources=[self.bucket.arn_for_objects(f"{LEDGER_PREFIX}/*")]
            ),
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey"],
                resources=[self.key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"}},
            ),
        ]

    def reads(self, prefixes: Sequence[str], *, through_s3_only: bool = False) -> list[iam.PolicyStatement]:
        """Read-only: list every version under `prefixes` (`ledger/*`, `trail/*`), get them, decrypt with the
        audit key (`through_s3_only`: only as S3 asks on the reader's behalf, `kms:ViaService`)."""
        via_s3 = {"StringEquals": {"kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"}} if through_s3_only else None
        return [
            iam.PolicyStatement(
                actions=["s3:ListBucket", "s3:ListBucketVersions"],
                resources=[self.bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": list(prefixes)}},
            ),
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[self.bucket.arn_for_objects(prefix) for prefix in prefixes],
            ),
            iam.PolicyStatement(actions=["kms:Decrypt"], resources=[self.key.key_arn], conditions=via_s3),
        ]


def execution_reads(state_machine_arn: str) -> tuple[str, iam.PolicyStatement]:
    """The executions of a state machine (their ARN pattern) and the statement that reads their history."""
    executions = state_machine_arn.replace(":stateMachine:", ":execution:") + ":*"
    statement = iam.PolicyStatement(
        actions=["states:DescribeExecution", "states:GetExecutionHistory"], resources=[executions]
    )
    return executions, statement


def _selectors(
    tables: Sequence[dynamodb.ITable], buckets: Sequence[s3.IBucket], state_machine_arn: str
) -> list[cloudtrail.CfnTrail.AdvancedEventSelectorProperty]:
    def field(name: str, **matches: list[str]) -> cloudtrail.CfnTrail.AdvancedFieldSelectorProperty:
        return cloudtrail.CfnTrail.AdvancedFieldSelectorProperty(field=name, **matches)

    return [
        cloudtrail.CfnTrail.AdvancedEventSelectorProperty(
            name="Management events, every KMS call on the keys among them",
            field_selectors=[field("eventCategory", equal_to=["Management"])],
        ),
        cloudtrail.CfnTrail.AdvancedEventSelectorProperty(
            name="Data events on the personal-data tables",
            field_selectors=[
                field("eventCategory", equal_to=["Data"]),
                field("resources.type", equal_to=["AWS::DynamoDB::Table"]),
                field("resources.ARN", equal_to=[table.table_arn for table in tables]),
            ],
        ),
        cloudtrail.CfnTrail.AdvancedEventSelectorProperty(
            name="Data events on the personal-data buckets",
            field_selectors=[
                field("eventCategory", equal_to=["Data"]),
                field("resources.type", equal_to=["AWS::S3::Object"]),
                field("resources.ARN", starts_with=[bucket.arn_for_objects("") for bucket in buckets]),
            ],
        ),
        cloudtrail.CfnTrail.AdvancedEventSelectorProperty(
            name="Data events on the erasure state machine",
            field_selectors=[
                field("eventCategory", equal_to=["Data"]),
                field("resources.type", equal_to=["AWS::StepFunctions::StateMachine"]),
                field("resources.ARN", equal_to=[state_machine_arn]),
            ],
        ),
    ]
