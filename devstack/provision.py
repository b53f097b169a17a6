"""Create the stack's resources in moto from the same declarations the CDK stack uses.

* tables: every `TableStore` of the data map (partition `subject_id`, its sort key, TTL) and
  every `OPERATIONAL_TABLES` entry, on-demand, SSE with the data key, PITR on;
* buckets: every `BucketStore` (versioned, SSE-KMS, public access blocked, expiry where the
  data map says so), the access-log bucket and the audit bucket (Object Lock, COMPLIANCE
  retention of `Settings.audit_retention_days`), named by `naming`;
* KMS keys `data` and `audit` under the aliases `Settings` names, rotation on, and the
  processor-token HMAC key (HMAC_256, GENERATE_VERIFY_MAC: KMS rotates no HMAC key);
* the customer, staff and processor user pools as `custody.declared.user_pools` declares them
  (case-insensitive e-mail sign-in, password policy, MFA...; staff: groups `catalog.STAFF_GROUPS`),
  each with its declared app client, which also allows the USER_PASSWORD and ADMIN_USER_PASSWORD
  flows here (`LOCAL_SIGN_IN_FLOWS`);
* the alarm topic;
* one Lambda function per `catalog.FUNCTIONS` entry (a token zip: the patched runtime imports
  the real handler from `functions/`), environment `Settings.to_env()` with the real ids, and the
  event invoke config `catalog.ASYNC_INVOKE` declares for it (retries and event age of its
  asynchronous invocations, which `devstack.asynchronous` honours);
* the erasure state machine from `statemachines/erasure.asl.json`, placeholders substituted;
* the retention schedule's EventBridge rules (moto keeps them but never fires a schedule:
  `custody retention sweep --local` runs the sweep on demand), and the rule on the erasure
  workflow's terminal status changes (its target, `erasure_outcomes`);
* the processor notification queue and the erasure admission queue, each with its dead-letter queue;
* the notice sender's SES identity, verified, and one SES template per `custody.declared.notices.TEMPLATES`
  entry (`CreateTemplate`, as the CDK stack's `AWS::SES::Template`s): moto keeps what it sends in its
  SES backend's `sent_messages`, which the journey prints and the tests read.

It works against the served moto (clients with an endpoint URL) and under `mock_aws` alike.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

import boto3
from botocore.config import Config

from custody.declared import catalog, datamap, naming, notices, user_pools, workflow
from custody.declared.catalog import Audience
from custody.declared.settings import Settings
from devstack.paths import ERASURE_ASL
from devstack.resources import FunctionInfo, KeyInfo, Resources, UserPoolInfo
from devstack.runtime import LAMBDA_RUNTIME

ACCOUNT_ID: Final = "123456789012"  # moto's default account; Settings' bucket qualifier assumes it

ERASURE_STEPS_FUNCTION: Final = "erasure_steps"
RETENTION_FUNCTION: Final = "retention"
OPERATIONS_KEY: Final = "operations"  # encrypts logs, queues and the alarm topic (no personal data)
SYSTEM_TAG: Final = "custody:system"
OPERATIONAL: Final = datamap.Classification.OPERATIONAL

ASL_PLACEHOLDER: Final = re.compile(r"\$\{([A-Za-z][A-Za-z0-9_]*)\}")

ClientFactory = Callable[[str], Any]


class ProvisioningError(RuntimeError):
    pass


def client_factory(region: str, endpoint_url: str | None = None, config: Config | None = None) -> ClientFactory:
    """boto3 clients with test credentials: to the served moto, or intercepted by `mock_aws`."""
    session = boto3.session.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto's placeholder credentials
        aws_session_token="testing",  # noqa: S106
        region_name=region,
    )

    made: dict[str, Any] = {}

    def make(service: str) -> Any:
        if service not in made:
            made[service] = session.client(service, endpoint_url=endpoint_url, config=config)  # type: ignore[call-overload]
        return made[service]

    return make


def render_definition(template: str, substitutions: Mapping[str, str]) -> str:
    """Substitute `${Name}` placeholders as CloudFormation's DefinitionSubstitutions does.

    Unknown placeholders are an error, not left in place: moto would accept the text and the
    execution would fail much later, far from the cause.
    """
    missing = sorted({name for name in ASL_PLACEHOLDER.findall(template) if name not in substitutions})
    if missing:
        raise ProvisioningError(f"ASL placeholders without a value: {', '.join(missing)}")
    return ASL_PLACEHOLDER.sub(lambda match: substitutions[match.group(1)], template)


def erasure_definition(function_arn: str, alarm_topic_arn: str, asl_file: Path = ERASURE_ASL) -> str:
    return render_definition(
        asl_file.read_text(), {"ErasureStepsFunctionArn": function_arn, "AlarmTopicArn": alarm_topic_arn}
    )


def _tags(**values: str) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in values.items()]


def _store_tags(name: str, classification: datamap.Classification) -> dict[str, str]:
    return {"custody:store": name, "custody:classification": classification.value}


def _index(index: datamap.Index) -> dict[str, Any]:
    keys = [(index.partition_key, "HASH")] + ([(index.sort_key, "RANGE")] if index.sort_key else [])
    projection: dict[str, Any] = {"ProjectionType": "INCLUDE" if index.projection else "KEYS_ONLY"}
    if index.projection:
        projection["NonKeyAttributes"] = list(index.projection)
    return {
        "IndexName": index.name,
        "KeySchema": [{"AttributeName": attribute, "KeyType": kind} for attribute, kind in keys],
        "Projection": projection,
    }


def user_pool_request(pool: user_pools.UserPool, prefix: str, token_trigger: str | None = None) -> dict[str, Any]:
    """`CreateUserPool`'s parameters for a declared pool: what CloudFormation makes of the CDK pool.

    Cognito's API and CloudFormation name a pool's settings alike, so each key here is the
    synthesized `AWS::Cognito::UserPool` property of the same name (tests/infra/test_devstack_parity.py
    compares them all) but `PoolName` (`UserPoolName` there) — and the pool's MFA, which the API
    sets apart (`mfa_config_request`). The e-mail sender (`EmailConfiguration`) is the deployment's.
    """
    verification = pool.verification
    request: dict[str, Any] = {
        "PoolName": pool.name(prefix),
        "UsernameAttributes": list(pool.sign_in_with),
        "UsernameConfiguration": {"CaseSensitive": pool.case_sensitive},
        "AutoVerifiedAttributes": list(pool.auto_verified),
        "UserAttributeUpdateSettings": {"AttributesRequireVerificationBeforeUpdate": list(pool.keep_original)},
        "Schema": [
            {"Name": attribute.name, "Required": attribute.required, "Mutable": attribute.mutable}
            for attribute in pool.attributes
        ],
        "Policies": {
            "PasswordPolicy": {
                "MinimumLength": pool.password.min_length,
                "RequireLowercase": pool.password.require_lowercase,
                "RequireUppercase": pool.password.require_uppercase,
                "RequireNumbers": pool.password.require_digits,
                "RequireSymbols": pool.password.require_symbols,
                "TemporaryPasswordValidityDays": pool.password.temporary_password_days,
            }
        },
        "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": not pool.self_sign_up},
        "AccountRecoverySetting": {
            "RecoveryMechanisms": [
                {"Name": mechanism, "Priority": priority} for priority, mechanism in enumerate(pool.recovery, start=1)
            ]
        },
        "VerificationMessageTemplate": {
            "DefaultEmailOption": "CONFIRM_WITH_CODE",
            "EmailSubject": verification.email_subject,
            "EmailMessage": verification.email_message,
            "SmsMessage": verification.sms_message,
        },
        # The legacy spellings of the same template, which Cognito still keeps on a pool.
        "EmailVerificationSubject": verification.email_subject,
        "EmailVerificationMessage": verification.email_message,
        "SmsVerificationMessage": verification.sms_message,
        "UserPoolTier": pool.tier.value,
        "UserPoolAddOns": {"AdvancedSecurityMode": pool.threat_protection.value},
        "DeletionProtection": "ACTIVE" if pool.deletion_protection else "INACTIVE",
        "UserPoolTags": {SYSTEM_TAG: prefix},
    }
    if token_trigger:
        request["LambdaConfig"] = {"PreTokenGenerationConfig": {"LambdaVersion": "V2_0", "LambdaArn": token_trigger}}
    return request


# What the local app clients allow beyond the declared ones: `devstack.identity` signs people in
# with their password (no SRP client here), as docs/local-stack.md says.
LOCAL_SIGN_IN_FLOWS: Final = ("ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH")
_MINUTES: Final = "minutes"


def app_client_request(pool: user_pools.UserPool, prefix: str) -> dict[str, Any]:
    """`CreateUserPoolClient`'s parameters for the pool's declared app client (`UserPool.client`).

    The synthesized `AWS::Cognito::UserPoolClient` has the same properties (the parity test compares
    them) but the flows: the local client also allows `LOCAL_SIGN_IN_FLOWS`. A pool that declares
    no client (sub-processors: machine clients only) gets a local one for the sign-in helpers, which
    the deployed pool does not have.
    """
    declared = pool.client
    if declared is None:
        return {
            "ClientName": f"{prefix}-{pool.logical}-app",
            "GenerateSecret": False,
            "ExplicitAuthFlows": [*LOCAL_SIGN_IN_FLOWS, "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            "PreventUserExistenceErrors": "ENABLED",
        }
    request: dict[str, Any] = {
        "ClientName": declared.name(prefix),
        "GenerateSecret": False,
        "ExplicitAuthFlows": [*declared.auth_flows, *LOCAL_SIGN_IN_FLOWS],
        "PreventUserExistenceErrors": "ENABLED" if declared.prevent_user_existence_errors else "LEGACY",
        "EnableTokenRevocation": declared.token_revocation,
        "IdTokenValidity": declared.id_token_minutes,
        "AccessTokenValidity": declared.access_token_minutes,
        "RefreshTokenValidity": declared.refresh_token_minutes,
        "TokenValidityUnits": {"IdToken": _MINUTES, "AccessToken": _MINUTES, "RefreshToken": _MINUTES},
        "AllowedOAuthFlowsUserPoolClient": False,
        "SupportedIdentityProviders": ["COGNITO"],
    }
    if declared.read_attributes:
        request["ReadAttributes"] = list(declared.read_attributes)
    if declared.write_attributes:
        request["WriteAttributes"] = list(declared.write_attributes)
    return request


# `SetUserPoolMfaConfig`'s parameter that enables each second factor.
MFA_FACTOR_CONFIG: Final[Mapping[user_pools.MfaFactor, str]] = {
    user_pools.MfaFactor.TOTP: "SoftwareTokenMfaConfiguration",
    user_pools.MfaFactor.SMS: "SmsMfaConfiguration",
    user_pools.MfaFactor.EMAIL: "EmailMfaConfiguration",
}


def mfa_config_request(pool: user_pools.UserPool) -> dict[str, Any] | None:
    """`SetUserPoolMfaConfig`'s parameters for a declared pool (None when MFA is off).

    `CreateUserPool` cannot enable a software token, so the API sets MFA apart; CloudFormation's
    `MfaConfiguration` and `EnabledMfas` are these. Only TOTP is modelled: SMS needs an SNS
    configuration and e-mail codes SES, neither of which the local stack has.
    """
    if pool.mfa is user_pools.Mfa.OFF:
        return None
    unmodelled = [factor.value for factor in pool.mfa_factors if factor is not user_pools.MfaFactor.TOTP]
    if unmodelled:
        raise ProvisioningError(f"{pool.logical}: the local stack offers TOTP only, not {', '.join(unmodelled)}")
    return {"MfaConfiguration": pool.mfa.value, MFA_FACTOR_CONFIG[user_pools.MfaFactor.TOTP]: {"Enabled": True}}


def _tiny_zip() -> bytes:
    """moto wants a zip; the code that runs is imported from functions/ by the patched runtime."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "devstack: the handler is imported from functions/ in-process.\n")
    return buffer.getvalue()


class Provisioner:
    def __init__(self, clients: ClientFactory, settings: Settings | None = None) -> None:
        self.clients = clients
        self.settings = settings or Settings()
        self.region = self.settings.region
        self.prefix = self.settings.resource_prefix

    # --- keys -------------------------------------------------------------------------------

    def key(self, purpose: str, alias: str) -> KeyInfo:
        kms = self.clients("kms")
        created = kms.create_key(
            Description=f"CRM Custody {purpose} key",
            KeyUsage="ENCRYPT_DECRYPT",
            Tags=[{"TagKey": "custody:key", "TagValue": purpose}],
        )["KeyMetadata"]
        kms.enable_key_rotation(KeyId=created["KeyId"])
        kms.create_alias(AliasName=alias, TargetKeyId=created["KeyId"])
        return KeyInfo(key_id=created["KeyId"], arn=created["Arn"], alias=alias)

    def hmac_key(self, purpose: str, alias: str) -> KeyInfo:
        """An HMAC_256 key for GenerateMac/VerifyMac (as infra.constructs.keys declares it)."""
        kms = self.clients("kms")
        created = kms.create_key(
            Description=f"CRM Custody {purpose} key",
            KeyUsage="GENERATE_VERIFY_MAC",
            KeySpec="HMAC_256",
            Tags=[{"TagKey": "custody:key", "TagValue": purpose}],
        )["KeyMetadata"]
        kms.create_alias(AliasName=alias, TargetKeyId=created["KeyId"])
        return KeyInfo(key_id=created["KeyId"], arn=created["Arn"], alias=alias)

    # --- tables -----------------------------------------------------------------------------

    def table(
        self,
        logical: str,
        partition_key: str,
        sort_key: str | None,
        tags: dict[str, str],
        key_arn: str,
        ttl_attribute: str | None = None,
        indexes: tuple[datamap.Index, ...] = (),
    ) -> str:
        dynamodb = self.clients("dynamodb")
        name = self.settings.table(logical)
        keys = [(partition_key, "HASH")] + ([(sort_key, "RANGE")] if sort_key else [])
        attributes = dict.fromkeys([attribute for attribute, _ in keys])
        extra: dict[str, Any] = {}
        if indexes:
            extra["GlobalSecondaryIndexes"] = [_index(index) for index in indexes]
            for index in indexes:
                attributes.update(dict.fromkeys(filter(None, (index.partition_key, index.sort_key))))
        dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": attribute, "KeyType": kind} for attribute, kind in keys],
            AttributeDefinitions=[{"AttributeName": attribute, "AttributeType": "S"} for attribute in attributes],
            **extra,
            BillingMode="PAY_PER_REQUEST",
            SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key_arn},
            Tags=_tags(**tags, **{SYSTEM_TAG: self.prefix}),
        )
        dynamodb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
        if ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute}
            )
        return name

    def tables(self, data_key_arn: str) -> dict[str, str]:
        made: dict[str, str] = {}
        for store in datamap.table_stores():
            made[store.name] = self.table(
                store.name,
                store.partition_key,
                store.sort_key,
                _store_tags(store.name, store.classification),
                data_key_arn,
                store.ttl_attribute,
                store.indexes,
            )
        for name, table in datamap.OPERATIONAL_TABLES.items():
            made[name] = self.table(
                name,
                table.partition_key,
                table.sort_key,
                _store_tags(name, OPERATIONAL),
                data_key_arn,
                table.ttl_attribute,
                table.indexes,
            )
        return made

    # --- buckets ----------------------------------------------------------------------------

    def bucket(
        self,
        logical: str,
        tags: dict[str, str],
        key_arn: str,
        expiration_days: int | None = None,
        object_lock_days: int | None = None,
    ) -> str:
        s3 = self.clients("s3")
        name = self.settings.bucket(logical)
        create: dict[str, Any] = {"Bucket": name}
        if self.region != "us-east-1":
            create["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        if object_lock_days is not None:
            create["ObjectLockEnabledForBucket"] = True
        s3.create_bucket(**create)
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
                        "BucketKeyEnabled": True,
                    }
                ]
            },
        )
        s3.put_public_access_block(
            Bucket=name,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tags(**tags, **{SYSTEM_TAG: self.prefix})})
        if expiration_days is not None:
            s3.put_bucket_lifecycle_configuration(
                Bucket=name,
                LifecycleConfiguration={
                    "Rules": [
                        {
                            "ID": "expire",
                            "Status": "Enabled",
                            "Filter": {"Prefix": ""},
                            "Expiration": {"Days": expiration_days},
                            "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
                            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                        }
                    ]
                },
            )
        if object_lock_days is not None:
            s3.put_object_lock_configuration(
                Bucket=name,
                ObjectLockConfiguration={
                    "ObjectLockEnabled": "Enabled",
                    "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": object_lock_days}},
                },
            )
        return name

    def buckets(self, data_key_arn: str, audit_key_arn: str) -> dict[str, str]:
        made = {
            store.name: self.bucket(
                store.name, _store_tags(store.name, store.classification), data_key_arn, store.expiration_days
            )
            for store in datamap.bucket_stores()
        }
        made[naming.ACCESS_LOG_BUCKET] = self.bucket(
            naming.ACCESS_LOG_BUCKET, _store_tags(naming.ACCESS_LOG_BUCKET, OPERATIONAL), data_key_arn
        )
        made[naming.AUDIT_BUCKET] = self.bucket(
            naming.AUDIT_BUCKET,
            _store_tags(naming.AUDIT_BUCKET, OPERATIONAL),
            audit_key_arn,
            object_lock_days=self.settings.audit_retention_days,
        )
        return made

    # --- identity ---------------------------------------------------------------------------

    def user_pool(
        self,
        pool: user_pools.UserPool,
        *,
        groups: tuple[str, ...] = (),
        resource_server: tuple[Audience, tuple[str, ...]] | None = None,
        token_trigger: str | None = None,
    ) -> UserPoolInfo:
        """The pool `custody.declared.user_pools` declares (`user_pool_request`), with an app client.

        `resource_server`: the audience whose resource server (`catalog.RESOURCE_SERVERS`) the
        pool holds, with its scopes; `token_trigger`: the ARN of its pre-token-generation
        function (event version 2), as `infra.constructs.identity` declares them.
        """
        cognito = self.clients("cognito-idp")
        created = cognito.create_user_pool(**user_pool_request(pool, self.prefix, token_trigger))["UserPool"]
        mfa = mfa_config_request(pool)
        if mfa is not None:
            cognito.set_user_pool_mfa_config(UserPoolId=created["Id"], **mfa)
        client = cognito.create_user_pool_client(UserPoolId=created["Id"], **app_client_request(pool, self.prefix))[
            "UserPoolClient"
        ]
        for group in groups:
            cognito.create_group(UserPoolId=created["Id"], GroupName=group, Description=f"Staff: {group}")
        scope_names: tuple[str, ...] = ()
        if resource_server is not None:
            server, scopes = resource_server
            scope_names = catalog.scope_names(server, scopes, self.prefix)
            identifier = naming.resource_server(self.prefix, catalog.RESOURCE_SERVERS[server])
            cognito.create_resource_server(
                UserPoolId=created["Id"],
                Identifier=identifier,
                Name=identifier,
                Scopes=[
                    {"ScopeName": scope, "ScopeDescription": f"CRM Custody {server.value}: {scope}"} for scope in scopes
                ],
            )
        return UserPoolInfo(
            pool_id=created["Id"],
            pool_arn=created["Arn"],
            client_id=client["ClientId"],
            issuer=f"https://cognito-idp.{self.region}.amazonaws.com/{created['Id']}",
            groups=groups,
            scopes=scope_names,
        )

    # --- compute ----------------------------------------------------------------------------

    def role(self, name: str, service: str) -> str:
        iam = self.clients("iam")
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
        role = iam.create_role(RoleName=f"{self.prefix}-{name}", AssumeRolePolicyDocument=json.dumps(trust))
        return str(role["Role"]["Arn"])

    def function(self, function: catalog.Function, environment: dict[str, str], zip_file: bytes) -> FunctionInfo:
        name = naming.function_name(self.prefix, function.name)
        created = self.clients("lambda").create_function(
            FunctionName=name,
            Description=function.description,
            Runtime=LAMBDA_RUNTIME,
            Architectures=["arm64"],
            Role=self.role(f"{function.name.replace('_', '-')}-role", "lambda.amazonaws.com"),
            Handler=function.handler,
            Code={"ZipFile": zip_file},
            Timeout=function.timeout_seconds,
            MemorySize=function.memory_mb,
            Environment={"Variables": environment},
            Tags={"custody:function": function.name},
        )
        asynchronous = catalog.ASYNC_INVOKE.get(function.name)
        if asynchronous is not None:
            self.clients("lambda").put_function_event_invoke_config(
                FunctionName=name,
                MaximumRetryAttempts=asynchronous.retry_attempts,
                MaximumEventAgeInSeconds=asynchronous.max_event_age_seconds,
            )
        return FunctionInfo(name=name, arn=created["FunctionArn"], handler=function.handler, api=function.api)

    def state_machine_arn(self, logical: str) -> str:
        name = naming.state_machine_name(self.prefix, logical)
        return f"arn:aws:states:{self.region}:{ACCOUNT_ID}:stateMachine:{name}"

    def processor_queue(self, key_arn: str) -> str:
        """The sub-processors' deletion requests (as infra.constructs.notifications): CMK, DLQ, TLS only."""
        return self.queue(naming.PROCESSOR_NOTIFICATIONS, naming.PROCESSOR_RELAY, catalog.QUEUE_MAX_RECEIVES, key_arn)

    def admission_queue(self, key_arn: str) -> str:
        """The erasures waiting for a slot (as infra.constructs.admission): CMK, DLQ, TLS only."""
        return self.queue(naming.ERASURE_ADMISSIONS, naming.ERASURE_ADMISSION, catalog.ADMISSION_MAX_RECEIVES, key_arn)

    def queue(self, logical: str, consumer: str, max_receives: int, key_arn: str) -> str:
        """A queue named by `naming`, its `-dlq` after `max_receives`, the consumer's visibility; its URL."""
        sqs = self.clients("sqs")
        name = naming.queue_name(self.prefix, logical)
        attributes = {"KmsMasterKeyId": key_arn, "MessageRetentionPeriod": str(14 * 86_400)}
        dead_letters = sqs.create_queue(QueueName=f"{name}-dlq", Attributes=attributes)["QueueUrl"]
        visibility = catalog.function(consumer).queue_visibility_seconds
        dead_letters_arn = sqs.get_queue_attributes(QueueUrl=dead_letters, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        redrive = json.dumps({"deadLetterTargetArn": dead_letters_arn, "maxReceiveCount": max_receives})
        queue_attributes = {**attributes, "RedrivePolicy": redrive, "VisibilityTimeout": str(visibility)}
        url = str(sqs.create_queue(QueueName=name, Attributes=queue_attributes)["QueueUrl"])
        for queue_url in (url, dead_letters):
            arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            tls_only = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": {"AWS": "*"},
                        "Action": "sqs:*",
                        "Resource": arn,
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            }
            sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(tls_only)})
            sqs.tag_queue(QueueUrl=queue_url, Tags={SYSTEM_TAG: self.prefix, "custody:classification": "operational"})
        return url

    def erasure_state_machine(self, function_arn: str, alarm_topic_arn: str) -> str:
        created = self.clients("stepfunctions").create_state_machine(
            name=naming.state_machine_name(self.prefix, naming.ERASURE_STATE_MACHINE),
            definition=erasure_definition(function_arn, alarm_topic_arn),
            roleArn=self.role("erasure-workflow-role", "states.amazonaws.com"),
            type="STANDARD",
            tags=[{"key": "custody:workflow", "value": naming.ERASURE_STATE_MACHINE}],
        )
        return str(created["stateMachineArn"])

    def retention_schedule(self, function_arn: str) -> list[str]:
        """The retention rules as infra.constructs.retention declares them (moto stores them; nothing fires)."""
        events = self.clients("events")
        made = []
        for task, schedule in (("sweep", "cron(0 2 * * ? *)"), ("sla", "rate(1 hour)")):
            name = naming.function_name(self.prefix, f"retention-{task}")
            made.append(str(events.put_rule(Name=name, ScheduleExpression=schedule, State="ENABLED")["RuleArn"]))
            events.put_targets(
                Rule=name, Targets=[{"Id": "Target0", "Arn": function_arn, "Input": json.dumps({"task": task})}]
            )
        return made

    def erasure_outcomes_rule(self, function_arn: str, state_machine_arn: str) -> str:
        """The rule on the workflow's terminal status changes (as infra.constructs.admission declares it).

        moto stores it; the local emitter of Step Functions' status-change events delivers them.
        """
        events = self.clients("events")
        name = naming.function_name(self.prefix, "erasure-outcomes")
        pattern = {
            "source": ["aws.states"],
            "detail-type": ["Step Functions Execution Status Change"],
            "detail": {"stateMachineArn": [state_machine_arn], "status": sorted(workflow.EXECUTION_ENDINGS)},
        }
        arn = str(events.put_rule(Name=name, EventPattern=json.dumps(pattern), State="ENABLED")["RuleArn"])
        events.put_targets(Rule=name, Targets=[{"Id": "Target0", "Arn": function_arn}])
        return arn

    def notice_templates(self) -> dict[str, str]:
        """The notice sender verified, and one SES template per declared notice (as the CDK stack's
        `AWS::SES::Template`s): notice kind -> template name."""
        ses = self.clients("ses")
        ses.verify_email_identity(EmailAddress=self.settings.notice_sender)
        names = {}
        for kind, template in notices.TEMPLATES.items():
            name = naming.notice_template_name(self.prefix, kind.value)
            ses.create_template(
                Template={
                    "TemplateName": name,
                    "SubjectPart": template.subject,
                    "TextPart": template.text,
                    "HtmlPart": template.html,
                }
            )
            names[kind.value] = name
        return names

    # --- all of it --------------------------------------------------------------------------

    def provision(self) -> Resources:
        data_key = self.key("data", self.settings.data_key_id)
        audit_key = self.key("audit", self.settings.audit_key_id)
        operations_key = self.key(OPERATIONS_KEY, f"alias/{self.prefix}-{OPERATIONS_KEY}")
        token_key = self.hmac_key(naming.PROCESSOR_SEAL_KEY, self.settings.processor_token_key_id)
        tables = self.tables(data_key.arn)
        buckets = self.buckets(data_key.arn, audit_key.arn)
        templates = self.notice_templates()
        topic_arn = str(
            self.clients("sns").create_topic(
                Name=naming.function_name(self.prefix, naming.ALARM_TOPIC),
                Attributes={"KmsMasterKeyId": operations_key.arn, "DisplayName": "CRM Custody alarms"},
                Tags=[{"Key": SYSTEM_TAG, "Value": self.prefix}],
            )["TopicArn"]
        )
        zip_file = _tiny_zip()
        # The functions are told the state machine's ARN before it exists (it names them), as
        # the CDK stack does: the ARN is derived from the name.
        expected_state_machine_arn = self.state_machine_arn(naming.ERASURE_STATE_MACHINE)
        queue_url = self.processor_queue(operations_key.arn)
        admission_url = self.admission_queue(operations_key.arn)
        settings = self.settings.model_copy(
            update={
                "erasure_state_machine_arn": expected_state_machine_arn,
                # A name, known before the function exists, as the CDK stack tells it.
                "exporter_function_name": naming.function_name(self.prefix, naming.EXPORTER),
                "alarm_topic_arn": topic_arn,
                "processor_queue_url": queue_url,
                "admission_queue_url": admission_url,
            }
        )
        # A pool's trigger is told no pool (the pool names it), as in the CDK stack.
        trigger_environment = settings.without_user_pools().to_env()
        triggers = {
            item.name: self.function(item, {**trigger_environment, **item.powertools_environment()}, zip_file)
            for item in catalog.FUNCTIONS
            if item.identity_trigger
        }
        pools = user_pools.USER_POOLS
        customer = self.user_pool(pools[naming.CUSTOMER_POOL])
        staff = self.user_pool(
            pools[naming.STAFF_POOL],
            groups=catalog.STAFF_GROUPS,
            resource_server=(Audience.STAFF, catalog.STAFF_GROUPS),
            token_trigger=next(
                triggers[item.name].arn for item in catalog.FUNCTIONS if item.identity_trigger is Audience.STAFF
            ),
        )
        # Machine clients: one app client per sub-processor, with the client-credentials grant
        # (devstack.cognito serves the token endpoint moto lacks; devstack.identity makes them).
        processors = self.user_pool(
            pools[naming.PROCESSOR_POOL], resource_server=(Audience.PROCESSOR, (catalog.ERASURE_ACK_SCOPE,))
        )
        settings = settings.model_copy(
            update={
                "customer_user_pool_id": customer.pool_id,
                "customer_client_id": customer.client_id,
                "staff_user_pool_id": staff.pool_id,
                "staff_client_id": staff.client_id,
                "processor_user_pool_id": processors.pool_id,
            }
        )
        environment = settings.to_env()
        functions = {
            **triggers,
            **{
                item.name: self.function(item, {**environment, **item.powertools_environment()}, zip_file)
                for item in catalog.FUNCTIONS
                if not item.identity_trigger
            },
        }
        self.retention_schedule(functions[RETENTION_FUNCTION].arn)
        state_machine_arn = self.erasure_state_machine(functions[ERASURE_STEPS_FUNCTION].arn, topic_arn)
        self.erasure_outcomes_rule(functions[naming.ERASURE_OUTCOMES].arn, state_machine_arn)
        if state_machine_arn != expected_state_machine_arn:
            raise ProvisioningError(
                f"The state machine's ARN {state_machine_arn} differs from the one the functions were given"
            )
        return Resources(
            region=self.region,
            account_id=ACCOUNT_ID,
            environment=environment,
            tables=tables,
            buckets=buckets,
            keys={
                "data": data_key,
                "audit": audit_key,
                OPERATIONS_KEY: operations_key,
                naming.PROCESSOR_SEAL_KEY: token_key,
            },
            user_pools={naming.CUSTOMER_POOL: customer, naming.STAFF_POOL: staff, naming.PROCESSOR_POOL: processors},
            functions=functions,
            state_machines={naming.ERASURE_STATE_MACHINE: state_machine_arn},
            alarm_topic_arn=topic_arn,
            queues={naming.PROCESSOR_NOTIFICATIONS: queue_url, naming.ERASURE_ADMISSIONS: admission_url},
            notice_templates=templates,
        )


def provision(clients: ClientFactory, settings: Settings | None = None) -> Resources:
    return Provisioner(clients, settings).provision()
