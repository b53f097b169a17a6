"""The embedded local stack holds what the synthesized CDK stack holds, under the same names.

Both derive from the same declarations; this test catches the places where either side adds
something by hand: table key schemas and TTL, buckets, keys, user pools (every property),
functions (handler, runtime, sizing, environment), API routes and their authorizers, the stage,
the state machine (the same ASL file, the same placeholders bound to the same resources), and the
notices' SES templates.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwt
from moto import mock_aws
from moto.cognitoidp.models import cognitoidp_backends
from werkzeug.test import Client
from werkzeug.wrappers import Response

from custody.declared import catalog, datamap, naming, user_pools, web
from devstack import site, wiring
from devstack.auth import JwksCache, Unauthorized
from devstack.gateway import STAGE
from devstack.paths import ERASURE_ASL
from devstack.provision import (
    ASL_PLACEHOLDER,
    LOCAL_SIGN_IN_FLOWS,
    MFA_FACTOR_CONFIG,
    ClientFactory,
    client_factory,
    provision,
)
from devstack.resources import Resources
from devstack.stack import REGION, build_gateway
from infra.app import STACK_ID
from tests.infra.conftest import Cfn, Synthesized

ACCOUNT = "123456789012"
# Values that legitimately differ: CDK context (365-day Object Lock) and where the code runs.
DEPLOYMENT_SPECIFIC = {"CUSTODY_ENVIRONMENT", "CUSTODY_AUDIT_RETENTION_DAYS"}


class CognitoRequests:
    """The parameters of each Cognito call the local provisioner makes, as it made them."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.name, copy.deepcopy(params)))

    def of(self, operation: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == operation]


@pytest.fixture(scope="module")
def cognito_requests() -> CognitoRequests:
    return CognitoRequests()


@pytest.fixture(scope="module")
def local(cognito_requests: CognitoRequests) -> Iterator[tuple[Resources, ClientFactory]]:
    with mock_aws():
        clients = client_factory(REGION)
        clients("cognito-idp").meta.events.register("provide-client-params.cognito-idp", cognito_requests.record)
        yield provision(clients), clients


def _requests_fetch(url: str) -> bytes:
    """JWKS over `requests`, which `mock_aws` intercepts."""
    response = requests.get(url, timeout=10)
    response.raise_for_status()
    return response.content


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


def test_an_expiring_store_buckets_lifecycle_is_the_deployed_one(
    cfn: Cfn, local: tuple[Resources, ClientFactory]
) -> None:
    """Days to expiry, to a noncurrent version's expiry, to an unfinished upload's abort (found missing by a break)."""
    resources, clients = local

    def days(rule: dict[str, Any]) -> tuple[Any, Any, Any]:
        return (
            (rule.get("Expiration") or {}).get("Days", rule.get("ExpirationInDays")),
            (rule.get("NoncurrentVersionExpiration") or {}).get("NoncurrentDays"),
            (rule.get("AbortIncompleteMultipartUpload") or {}).get("DaysAfterInitiation"),
        )

    checked = 0
    for lid, props in _props(cfn, "AWS::S3::Bucket").items():
        store_name = Cfn.tags(cfn.resources[lid]).get("custody:store")
        store = next((item for item in datamap.bucket_stores() if item.name == store_name), None)
        if store is None or store.expiration_days is None:
            continue
        deployed = [
            (
                rule.get("ExpirationInDays"),
                rule.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays"),
                rule.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation"),
            )
            for rule in props["LifecycleConfiguration"]["Rules"]
        ]
        local_rules = clients("s3").get_bucket_lifecycle_configuration(Bucket=resources.buckets[store.name])["Rules"]
        assert [days(rule) for rule in local_rules] == deployed, store.name
        checked += 1
    assert checked == len([item for item in datamap.bucket_stores() if item.expiration_days is not None])


def test_key_aliases_and_the_alarm_topic(cfn: Cfn, local: tuple[Resources, ClientFactory]) -> None:
    resources, _ = local
    synthesized = {props["AliasName"] for props in _props(cfn, "AWS::KMS::Alias").values()}
    assert {key.alias for key in resources.keys.values()} == synthesized
    (topic,) = _props(cfn, "AWS::SNS::Topic").values()
    assert resources.alarm_topic_arn.rsplit(":", 1)[-1] == topic["TopicName"]


def test_notice_templates_and_their_sender(cfn: Cfn, local: tuple[Resources, ClientFactory]) -> None:
    """The same SES templates, part for part, and the local stack verifies the sender the functions are told."""
    resources, clients = local
    synthesized = {
        props["Template"]["TemplateName"]: props["Template"] for props in _props(cfn, "AWS::SES::Template").values()
    }
    assert set(synthesized) == set(resources.notice_templates.values())
    ses = clients("ses")
    for name, expected in synthesized.items():
        local_template = ses.get_template(TemplateName=name)["Template"]
        for part in ("SubjectPart", "TextPart", "HtmlPart"):
            assert local_template[part] == expected[part], f"{name}: {part}"
    sender = resources.environment["CUSTODY_NOTICE_SENDER"]
    assert sender in ses.list_identities(IdentityType="EmailAddress")["Identities"]


def test_user_pool_groups(cfn: Cfn, local: tuple[Resources, ClientFactory]) -> None:
    resources, _ = local
    groups = {props["GroupName"] for props in _props(cfn, "AWS::Cognito::UserPoolGroup").values()}
    assert set(resources.user_pools[naming.STAFF_POOL].groups) == groups == set(catalog.STAFF_GROUPS)


# Pool properties that are the deployment's, not the pool's: compared nowhere.
POOL_DEPLOYMENT_SPECIFIC = {
    "EmailConfiguration": "the sender: SES with custody:sesFromEmail, else Cognito's own; the local pools send no mail",
}


def _locally_requested(requests: CognitoRequests, pool_id: str, name: str) -> dict[str, Any]:
    """What the provisioner asked Cognito for, in the synthesized pool's terms (`devstack.provision.user_pool_request`):
    `PoolName` is CloudFormation's `UserPoolName`, `SetUserPoolMfaConfig` its `MfaConfiguration` and
    `EnabledMfas`, and the trigger is named by its function."""
    (created,) = [params for params in requests.of("CreateUserPool") if params["PoolName"] == name]
    found = {("UserPoolName" if key == "PoolName" else key): value for key, value in created.items()}
    mfa = [params for params in requests.of("SetUserPoolMfaConfig") if params["UserPoolId"] == pool_id]
    if mfa:
        (config,) = mfa
        found["MfaConfiguration"] = config["MfaConfiguration"]
        enabled = [factor.value for factor, key in MFA_FACTOR_CONFIG.items() if (config.get(key) or {}).get("Enabled")]
        found["EnabledMfas"] = sorted(enabled)
    else:
        found["MfaConfiguration"] = "OFF"  # Cognito's default: no call, no MFA
    trigger = found.get("LambdaConfig", {}).get("PreTokenGenerationConfig")
    if trigger:
        trigger["LambdaArn"] = trigger["LambdaArn"].rsplit(":", 1)[-1]
    return found


def _synthesized_pool(cfn: Cfn, props: dict[str, Any]) -> dict[str, Any]:
    """A synthesized pool's properties, the trigger named by its function as the local ARN names it."""
    found = copy.deepcopy(props)
    if "EnabledMfas" in found:
        found["EnabledMfas"] = sorted(found["EnabledMfas"])
    trigger = found.get("LambdaConfig", {}).get("PreTokenGenerationConfig")
    if trigger:
        (function_lid,) = Cfn.refs(trigger["LambdaArn"])
        trigger["LambdaArn"] = cfn.props(function_lid)["FunctionName"]
    return found


@pytest.mark.parametrize("declared", user_pools.USER_POOLS.values(), ids=list(user_pools.USER_POOLS))
def test_every_setting_of_a_user_pool_is_the_deployed_pools(
    cfn: Cfn, local: tuple[Resources, ClientFactory], cognito_requests: CognitoRequests, declared: user_pools.UserPool
) -> None:
    """Each pool `custody.declared.user_pools` declares: every property of the synthesized
    `AWS::Cognito::UserPool` (case sensitivity, sign-in, schema, policies, MFA, recovery, messages,
    tier, threat protection, deletion protection, tags, the trigger) is what the local provisioner
    asked Cognito for, and it asked for nothing more. A setting added on one side only fails here."""
    resources, _ = local
    name = declared.name(naming.DEFAULT_PREFIX)
    (synthesized,) = [
        props for props in _props(cfn, "AWS::Cognito::UserPool").values() if props["UserPoolName"] == name
    ]
    local_pool = resources.user_pools[declared.logical]
    requested = _locally_requested(cognito_requests, local_pool.pool_id, name)
    deployed = _synthesized_pool(cfn, synthesized)
    for key in POOL_DEPLOYMENT_SPECIFIC:
        deployed.pop(key, None)
        requested.pop(key, None)
    assert sorted(set(requested) - set(deployed)) == [], f"{name}: set locally, not deployed"
    assert sorted(set(deployed) - set(requested)) == [], f"{name}: deployed, not set locally"
    for key, value in deployed.items():
        assert requested[key] == value, f"{name}: {key}"
    assert requested["UsernameConfiguration"] == {"CaseSensitive": declared.case_sensitive}


_CLIENTS = {pool.logical: pool for pool in user_pools.USER_POOLS.values() if pool.client is not None}


def test_every_app_client_of_the_template_is_declared(cfn: Cfn) -> None:
    synthesized = {props["ClientName"] for props in _props(cfn, "AWS::Cognito::UserPoolClient").values()}
    declared = {pool.client.name(naming.DEFAULT_PREFIX) for pool in _CLIENTS.values() if pool.client is not None}
    assert synthesized == declared


@pytest.mark.parametrize("declared", _CLIENTS.values(), ids=list(_CLIENTS))
def test_every_setting_of_an_app_client_is_the_deployed_clients(
    cfn: Cfn, local: tuple[Resources, ClientFactory], cognito_requests: CognitoRequests, declared: user_pools.UserPool
) -> None:
    """Token lifetimes, attributes, flows, revocation, no secret and no OAuth: every property of the
    synthesized `AWS::Cognito::UserPoolClient` is what the local provisioner asked for, on the same
    pool, but the flows the local sign-in helpers add (`LOCAL_SIGN_IN_FLOWS`)."""
    resources, _ = local
    assert declared.client is not None
    name = declared.client.name(naming.DEFAULT_PREFIX)
    (deployed,) = [
        props for props in _props(cfn, "AWS::Cognito::UserPoolClient").values() if props["ClientName"] == name
    ]
    (requested,) = [params for params in cognito_requests.of("CreateUserPoolClient") if params["ClientName"] == name]
    deployed, requested = copy.deepcopy(deployed), copy.deepcopy(requested)
    (pool_lid,) = Cfn.refs(deployed.pop("UserPoolId"))
    assert cfn.props(pool_lid)["UserPoolName"] == declared.name(naming.DEFAULT_PREFIX)
    assert requested.pop("UserPoolId") == resources.user_pools[declared.logical].pool_id
    flows = deployed.pop("ExplicitAuthFlows")
    assert sorted(requested.pop("ExplicitAuthFlows")) == sorted([*flows, *LOCAL_SIGN_IN_FLOWS])
    assert sorted(set(requested) - set(deployed)) == [], f"{name}: set locally, not deployed"
    assert sorted(set(deployed) - set(requested)) == [], f"{name}: deployed, not set locally"
    for key, value in deployed.items():
        assert requested[key] == value, f"{name}: {key}"


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


def test_asynchronous_invocation_configs(cfn: Cfn, local: tuple[Resources, ClientFactory]) -> None:
    """Every `AWS::Lambda::EventInvokeConfig` of the template (retries, event age) is the local function's,
    and no local function has one the template lacks: the local async invoker retries as configured."""
    resources, clients = local
    names = {lid: props["FunctionName"] for lid, props in _props(cfn, "AWS::Lambda::Function").items()}
    synthesized = {}
    for props in _props(cfn, "AWS::Lambda::EventInvokeConfig").values():
        (function_lid,) = Cfn.refs(props["FunctionName"]) & set(names)
        assert props["Qualifier"] == "$LATEST"
        synthesized[names[function_lid]] = (props["MaximumRetryAttempts"], props["MaximumEventAgeInSeconds"])
    lambda_client = clients("lambda")
    provisioned = {}
    for info in resources.functions.values():
        configs = lambda_client.list_function_event_invoke_configs(FunctionName=info.name)["FunctionEventInvokeConfigs"]
        for config in configs:
            provisioned[info.name] = (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"])
    assert provisioned == synthesized
    assert naming.function_name(naming.DEFAULT_PREFIX, naming.EXPORTER) in synthesized


def _path(cfn: Cfn, resource_id: str) -> str:
    parts: list[str] = []
    current: str | None = resource_id
    while current is not None and current in cfn.resources:
        props = cfn.props(current)
        parts.append(props["PathPart"])
        parent = props["ParentId"]
        current = parent.get("Ref") if isinstance(parent, dict) else None
    return "/" + "/".join(reversed(parts))


def _synthesized_methods(cfn: Cfn) -> dict[tuple[str, str], tuple[str, str | None, tuple[str, ...]]]:
    """(method, path) -> (function name, the authorizer's pool name, the method's scopes), as deployed."""
    function_names = {lid: props["FunctionName"] for lid, props in _props(cfn, "AWS::Lambda::Function").items()}
    pool_names = {lid: props["UserPoolName"] for lid, props in _props(cfn, "AWS::Cognito::UserPool").items()}
    authorizer_pools = {
        lid: pool_names[next(iter(Cfn.refs(props["ProviderARNs"])))]
        for lid, props in _props(cfn, "AWS::ApiGateway::Authorizer").items()
        if props["Type"] == "COGNITO_USER_POOLS" and "IdentityValidationExpression" not in props
    }
    assert len(authorizer_pools) == len(_props(cfn, "AWS::ApiGateway::Authorizer")), (
        "Cognito authorizers without a token validation expression only: the local gateway models no other"
    )
    found = {}
    for props in _props(cfn, "AWS::ApiGateway::Method").values():
        (function_lid,) = Cfn.refs(props["Integration"]["Uri"]) & set(function_names)
        authorizer = (props.get("AuthorizerId") or {}).get("Ref")
        path = _path(cfn, props["ResourceId"]["Ref"])
        found[(props["HttpMethod"], path)] = (
            function_names[function_lid],
            authorizer_pools.get(authorizer),
            tuple(props.get("AuthorizationScopes") or ()),
        )
    return found


def test_the_local_gateway_authorizes_each_route_as_the_deployed_method_does(
    cfn: Cfn, local: tuple[Resources, ClientFactory]
) -> None:
    """Same function, same pool, same scopes for every method: the local authorizer's rule per
    route (`TokenVerifier.rule`) is the deployed method's, and nothing is configured beyond it."""
    resources, clients = local
    verifier = build_gateway(resources, clients("lambda"), None).verifier
    pool_names = {
        pool.issuer: clients("cognito-idp").describe_user_pool(UserPoolId=pool.pool_id)["UserPool"]["Name"]
        for pool in resources.user_pools.values()
    }
    served = {}
    for route in catalog.ROUTES:
        rule = verifier.rule(route)
        served[(route.method, route.path)] = (
            resources.functions[route.function].name,
            pool_names[rule.pool.issuer] if rule else None,
            rule.scopes if rule else (),
        )
    assert served == _synthesized_methods(cfn)


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


# --- the local authorizer checks nothing the deployed one does not ---------------------------

_ROUTES = {route.key: route for route in catalog.ROUTES if route.audience is not catalog.Audience.PUBLIC}
_ANYTHING = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.text(max_size=12),
    st.lists(st.text(max_size=6), max_size=3),
)


def _deployed_accepts(
    method: tuple[str, str | None, tuple[str, ...]], issuers: dict[str, str], claims: dict[str, Any], now: float
) -> bool:
    """What API Gateway's COGNITO_USER_POOLS authorizer admits, read off the synthesized method:
    a token of the authorizer's pool (signature, `iss`) that has not expired, and — with
    `AuthorizationScopes` — an access token claiming one of them, else an ID token."""
    _, pool_name, scopes = method
    expires = claims.get("exp")
    if claims.get("iss") != issuers[str(pool_name)] or isinstance(expires, bool):
        return False
    if not isinstance(expires, int | float) or expires <= now:
        return False
    if scopes:
        granted = claims.get("scope")
        return (
            claims.get("token_use") == "access"
            and isinstance(granted, str)
            and bool(set(granted.split()) & set(scopes))
        )
    return claims.get("token_use") == "id"


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_local_authorizer_admits_exactly_what_the_deployed_one_admits(
    cfn: Cfn, local: tuple[Resources, ClientFactory], data: st.DataObject
) -> None:
    """Tokens signed by the pools' own key with every claim varied — `aud`, `client_id`, groups,
    `nbf`, `iat`, odd types — get through the local gateway exactly when the synthesized method
    would let them through: the local gateway neither adds a check (the function makes those,
    `custody.access_control.authorization`) nor drops one."""
    resources, clients = local
    methods = _synthesized_methods(cfn)
    names = {
        clients("cognito-idp").describe_user_pool(UserPoolId=pool.pool_id)["UserPool"]["Name"]: pool
        for pool in resources.user_pools.values()
    }
    issuers = {name: pool.issuer for name, pool in names.items()}
    route = _ROUTES[data.draw(st.sampled_from(sorted(_ROUTES)), label="route")]
    method = methods[(route.method, route.path)]
    pool = names[str(method[1])]
    now = int(time.time())
    all_scopes = sorted({scope for found in methods.values() for scope in found[2]})
    claims: dict[str, Any] = {
        "iss": data.draw(st.sampled_from([pool.issuer, *issuers.values(), "https://example.com/x"]), label="iss"),
        "sub": str(uuid.uuid4()),
        "token_use": data.draw(st.sampled_from(["id", "access", "refresh", ""]), label="token_use"),
        "exp": data.draw(st.sampled_from([now + 600, now - 5, None, "tomorrow", True]), label="exp"),
        "iat": data.draw(st.sampled_from([now, now + 86_400]), label="iat"),
        "aud": data.draw(st.one_of(st.just(pool.client_id), _ANYTHING), label="aud"),
        "client_id": data.draw(st.one_of(st.just(pool.client_id), _ANYTHING), label="client_id"),
        "scope": data.draw(
            st.one_of(st.just(" ".join(method[2])), st.sampled_from(all_scopes), _ANYTHING), label="scope"
        ),
        "cognito:groups": data.draw(st.one_of(st.lists(st.sampled_from(catalog.STAFF_GROUPS)), _ANYTHING)),
        "nbf": data.draw(st.sampled_from([now - 5, now + 86_400]), label="nbf"),
        data.draw(st.text(min_size=1, max_size=8), label="extra"): data.draw(_ANYTHING),
    }
    claims = {name: value for name, value in claims.items() if value is not None}
    key = cognitoidp_backends[ACCOUNT][REGION].user_pools[pool.pool_id].json_web_key
    token = jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)
    verifier = build_gateway(resources, clients("lambda"), None, JwksCache(_requests_fetch)).verifier
    try:
        verifier.authorize(route, f"Bearer {token}")
    except Unauthorized:
        admitted = False
    else:
        admitted = True
    assert admitted == _deployed_accepts(method, issuers, claims, time.time()), claims


def test_every_event_rule_of_the_template_with_a_pattern_is_routed_by_the_local_bus(
    cfn: Cfn, local: tuple[Resources, ClientFactory]
) -> None:
    """Every enabled pattern rule of the default bus - those for `aws.states` events above all (a
    rule recording unfinished executions) - is on the local bus, with its targets the local functions;
    schedules are not routed (nothing fires them locally)."""
    resources, clients = local
    rules = _props(cfn, "AWS::Events::Rule")
    assert rules, "the template's rules (the retention schedules at least) are what this reads"
    with_pattern = {
        props["Name"] for props in rules.values() if "EventPattern" in props and props.get("State") != "DISABLED"
    }
    for_states = {name for name in with_pattern if _sources(rules, name) & {"aws.states"}}
    with wiring.from_template(resources, clients, template=cfn.template) as bus:
        routed = {rule.name: rule for rule in bus.rules}
    assert set(routed) == with_pattern
    assert for_states <= set(routed)
    assert not {props["Name"] for props in rules.values() if "ScheduleExpression" in props} & set(routed)
    local_functions = {info.arn for info in resources.functions.values()}
    for rule in routed.values():
        assert {target.function_arn for target in rule.targets} <= local_functions, rule.name


def _sources(rules: dict[str, dict[str, Any]], name: str) -> set[str]:
    (props,) = [props for props in rules.values() if props.get("Name") == name]
    return set(props["EventPattern"].get("source", []))


def test_reserved_concurrency_is_the_deployed_functions(cfn: Cfn, local: tuple[Resources, ClientFactory]) -> None:
    """The local runtime throttles each function at the reservation the template gives it (none: the account's pool)."""
    resources, clients = local
    synthesized = {
        props["FunctionName"]: props.get("ReservedConcurrentExecutions")
        for props in _props(cfn, "AWS::Lambda::Function").values()
    }
    with wiring.from_template(resources, clients, template=cfn.template):
        lambda_client = clients("lambda")
        local_reservations = {
            info.name: lambda_client.get_function_concurrency(FunctionName=info.name).get(
                "ReservedConcurrentExecutions"
            )
            for info in resources.functions.values()
        }
    assert local_reservations == synthesized


@pytest.mark.parametrize(
    ("path", "api_reference"),
    [
        ("/", False),
        ("/index.html", False),
        ("/base.css", False),
        ("/assets/privacy-center.js", False),
        ("/config.json", False),
        ("/no-such-page", False),
        ("/docs/swagger-ui.css", True),
    ],
)
def test_the_local_gateway_serves_pages_with_exactly_the_declared_security_headers(
    local: tuple[Resources, ClientFactory], path: str, api_reference: bool
) -> None:
    """The headers CloudFront's response headers policy sends (`custody.declared.web.security_headers`,
    asserted on the template by the web construct's tests) are the ones the local gateway sends: same
    names, same values, the connect-src naming the Cognito endpoint `/config.json` gives the pages."""
    resources, clients = local
    gateway = build_gateway(resources, clients("lambda"), None)
    assert gateway.pages is not None
    reply = Client(gateway, Response).get(path)
    config = site.local_config(resources, None)
    expected = web.security_headers(config.connect_sources, api_reference=api_reference)
    assert {name: reply.headers.get(name) for name in expected} == expected
    assert config.connect_sources == (web.cognito_endpoint(resources.region),)
