"""One Lambda per `custody.declared.catalog.FUNCTIONS` entry, each with a role built from `infra.access`.

Code is the plain `functions/` asset; third-party wheels come from a layer of `build/lambda-deps`
(`make lambda-deps` builds them for arm64 and the runtime's Python, without Docker).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import Aws, Duration, Tags
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from custody.declared import catalog, datamap, naming
from custody.declared.catalog import Function
from custody.declared.datamap import Classification
from custody.declared.notices import NOTICE_KEY_CONTEXT, NOTICE_KEY_PARTITION_PREFIX
from custody.declared.settings import Settings
from infra.access import ACCESS, Access, IdentityUse, SecretUse, TokenSeal
from infra.config import CustodyConfig
from infra.constructs import policies
from infra.constructs.audit import LEDGER_PREFIX, Audit, execution_reads
from infra.constructs.data import CLASSIFICATION_TAG, Data
from infra.constructs.identity import Identity
from infra.constructs.keys import Keys
from infra.constructs.loggroups import encrypted_log_group
from infra.constructs.notices import send_statement
from infra.nag import HIPAA, NIST, acknowledge, acknowledge_in_packs, acknowledge_wildcard, checkov_skip

ROOT = Path(__file__).resolve().parents[2]
ASSET_ROOT = ROOT / "functions"
DEPENDENCIES = ROOT / "build" / "lambda-deps"
RUNTIME = lambda_.Runtime.PYTHON_3_13  # the Python `make lambda-deps` builds the layer's wheels for
ASSET_EXCLUDES = ["**/__pycache__", "**/*.pyc", "**/.pytest_cache", "**/.mypy_cache", "**/.ruff_cache"]

# What each use of the customer user pool may call (custody.stores.identities).
_READ_IDENTITIES = ("cognito-idp:ListUsers",)
IDENTITY_ACTIONS = {
    IdentityUse.READ: _READ_IDENTITIES,
    IdentityUse.MANAGE: (  # by `sub` as the user name: no ListUsers (custody.stores.identities)
        "cognito-idp:AdminGetUser",
        "cognito-idp:AdminDisableUser",
        "cognito-idp:AdminUserGlobalSignOut",
        "cognito-idp:AdminDeleteUser",
    ),
}


@dataclass(frozen=True)
class Wiring:
    """What the functions are told about (Settings) and given access to (roles)."""

    config: CustodyConfig
    qualifier: str
    keys: Keys
    data: Data
    audit: Audit
    identity: Identity
    alarm_topic_arn: str
    erasure_state_machine_arn: str
    processor_queue: sqs.IQueue
    admission_queue: sqs.IQueue

    def settings(self) -> Settings:
        return Settings(
            environment="aws",
            region=Aws.REGION,
            resource_prefix=self.config.prefix,
            bucket_qualifier=self.qualifier,
            data_key_id=self.keys.data.key_arn,
            audit_key_id=self.keys.audit.key_arn,
            processor_token_key_id=self.keys.processor_tokens.key_arn,
            processor_queue_url=self.processor_queue.queue_url,
            admission_queue_url=self.admission_queue.queue_url,
            processor_secrets_key_id=self.keys.operations.key_arn,
            customer_user_pool_id=self.identity.customers.user_pool_id,
            customer_client_id=self.identity.customer_client.user_pool_client_id,
            staff_user_pool_id=self.identity.staff.user_pool_id,
            staff_client_id=self.identity.staff_client.user_pool_client_id,
            processor_user_pool_id=self.identity.processors.user_pool_id,
            erasure_state_machine_arn=self.erasure_state_machine_arn,
            exporter_function_name=naming.function_name(self.config.prefix, naming.EXPORTER),
            alarm_topic_arn=self.alarm_topic_arn,
            audit_lake_channel_arn=self.audit.lake_channel_arn or "",
            audit_retention_days=self.config.audit_retention_days,
            key_store_recovery_days=self.config.shredded_pitr_recovery_days,
            pitr_recovery_days=self.config.pitr_recovery_days,
            backup_retention_days=self.config.backup_retention_days,
            inactivity_days=self.config.inactivity_days,
            retention_batch_max=self.config.retention_batch_max,
            erasure_concurrency=self.config.erasure_concurrency,
            erasure_slot_seconds=self.config.erasure_slot_seconds,
            retention_slot_percent=self.config.retention_slot_percent,
            retention_window_hours=self.config.retention_window_hours,
            activity_epoch_month=self.config.activity_epoch_month,
            jurisdiction=self.config.jurisdiction,
            request_due_warning_days=self.config.request_due_warning_days,
            notice_sender=self.config.notice_from,
        )


@dataclass(frozen=True)
class Deployed:
    function: lambda_.Function
    role: iam.Role
    policy: iam.ManagedPolicy
    log_group: logs.LogGroup
    dead_letters: sqs.Queue | None


class Functions(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, wiring: Wiring) -> None:
        super().__init__(scope, construct_id)
        if not (DEPENDENCIES / "python").is_dir():
            raise FileNotFoundError(f"{DEPENDENCIES}/python is missing: run `make lambda-deps` first")
        self._wiring = wiring
        self._code = lambda_.Code.from_asset(str(ASSET_ROOT), exclude=ASSET_EXCLUDES)
        self._layer = lambda_.LayerVersion(
            self,
            "Dependencies",
            code=lambda_.Code.from_asset(str(DEPENDENCIES), exclude=["requirements.txt", ".built"]),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[lambda_.Architecture.ARM_64],
            description="Third-party wheels of the functions (uv.lock), built for arm64 Lambda.",
        )
        self._environment = wiring.settings().to_env()
        # A pool's trigger is named in the pool, so the pool cannot be named in the trigger.
        self._trigger_environment = wiring.settings().without_user_pools().to_env()
        self.deployed: dict[str, Deployed] = {item.name: self._function(item) for item in catalog.FUNCTIONS}

    def __getitem__(self, name: str) -> lambda_.Function:
        return self.deployed[name].function

    def _function(self, spec: Function) -> Deployed:
        cid = "".join(part.title() for part in spec.name.split("_"))
        access = ACCESS[spec.name]
        log_group = encrypted_log_group(
            self, f"{cid}Logs", key=self._wiring.keys.operations, days=self._wiring.config.log_retention_days
        )
        # A function without a route, trigger or queue may be invoked asynchronously (EventBridge's
        # retention schedule, subject_access's Event invoke of the exporter), and its events carry ids
        # only: what Lambda gives up on goes to its DLQ. A queue's function is invoked by its event
        # source mapping: the queue's redrive is its DLQ.
        asynchronous = not (spec.api or spec.identity_trigger or spec.queue)
        dead_letters = self._dead_letter_queue(cid, spec) if asynchronous else None
        role = iam.Role(
            self,
            f"{cid}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"CRM Custody {spec.name}: only what infra.access grants it.",
        )
        policy = iam.ManagedPolicy(
            self,
            f"{cid}Policy",
            description=f"Least privilege of the {spec.name} function.",
            statements=self._statements(access, log_group, dead_letters),
            roles=[role],
        )
        self._acknowledge_policy(policy, spec, access)
        if access.writes_ledger:
            self._wiring.audit.ledger_writers.attach_to_role(role)
        function = lambda_.Function(
            self,
            cid,
            function_name=naming.function_name(self._wiring.config.prefix, spec.name),
            description=spec.description,
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            code=self._code,
            handler=spec.handler,
            layers=[self._layer],
            role=role.without_policy_updates(),
            environment={
                **(self._trigger_environment if spec.identity_trigger else self._environment),
                **spec.powertools_environment(),
            },
            timeout=Duration.seconds(spec.timeout_seconds),
            memory_size=spec.memory_mb,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            reserved_concurrent_executions=self._wiring.config.reserved(spec.name),
            dead_letter_queue=dead_letters,
            **self._async_invoke(spec),
        )
        function.node.add_dependency(policy)
        self._acknowledge_function(function, spec)
        return Deployed(function, role, policy, log_group, dead_letters)

    @staticmethod
    def _async_invoke(spec: Function) -> dict[str, Any]:
        """The function's event invoke config (`catalog.ASYNC_INVOKE`) as Function props; none: Lambda's defaults."""
        declared = catalog.ASYNC_INVOKE.get(spec.name)
        if declared is None:
            return {}
        return {
            "retry_attempts": declared.retry_attempts,
            "max_event_age": Duration.seconds(declared.max_event_age_seconds),
        }

    def _dead_letter_queue(self, cid: str, spec: Function) -> sqs.Queue:
        queue = sqs.Queue(
            self,
            f"{cid}DeadLetters",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self._wiring.keys.operations,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        Tags.of(queue).add(CLASSIFICATION_TAG, Classification.OPERATIONAL.value)
        return queue

    def _statements(
        self, access: Access, log_group: logs.ILogGroup, dead_letters: sqs.IQueue | None
    ) -> list[iam.PolicyStatement]:
        wiring = self._wiring
        statements = [policies.log_writes(log_group.log_group_arn), policies.xray_writes()]
        for name, level in access.tables.items():
            statements += policies.table(wiring.data.tables[name], level, _indexes(name), _key_attributes(name))
        for name, bucket_level in access.buckets.items():
            statements += policies.bucket(wiring.data.buckets[name], bucket_level)
        through_stores = policies.key_through_stores(wiring.keys.data, access.tables.values(), access.buckets.values())
        if through_stores is not None:
            statements.append(through_stores)
        if access.customer_keys is not None:
            statements.append(policies.customer_keys(wiring.keys.data, access.customer_keys))
        if access.start_erasure:
            statements.append(
                iam.PolicyStatement(actions=["states:StartExecution"], resources=[wiring.erasure_state_machine_arn])
            )
        if access.queues_erasures:
            statements.append(
                iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[wiring.admission_queue.queue_arn])
            )
            # SQS encrypts the message under the queue's key on the sender's behalf (SSE-KMS).
            statements.append(
                iam.PolicyStatement(
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=[wiring.keys.operations.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"sqs.{Aws.REGION}.amazonaws.com"}},
                )
            )
        if access.admits_erasures:
            statements += self._admits_erasures()
        if access.starts_exports:
            # Derived from the name, as the state machine's ARN is: the exporter need not exist first.
            exporter = naming.function_name(wiring.config.prefix, naming.EXPORTER)
            statements.append(
                policies.invoke(f"arn:{Aws.PARTITION}:lambda:{Aws.REGION}:{Aws.ACCOUNT_ID}:function:{exporter}")
            )
        if access.scans:
            statements.append(policies.scan(wiring.data.tables[name] for name in sorted(access.scans)))
        if access.reviews_audit:
            statements += self._audit_reviews()
        if access.complete_callbacks:
            statements.append(policies.task_callbacks())
        if access.customer_identities:
            statements.append(
                iam.PolicyStatement(
                    actions=list(IDENTITY_ACTIONS[access.customer_identities]),
                    resources=[wiring.identity.customers.user_pool_arn],
                )
            )
        if access.notifies_processors:
            statements.append(
                iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[wiring.processor_queue.queue_arn])
            )
            # SQS encrypts the message under the queue's key on the sender's behalf (SSE-KMS).
            statements.append(
                iam.PolicyStatement(
                    actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[wiring.keys.operations.key_arn]
                )
            )
        if access.signing_secrets is not None:
            statements += self._signing_secrets(access.signing_secrets)
        if access.relays_processor_queue:
            statements += self._consumes(wiring.processor_queue)
        if access.sends_notices:
            statements.append(send_statement(wiring.config, access.sends_notices))
        if access.notice_keys:
            statements += self._notice_keys()
        if access.processor_tokens is not None:
            action = "kms:GenerateMac" if access.processor_tokens is TokenSeal.SEAL else "kms:VerifyMac"
            statements.append(iam.PolicyStatement(actions=[action], resources=[wiring.keys.processor_tokens.key_arn]))
        if dead_letters is not None:
            statements.append(iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[dead_letters.queue_arn]))
            statements.append(
                iam.PolicyStatement(
                    actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[wiring.keys.operations.key_arn]
                )
            )
        return statements

    def _notice_keys(self) -> list[iam.PolicyStatement]:
        """An erasure's notice key (custody.notices.addresses): made and unwrapped under a notice's context only,
        stored only under a notice partition of the key store — never a customer's key, never a customer's item."""
        wiring = self._wiring
        return [
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[wiring.keys.data.key_arn],
                conditions={"Null": {f"kms:EncryptionContext:{NOTICE_KEY_CONTEXT}": "false"}},
            ),
            iam.PolicyStatement(
                actions=["dynamodb:PutItem"],
                resources=[wiring.data.tables[_key_store()].table_arn],
                conditions={
                    "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{NOTICE_KEY_PARTITION_PREFIX}*"]},
                    "Null": {"dynamodb:LeadingKeys": "false"},
                },
            ),
        ]

    def _admits_erasures(self) -> list[iam.PolicyStatement]:
        """Drain the admission queue (the mapping polls with this role) and describe the workflow's executions."""
        return [
            *self._consumes(self._wiring.admission_queue),
            iam.PolicyStatement(actions=["states:DescribeExecution"], resources=[self._erasure_executions_arn()]),
        ]

    def _audit_reviews(self) -> list[iam.PolicyStatement]:
        """What the stack's AuditorRole reads of the ledger (never the trail) and the erasure executions' history."""
        _, history = execution_reads(self._wiring.erasure_state_machine_arn)
        return [*self._wiring.audit.reads([f"{LEDGER_PREFIX}/*"], through_s3_only=True), history]

    def _consumes(self, queue: sqs.IQueue) -> list[iam.PolicyStatement]:
        """What an SQS event source mapping polls `queue` with (its function's role), the key it decrypts with."""
        return [
            iam.PolicyStatement(
                actions=[
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                    "sqs:ChangeMessageVisibility",
                ],
                resources=[queue.queue_arn],
            ),
            # SQS decrypts the messages it hands over with the queue's key, on the receiver's behalf.
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[self._wiring.keys.operations.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"sqs.{Aws.REGION}.amazonaws.com"}},
            ),
        ]

    def _erasure_executions_arn(self) -> str:
        machine = naming.state_machine_name(self._wiring.config.prefix, naming.ERASURE_STATE_MACHINE)
        return f"arn:{Aws.PARTITION}:states:{Aws.REGION}:{Aws.ACCOUNT_ID}:execution:{machine}:*"

    def _signing_secrets(self, use: SecretUse) -> list[iam.PolicyStatement]:
        """The sub-processors' signing secrets (`<prefix>/processors/*`) and the operations key, via Secrets Manager."""
        wiring = self._wiring
        secrets = self._signing_secrets_arn()
        issue = use is SecretUse.ISSUE
        actions = (
            ["secretsmanager:CreateSecret", "secretsmanager:PutSecretValue"]
            if issue
            else ["secretsmanager:GetSecretValue"]
        )
        return [
            iam.PolicyStatement(actions=actions, resources=[secrets]),
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Decrypt"] if issue else ["kms:Decrypt"],
                resources=[wiring.keys.operations.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"secretsmanager.{Aws.REGION}.amazonaws.com"}},
            ),
        ]

    def _signing_secrets_arn(self) -> str:
        pattern = naming.signing_secrets_pattern(self._wiring.config.prefix)
        return f"arn:{Aws.PARTITION}:secretsmanager:{Aws.REGION}:{Aws.ACCOUNT_ID}:secret:{pattern}"

    def _acknowledge_policy(self, policy: iam.ManagedPolicy, spec: Function, access: Access) -> None:
        wildcards = (
            f"The {spec.name} role's '*' resources are X-Ray's PutTraceSegments/PutTelemetryRecords and Step "
            "Functions' SendTaskSuccess/SendTaskFailure/SendTaskHeartbeat, which have no resource-level "
            "permissions; the SendTask actions complete only a task whose token the workflow handed out."
            if access.complete_callbacks
            else f"The {spec.name} role's only '*' resource is X-Ray's PutTraceSegments/PutTelemetryRecords, which "
            "have no resource-level permissions; active tracing needs them and they reach no data."
        )
        acknowledge(policy, "AwsSolutions-IAM5[Resource::*]", wildcards)
        if access.signing_secrets is not None:
            pattern = naming.signing_secrets_pattern(self._wiring.config.prefix)
            acknowledge_wildcard(
                policy,
                self._signing_secrets_arn(),
                f"The {spec.name} function serves every sub-processor: its secrets are created at run time, one per "
                f"agreement, under {pattern} (and Secrets Manager appends a random suffix to each ARN), so the "
                "grant is that name pattern with explicit actions, never every secret.",
            )
        if access.admits_erasures:
            acknowledge_wildcard(
                policy,
                self._erasure_executions_arn(),
                f"The {spec.name} function reconciles erasure slots: it describes executions of the one erasure "
                "state machine, named at run time by each request (DescribeExecution is authorized on the "
                "execution ARN), so the grant is that machine's execution pattern with one read action.",
            )
        if access.reviews_audit:
            acknowledge_wildcard(
                policy,
                self._wiring.audit.bucket.arn_for_objects(f"{LEDGER_PREFIX}/*"),
                f"The {spec.name} function shows auditors any request's chain: it reads every version under "
                f"{LEDGER_PREFIX}/ (read-only; Object Lock keeps them), which holds ids, counts and digests only.",
            )
            acknowledge_wildcard(
                policy,
                execution_reads(self._wiring.erasure_state_machine_arn)[0],
                f"The {spec.name} function reads the history of any execution of the one erasure state machine "
                "(each request and its re-runs, named at run time); the history holds ids and counts only.",
            )
        for name in access.buckets:
            bucket = self._wiring.data.buckets[name]
            acknowledge_wildcard(
                policy,
                bucket.arn_for_objects(policies.SUBJECT_OBJECTS),
                f"The {spec.name} function serves every customer, so its {name} bucket access is the pattern of "
                f"the per-customer prefixes ({policies.SUBJECT_OBJECTS}) with explicit actions, never the bucket.",
            )

    def _acknowledge_function(self, function: lambda_.Function, spec: Function) -> None:
        if self._wiring.config.reserved(spec.name) is None:
            shared_pool = (
                f"The {spec.name} function reserves no concurrency by default (custody:reservedConcurrency): a new "
                "account's quota cannot spare any, and a reservation there fails the deploy. API Gateway's stage "
                "throttling, the workflow's Map concurrency and the sweep's batch bound it instead (docs/deploy.md)."
            )
            if spec.name in catalog.ASYNC_INVOKE:
                shared_pool += (
                    " Its asynchronous invocations are bounded by the throttled route that starts them and a "
                    "per-customer daily limit (Settings.export_daily_limit); Lambda queues what the pool cannot take."
                )
            acknowledge_in_packs(function, "LambdaConcurrency", shared_pool)
            checkov_skip(function, "CKV_AWS_115", shared_pool)
        checkov_skip(
            function,
            "CKV_AWS_173",
            f"The {spec.name} function's environment holds resource names and settings only, never a secret "
            "(custody.declared.settings); Lambda encrypts it at rest with an AWS managed key.",
        )
        acknowledge(
            function,
            "AwsSolutions-L1",
            f"The {spec.name} function runs {RUNTIME.name}, a supported runtime, because its layer's compiled "
            "wheels (pydantic-core, cryptography, cffi) are built for that CPython by `make lambda-deps`; the "
            "runtime moves together with LAMBDA_PYTHON, never alone.",
        )
        outside_vpc = (
            f"The {spec.name} function calls only AWS APIs ({', '.join(_services(ACCESS[spec.name]))}) over TLS "
            "with IAM-signed requests; it reaches no private network resource, so a VPC would add NAT or "
            "endpoints without isolating anything."
        )
        if spec.queue == naming.PROCESSOR_NOTIFICATIONS:
            outside_vpc = (
                f"The {spec.name} function calls AWS APIs ({', '.join(_services(ACCESS[spec.name]))}) and POSTs "
                "signed requests to sub-processors' HTTPS endpoints on the internet; it refuses any endpoint that "
                "is not a public host or resolves to a non-public address, so it reaches no private network "
                "resource, and a VPC would only add a NAT gateway on that path."
            )
        acknowledge_in_packs(function, "LambdaInsideVPC", outside_vpc)
        checkov_skip(function, "CKV_AWS_117", outside_vpc)
        if spec.identity_trigger:
            no_dlq = (
                f"The {spec.name} function is invoked only synchronously by Cognito, whose sign-in fails when it "
                "fails, so a DLQ would never receive; if it did, it would hold events carrying the user's "
                "attributes (e-mail addresses) outside the data map."
            )
        elif spec.queue:
            no_dlq = (
                f"The {spec.name} function is invoked only by the event source mapping of its SQS queue, which "
                "keeps a failed message on the queue and moves it to the queue's own alarmed dead-letter queue "
                "after maxReceiveCount; a Lambda DLQ applies to asynchronous invocations, which it never has."
            )
        elif spec.api:
            no_dlq = (
                f"The {spec.name} function is invoked only synchronously by API Gateway, which returns its "
                "errors to the caller, so a DLQ would never receive; if it did, it would hold events carrying "
                "request bodies and token claims (e-mail addresses) outside the data map."
            )
        else:
            return
        acknowledge_in_packs(function, "LambdaDLQ", no_dlq, packs=(HIPAA, NIST))
        checkov_skip(function, "CKV_AWS_116", no_dlq)


def _key_store() -> str:
    """The data map's key store: the one table erased by shredding."""
    (store,) = [item.name for item in datamap.table_stores() if item.erasure is datamap.Erasure.SHRED]
    return store


def _indexes(table: str) -> tuple[str, ...]:
    store = next((item for item in datamap.table_stores() if item.name == table), None)
    if store is not None:
        return tuple(index.name for index in store.indexes)
    operational = datamap.OPERATIONAL_TABLES.get(table)
    return tuple(index.name for index in operational.indexes) if operational else ()


def _key_attributes(table: str) -> tuple[str, ...]:
    store = next((item for item in datamap.table_stores() if item.name == table), None)
    if store is not None:
        return (store.partition_key, store.sort_key)
    operational = datamap.OPERATIONAL_TABLES.get(table)
    if operational is None:
        return ()
    return (operational.partition_key, *((operational.sort_key,) if operational.sort_key else ()))


def _services(access: Access) -> list[str]:
    services = ["CloudWatch Logs", "X-Ray"]
    services += ["DynamoDB", "KMS"] if access.tables else []
    services += ["S3"] if access.buckets or access.writes_ledger else []
    services += ["Step Functions"] if access.start_erasure or access.complete_callbacks or access.reviews_audit else []
    services += ["Lambda"] if access.starts_exports else []
    queues = (access.notifies_processors, access.relays_processor_queue, access.queues_erasures, access.admits_erasures)
    services += ["SQS"] if any(queues) else []
    services += ["Secrets Manager"] if access.signing_secrets else []
    services += ["Cognito"] if access.customer_identities else []
    services += ["SES"] if access.sends_notices else []
    return services
