"""The local stack holds what the declarations say, under the names the functions are told."""

from __future__ import annotations

import json

import pytest

from custody.declared import catalog, datamap, naming
from custody.declared.settings import Settings
from devstack.paths import ERASURE_ASL
from devstack.provision import ProvisioningError, render_definition
from tests.integration.conftest import LocalStack


def test_every_table_of_the_data_map_and_the_operational_tables(local_stack: LocalStack) -> None:
    dynamodb = local_stack.clients("dynamodb")
    settings = Settings()
    expected = {store.name: (store.partition_key, store.sort_key) for store in datamap.table_stores()}
    expected.update({name: (table.partition_key, table.sort_key) for name, table in datamap.OPERATIONAL_TABLES.items()})
    assert set(local_stack.resources.tables) == set(expected)
    for logical, (partition, sort) in expected.items():
        name = local_stack.resources.tables[logical]
        assert name == settings.table(logical)
        table = dynamodb.describe_table(TableName=name)["Table"]
        schema = {item["KeyType"]: item["AttributeName"] for item in table["KeySchema"]}
        assert schema == ({"HASH": partition, "RANGE": sort} if sort else {"HASH": partition})
        assert table["SSEDescription"]["Status"] == "ENABLED"
    ttl = dynamodb.describe_time_to_live(TableName=settings.table("interactions"))["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")


def test_buckets_are_versioned_and_the_audit_bucket_is_locked(local_stack: LocalStack) -> None:
    s3 = local_stack.clients("s3")
    settings = Settings()
    stores = {store.name for store in datamap.bucket_stores()}
    assert set(local_stack.resources.buckets) == stores | {naming.AUDIT_BUCKET, naming.ACCESS_LOG_BUCKET}
    for logical, name in local_stack.resources.buckets.items():
        assert name == settings.bucket(logical)
        assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    lock = s3.get_object_lock_configuration(Bucket=settings.bucket(naming.AUDIT_BUCKET))["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    assert lock["Rule"]["DefaultRetention"]["Mode"] == "COMPLIANCE"


def test_the_audit_bucket_refuses_to_delete_a_locked_version(local_stack: LocalStack) -> None:
    s3 = local_stack.clients("s3")
    bucket = local_stack.resources.buckets[naming.AUDIT_BUCKET]
    version = s3.put_object(Bucket=bucket, Key="audit/probe.json", Body=b"{}")["VersionId"]
    with pytest.raises(s3.exceptions.ClientError):
        s3.delete_object(Bucket=bucket, Key="audit/probe.json", VersionId=version)


def test_keys_have_the_aliases_settings_name(local_stack: LocalStack) -> None:
    aliases = {item["AliasName"] for item in local_stack.clients("kms").list_aliases()["Aliases"]}
    settings = Settings()
    assert {settings.data_key_id, settings.audit_key_id, "alias/crm-custody-operations"} <= aliases


def test_user_pools_groups_and_clients(local_stack: LocalStack) -> None:
    cognito = local_stack.clients("cognito-idp")
    staff = local_stack.pool(naming.STAFF_POOL)
    groups = {group["GroupName"] for group in cognito.list_groups(UserPoolId=staff.pool_id)["Groups"]}
    assert groups == set(catalog.STAFF_GROUPS)
    assert cognito.get_user_pool_mfa_config(UserPoolId=staff.pool_id)["MfaConfiguration"] == "ON"
    for pool in local_stack.resources.user_pools.values():
        client = cognito.describe_user_pool_client(UserPoolId=pool.pool_id, ClientId=pool.client_id)
        flows = set(client["UserPoolClient"]["ExplicitAuthFlows"])
        assert {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH"} <= flows


def test_one_function_per_catalog_entry_with_its_handler_and_the_real_ids(local_stack: LocalStack) -> None:
    lambda_client = local_stack.clients("lambda")
    resources = local_stack.resources
    assert set(resources.functions) == {function.name for function in catalog.FUNCTIONS}
    for function in catalog.FUNCTIONS:
        config = lambda_client.get_function_configuration(FunctionName=resources.functions[function.name].name)
        assert config["Handler"] == function.handler
        assert (config["Timeout"], config["MemorySize"]) == (function.timeout_seconds, function.memory_mb)
        variables = config["Environment"]["Variables"]
        environment = Settings.from_env(resources.environment)
        if function.identity_trigger:  # a pool's trigger is told no pool: the pool names it
            environment = environment.without_user_pools()
        assert variables == {**environment.to_env(), **function.powertools_environment()}
    settings = Settings.from_env(resources.environment)
    assert settings.customer_user_pool_id == local_stack.pool(naming.CUSTOMER_POOL).pool_id
    assert settings.staff_client_id == local_stack.pool(naming.STAFF_POOL).client_id
    assert settings.processor_user_pool_id == local_stack.pool(naming.PROCESSOR_POOL).pool_id
    assert settings.erasure_state_machine_arn == resources.state_machines[naming.ERASURE_STATE_MACHINE]
    assert settings.alarm_topic_arn == resources.alarm_topic_arn
    assert settings.processor_queue_url == resources.queues[naming.PROCESSOR_NOTIFICATIONS]
    assert settings.processor_token_key_id == resources.keys[naming.PROCESSOR_SEAL_KEY].alias


def test_the_state_machine_is_the_asl_file_with_its_placeholders_substituted(local_stack: LocalStack) -> None:
    resources = local_stack.resources
    arn = resources.state_machines[naming.ERASURE_STATE_MACHINE]
    definition = local_stack.clients("stepfunctions").describe_state_machine(stateMachineArn=arn)["definition"]
    expected = ERASURE_ASL.read_text()
    expected = expected.replace("${ErasureStepsFunctionArn}", resources.functions["erasure_steps"].arn)
    expected = expected.replace("${AlarmTopicArn}", resources.alarm_topic_arn)
    assert json.loads(definition) == json.loads(expected)
    assert "${" not in definition


def test_an_unknown_placeholder_is_an_error_not_left_in_place() -> None:
    with pytest.raises(ProvisioningError, match="Missing"):
        render_definition('{"Resource": "${Missing}"}', {})
