"""The embedded local stack holds what the synthesized CDK stack holds, under the same names.

Both derive from the same declarations; this test catches the places where either side adds
something by hand: table key schemas and TTL, buckets, keys, pools, functions (handler, runtime,
sizing, environment), API routes and their authorizers, the stage, and the state machine (the
same ASL file, the same placeholders bound to the same resources).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from custody import catalog, naming
from devstack.gateway import STAGE
from devstack.paths import ERASURE_ASL
from devstack.provision import ASL_PLACEHOLDER, ClientFactory, client_factory, provision
from devstack.resources import Resources
from devstack.stack import AUDIENCE_POOLS, REGION
from infra.app import STACK_ID
from tests.infra.conftest import Cfn, Synthesized

ACCOUNT = "123456789012"
# Values that legitimately differ: CDK context (365-day Object Lock) and where the code runs.
DEPLOYMENT_SPECIFIC = {"CUSTODY_ENVIRONMENT", "CUSTODY_AUDIT_RETENTION_DAYS"}


@pytest.fixture(scope="module")
def local() -> Iterator[tuple[Resources, ClientFactory]]:
    with mock_aws():
        clients = client_factory(REGION)
        yield provision(clients), clients


def _resolve(value: Any) -> Any:
    """Resolve the pseudo parameters of a name the way they resolve in moto's account."""
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(str(_resolve(part)) for part in parts)
    if isinstance(value, dict) and value.get("Ref") == "AWS::AccountId":
        return ACCOUNT
    if isinstance(value, dict) and value.get("Ref") == "AWS::Region":
        return REGION
    if isinstance(value, dict) and value.get("Ref") == "AWS::Partition":
        return "aws"
    return value


def _props(cfn: Cfn, cfn_type: str) -> dict[str, dict[str, Any]]:
    return {lid: cfn.props(lid) for lid in cfn.of_type(cfn_type)}


def test_tables_key_schemas_and_ttl(cfn: Cfn, local: tuple[Resources, ClientFactory]) -> None:
    resources, clients = local
    synthesized = {
        props["TableName"]: (props["KeySchema"], (props.get("TimeToLiveSpecification") or {}).get("AttributeName"))
        for props in _props(cfn, "AWS::DynamoDB::Table").values()
    }
    dynamodb = clients("dynamodb")
    provisioned = {}
    for name in resources.tables.values():
        table = dynamodb.describe_table(TableName=name)["Table"]
        ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        provisioned[name] = (table["KeySchema"], ttl.get("AttributeName"))
    assert provisioned == synthesized


def test_tables_global_secondary_indexes(cfn: Cfn, local: tuple[Resources, ClientFactory]) -> None:
    """The indexes the review queue, the retention sweep and the disposal register query."""

    def shape(indexes: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
        return {
            (index["IndexName"], json.dumps(index["KeySchema"]), index["Projection"]["ProjectionType"])
            for index in indexes
        }

    synthesized = {
        props["TableName"]: shape(props.get("GlobalSecondaryIndexes", []))
        for props in _props(cfn, "AWS::DynamoDB::Table").values()
    }
    resources, clients = local
    dynamodb = clients("dynamodb")
    provisioned = {
        name: shape(dynamodb.describe_table(TableName=name)["Table"].get("GlobalSecondaryIndexes", []))
        for name in resources.tables.values()
    }
    assert provisioned == synthesized
    assert any(synthesized.values())


def test_buckets_names_stores_and_object_lock(cfn: Cfn, local: tuple[Resources, ClientFactory]) -> None:
    resources, clients = local
    synthesized = {}
    for lid, props in _props(cfn, "AWS::S3::Bucket").items():
        lock = (props.get("ObjectLockConfiguration") or {}).get("Rule", {}).get("DefaultRetention", {}).get("Mode")
        synthesized[_resolve(props["BucketName"])] = (Cfn.tags(cfn.resources[lid]).get("custody:store"), lock)
    s3 = clients("s3")
    provisioned = {}
    for logical, name in resources.buckets.items():
        lock = None
        if logical == naming.AUDIT_BUCKET:
            config = s3.get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"]
            lock = config["Rule"]["DefaultRetention"]["Mode"]
        provisioned[name] = (logical, lock)
    assert provisioned == synthesized


def test_key_aliases_and_the_alarm_topic(cfn: Cfn, local: tuple[Resources, ClientFactory]) -> None:
    resources, _ = local
    synthesized = {props["AliasName"] for props in _props(cfn, "AWS::KMS::Alias").values()}
    assert {key.alias for key in resources.keys.values()} == synthesized
    (topic,) = _props(cfn, "AWS::SNS::Topic").values()
    assert resources.alarm_topic_arn.rsplit(":", 1)[-1] == topic["TopicName"]


def test_user_pools_mfa_and_groups(cfn: Cfn, local: tuple[Resources, ClientFactory]) -> None:
    resources, clients = local
    cognito = clients("cognito-idp")
    synthesized_mfa = sorted(props["MfaConfiguration"] for props in _props(cfn, "AWS::Cognito::UserPool").values())
    provisioned_mfa = sorted(
        cognito.get_user_pool_mfa_config(UserPoolId=pool.pool_id)["MfaConfiguration"]
        for pool in resources.user_pools.values()
    )
    assert provisioned_mfa == synthesized_mfa
    groups = {props["GroupName"] for props in _props(cfn, "AWS::Cognito::UserPoolGroup").values()}
    assert set(resources.user_pools[naming.STAFF_POOL].groups) == groups == set(catalog.STAFF_GROUPS)


def test_functions_handlers_sizing_and_environment(cfn: Cfn, local: tuple[Resources, ClientFactory]) -> None:
    resources, clients = local
    lambda_client = clients("lambda")
    synthesized = {props["FunctionName"]: props for props in _props(cfn, "AWS::Lambda::Function").values()}
    assert set(synthesized) == {info.name for info in resources.functions.values()}
    for info in resources.functions.values():
        expected = synthesized[info.name]
        config = lambda_client.get_function_configuration(FunctionName=info.name)
        assert config["Handler"] == expected["Handler"] == info.handler
        assert config["Runtime"] == expected["Runtime"]
        assert config["Architectures"] == expected["Architectures"]
        assert (config["Timeout"], config["MemorySize"]) == (expected["Timeout"], expected["MemorySize"])
        local_env = config["Environment"]["Variables"]
        synthesized_env = expected["Environment"]["Variables"]
        assert set(local_env) == set(synthesized_env), info.name
        for name, value in synthesized_env.items():
            if isinstance(value, str) and name not in DEPLOYMENT_SPECIFIC:
                assert local_env[name] == value, f"{info.name}: {name}"


def _path(cfn: Cfn, resource_id: str) -> str:
    parts: list[str] = []
    current: str | None = resource_id
    while current is not None and current in cfn.resources:
        props = cfn.props(current)
        parts.append(props["PathPart"])
        parent = props["ParentId"]
        current = parent.get("Ref") if isinstance(parent, dict) else None
    return "/" + "/".join(reversed(parts))


def test_routes_functions_and_authorizers(cfn: Cfn, local: tuple[Resources, ClientFactory]) -> None:
    resources, _ = local
    function_names = {lid: props["FunctionName"] for lid, props in _props(cfn, "AWS::Lambda::Function").items()}
    pool_names = {lid: props["UserPoolName"] for lid, props in _props(cfn, "AWS::Cognito::UserPool").items()}
    authorizer_pools = {
        lid: pool_names[next(iter(Cfn.refs(props["ProviderARNs"])))]
        for lid, props in _props(cfn, "AWS::ApiGateway::Authorizer").items()
    }
    synthesized = set()
    for props in _props(cfn, "AWS::ApiGateway::Method").values():
        if props["HttpMethod"] == "OPTIONS":
            continue
        (function_lid,) = Cfn.refs(props["Integration"]["Uri"]) & set(function_names)
        authorizer = (props.get("AuthorizerId") or {}).get("Ref")
        path = _path(cfn, props["ResourceId"]["Ref"])
        synthesized.add((props["HttpMethod"], path, function_names[function_lid], authorizer_pools.get(authorizer)))

    served = set()
    for route in catalog.ROUTES:  # what the local gateway serves, and which pool its authorizer trusts
        pool = AUDIENCE_POOLS.get(route.audience)
        pool_name = naming.function_name(naming.DEFAULT_PREFIX, pool[0]) if pool else None
        served.add((route.method, route.path, resources.functions[route.function].name, pool_name))
    assert served == synthesized


def test_user_pool_names(cfn: Cfn, local: tuple[Resources, ClientFactory]) -> None:
    resources, clients = local
    cognito = clients("cognito-idp")
    provisioned = {
        cognito.describe_user_pool(UserPoolId=pool.pool_id)["UserPool"]["Name"]
        for pool in resources.user_pools.values()
    }
    assert provisioned == {props["UserPoolName"] for props in _props(cfn, "AWS::Cognito::UserPool").values()}


def test_the_stage(cfn: Cfn) -> None:
    (stage,) = _props(cfn, "AWS::ApiGateway::Stage").values()
    assert stage["StageName"] == STAGE


def test_the_state_machine_is_the_same_asl_bound_to_the_same_resources(
    synth: Synthesized, cfn: Cfn, local: tuple[Resources, ClientFactory]
) -> None:
    resources, clients = local
    (props,) = _props(cfn, "AWS::StepFunctions::StateMachine").values()
    assert props["StateMachineName"] == naming.state_machine_name(naming.DEFAULT_PREFIX, naming.ERASURE_STATE_MACHINE)
    assets = json.loads((synth.outdir / f"{STACK_ID}.assets.json").read_text())["files"]
    source = next(
        entry["source"]["path"] for key, entry in assets.items() if props["DefinitionS3Location"]["Key"].startswith(key)
    )
    assert source.endswith(str(ERASURE_ASL.relative_to(ERASURE_ASL.parents[1])))

    # The same placeholders, bound to the same things.
    substitutions = props["DefinitionSubstitutions"]
    assert set(substitutions) == set(ASL_PLACEHOLDER.findall(ERASURE_ASL.read_text()))
    (steps_lid,) = Cfn.refs(substitutions["ErasureStepsFunctionArn"])
    assert cfn.props(steps_lid)["FunctionName"] == resources.functions["erasure_steps"].name
    (topic_lid,) = Cfn.refs(substitutions["AlarmTopicArn"])
    assert cfn.props(topic_lid)["TopicName"] == resources.alarm_topic_arn.rsplit(":", 1)[-1]
    # The erasure steps send the sub-processors' notifications to the same queue.
    environment = cfn.props(steps_lid)["Environment"]["Variables"]
    (queue_lid,) = Cfn.refs(environment["CUSTODY_PROCESSOR_QUEUE_URL"])
    queue_url = resources.queues[naming.PROCESSOR_NOTIFICATIONS]
    assert cfn.props(queue_lid)["QueueName"] == queue_url.rsplit("/", 1)[-1]
    assert resources.environment["CUSTODY_PROCESSOR_QUEUE_URL"] == queue_url

    # After substitution, the local definition is the file with exactly those values.
    arn = resources.state_machines[naming.ERASURE_STATE_MACHINE]
    definition = clients("stepfunctions").describe_state_machine(stateMachineArn=arn)["definition"]
    expected = ERASURE_ASL.read_text()
    expected = expected.replace("${ErasureStepsFunctionArn}", resources.functions["erasure_steps"].arn)
    expected = expected.replace("${AlarmTopicArn}", resources.alarm_topic_arn)
    assert json.loads(definition) == json.loads(expected)
