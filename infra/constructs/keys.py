"""The key hierarchy: a data key, an audit key and an operations key, all customer managed.

* data: encrypts every table and data bucket, the backup vault, and wraps each customer's
  own data key (envelope encryption, `custody.crypto.keyring`);
* audit: encrypts the audit ledger bucket and the CloudTrail logs; function roles that touch
  personal data are denied it (the ledger writer may only encrypt with it);
* operations: encrypts log groups, the alarm topic and dead-letter queues, so the services
  that write there never need the data key;
* processor tokens: an HMAC_256 key (GENERATE_VERIFY_MAC) that binds each sub-processor's task
  token to it (`custody.subprocessors.task_tokens`). KMS rotates no HMAC key automatically; its key policy lets
  only the erasure steps generate MACs and only the processors function verify them.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from custody.declared import naming
from infra.config import CustodyConfig
from infra.constructs.lifecycle import KEEP
from infra.nag import acknowledge, checkov_skip

_NO_HMAC_ROTATION = (
    "An HMAC_256 KMS key cannot have automatic rotation (KMS rotates symmetric encryption keys only); "
    "its MACs live only while an erasure waits for a sub-processor, so a new key can replace it between "
    "erasures, and its key policy limits GenerateMac and VerifyMac to one role each."
)

# What CloudWatch Logs needs on a key that encrypts log groups (CloudWatch Logs user guide).
_LOGS_ACTIONS = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]


class Keys(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: CustodyConfig) -> None:
        super().__init__(scope, construct_id)
        self.data = self._key("Data", config.name("data"), "Tables, data buckets, backups; wraps customer data keys.")
        self.audit = self._key("Audit", config.name("audit"), "The audit ledger and CloudTrail logs.")
        self.operations = self._key("Operations", config.name("operations"), "Log groups, alarm topic, DLQs.")
        for key in (self.audit, self.operations):
            key.add_to_resource_policy(_logs_may_use())
        self.processor_tokens = kms.Key(
            self,
            "ProcessorTokens",
            alias=f"alias/{config.name(naming.PROCESSOR_SEAL_KEY)}",
            description="CRM Custody: binds each sub-processor's erasure task token to that processor (HMAC).",
            key_spec=kms.KeySpec.HMAC_256,
            key_usage=kms.KeyUsage.GENERATE_VERIFY_MAC,
            enable_key_rotation=False,
            pending_window=Duration.days(30),
            removal_policy=KEEP,
        )
        acknowledge(self.processor_tokens, "AwsSolutions-KMS5", _NO_HMAC_ROTATION)
        checkov_skip(self.processor_tokens, "CKV_AWS_7", _NO_HMAC_ROTATION)

    def _key(self, construct_id: str, name: str, description: str) -> kms.Key:
        return kms.Key(
            self,
            construct_id,
            alias=f"alias/{name}",
            description=f"CRM Custody: {description}",
            enable_key_rotation=True,
            pending_window=Duration.days(30),
            removal_policy=KEEP,
        )

    def keep_off_audit_key(
        self,
        data_roles: Sequence[iam.IRole],
        ledger_writers: Sequence[iam.IRole],
        ledger_reviewers: Sequence[iam.IRole] = (),
    ) -> None:
        """Deny every data role the audit key; ledger writers may only encrypt new entries with it.

        A ledger reviewer (the auditor's API function, `infra.access.Access.reviews_audit`) writes its
        refusals as every writer does and also reads the ledger as the AuditorRole does: it may encrypt,
        and decrypt only as S3 asks on its behalf (`kms:ViaService`), nothing else.
        """
        readers_denied = [role.role_arn for role in data_roles if role not in ledger_writers]
        if readers_denied:
            self.audit.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="DataRolesNeverUseTheAuditKey",
                    effect=iam.Effect.DENY,
                    principals=[iam.AnyPrincipal()],
                    actions=["kms:*"],
                    resources=["*"],
                    conditions={"ArnEquals": {"aws:PrincipalArn": readers_denied}},
                )
            )
        writers_only = [role.role_arn for role in ledger_writers if role not in ledger_reviewers]
        if writers_only:
            self.audit.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="LedgerWritersOnlyEncrypt",
                    effect=iam.Effect.DENY,
                    principals=[iam.AnyPrincipal()],
                    not_actions=["kms:GenerateDataKey"],
                    resources=["*"],
                    conditions={"ArnEquals": {"aws:PrincipalArn": writers_only}},
                )
            )
        reviewers = [role.role_arn for role in ledger_reviewers]
        if reviewers:
            self.audit.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="LedgerReviewersOnlyEncryptAndRead",
                    effect=iam.Effect.DENY,
                    principals=[iam.AnyPrincipal()],
                    not_actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=["*"],
                    conditions={"ArnEquals": {"aws:PrincipalArn": reviewers}},
                )
            )
            self.audit.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="LedgerReviewersDecryptThroughS3Only",
                    effect=iam.Effect.DENY,
                    principals=[iam.AnyPrincipal()],
                    actions=["kms:Decrypt"],
                    resources=["*"],
                    conditions={
                        "ArnEquals": {"aws:PrincipalArn": reviewers},
                        "StringNotEquals": {"kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"},
                    },
                )
            )

    def seal_and_check_only(self, sealer: iam.IRole, checker: iam.IRole) -> None:
        """Only `sealer` may GenerateMac and only `checker` VerifyMac with the processor-token key."""
        for sid, action, role in (
            ("OnlyTheErasureStepsSeal", "kms:GenerateMac", sealer),
            ("OnlyAcksVerify", "kms:VerifyMac", checker),
        ):
            self.processor_tokens.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=sid,
                    effect=iam.Effect.DENY,
                    principals=[iam.AnyPrincipal()],
                    actions=[action],
                    resources=["*"],
                    conditions={"ArnNotEquals": {"aws:PrincipalArn": role.role_arn}},
                )
            )


def _logs_may_use() -> iam.PolicyStatement:
    log_groups = f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:*"
    return iam.PolicyStatement(
        sid="CloudWatchLogsEncryptsLogGroups",
        principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
        actions=_LOGS_ACTIONS,
        resources=["*"],
        conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups}},
    )
