"""The auditor's role: read the ledger, the trail and the erasure history — and nothing else.

Assumed with MFA by principals of this account (the people in the staff pool's `auditor` group
get it through your identity provider). It reads `ledger/*` and the trail's prefix (every
version), decrypts with the audit key, reads the chain heads in `audit_chains`, queries the
disposal register and the requests register (the requests table's `by_status` and `by_due` indexes,
the records they find, and the erasure ledger: ids, kinds, reasons, counts and dates) through
DynamoDB only, and reads the erasure executions' history. It can
write, delete or re-protect nothing, and it reaches no personal-data store.
"""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from custody.declared import datamap
from infra.config import CustodyConfig
from infra.constructs.audit import LEDGER_PREFIX, TRAIL_PREFIX, Audit, execution_reads
from infra.nag import acknowledge_wildcard


class Auditor(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: CustodyConfig,
        audit: Audit,
        data_key: kms.IKey,
        chains: dynamodb.ITable,
        requests: dynamodb.ITable,
        erasure_ledger: dynamodb.ITable,
        state_machine_arn: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = iam.Role(
            self,
            "AuditorRole",
            role_name=config.regional_name("auditor"),
            assumed_by=iam.AccountPrincipal(Aws.ACCOUNT_ID).with_conditions(
                {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
            ),
            description="CRM Custody auditors: read the audit ledger, the trail and the erasure history.",
        )
        prefixes = [f"{LEDGER_PREFIX}/*", f"{TRAIL_PREFIX}/*"]
        executions, history = execution_reads(state_machine_arn)
        policy = iam.ManagedPolicy(
            self,
            "AuditorPolicy",
            description="Read-only: the ledger and trail prefixes, the audit key, chain heads, erasure history.",
            statements=[
                *audit.reads(prefixes),
                iam.PolicyStatement(
                    actions=["dynamodb:GetItem"],
                    resources=[chains.table_arn, requests.table_arn, erasure_ledger.table_arn],
                ),
                # The disposal register (docs/retention.md) and the requests register (docs/deadlines.md):
                # requests by status and date, open requests by due date, the requests' records found
                # there, and the erasure ledger — ids, kinds, reasons, counts and dates only.
                iam.PolicyStatement(
                    actions=["dynamodb:Query"],
                    resources=[
                        f"{requests.table_arn}/index/{datamap.REQUEST_STATUS_INDEX}",
                        f"{requests.table_arn}/index/{datamap.REQUEST_DUE_INDEX}",
                        erasure_ledger.table_arn,
                    ],
                ),
                iam.PolicyStatement(actions=["dynamodb:BatchGetItem"], resources=[requests.table_arn]),
                iam.PolicyStatement(
                    actions=["kms:Decrypt"],
                    resources=[data_key.key_arn],
                    conditions={
                        "StringEquals": {
                            "kms:ViaService": f"dynamodb.{Aws.REGION}.amazonaws.com",
                            "kms:EncryptionContext:aws:dynamodb:tableName": [
                                chains.table_name,
                                requests.table_name,
                                erasure_ledger.table_name,
                            ],
                        }
                    },
                ),
                history,
                iam.PolicyStatement(actions=["states:ListExecutions"], resources=[state_machine_arn]),
            ],
            roles=[self.role],
        )
        for prefix in prefixes:
            acknowledge_wildcard(
                policy,
                audit.bucket.arn_for_objects(prefix),
                f"Auditors read every object under {prefix} of the audit bucket (ledger events or trail log files); "
                "the prefix is the unit of audit, read-only, and holds no personal data.",
            )
        acknowledge_wildcard(
            policy,
            executions,
            "Auditors read the history of every execution of the erasure state machine (each request and its "
            "re-runs); executions are named at run time, and the history holds ids and counts only.",
        )
