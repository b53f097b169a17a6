"""User pools, the erasure state machine, and the alarms."""

from __future__ import annotations

import json
import re
from typing import Any

from custody.declared import catalog, naming
from infra.constructs.workflow import ASL
from tests.infra.conftest import Cfn, Synthesized, as_list


def _pool(synth: Synthesized, logical: str) -> dict:
    for res in synth.cfn.of_type("AWS::Cognito::UserPool").values():
        if res["Properties"]["UserPoolName"] == f"{synth.config.prefix}-{logical}":
            return dict(res["Properties"])
    raise KeyError(logical)


def test_customer_pool_signs_in_by_verified_email_with_a_strong_password(synth: Synthesized) -> None:
    pool = _pool(synth, naming.CUSTOMER_POOL)
    assert pool["UsernameAttributes"] == ["email"]
    assert pool["AutoVerifiedAttributes"] == ["email"]
    policy = pool["Policies"]["PasswordPolicy"]
    assert policy["MinimumLength"] >= 12
    assert all(policy[flag] for flag in ("RequireLowercase", "RequireUppercase", "RequireNumbers", "RequireSymbols"))
    assert pool["UserPoolTier"] == "PLUS"


def test_customer_sign_ins_at_risk_need_mfa_or_are_blocked(synth: Synthesized) -> None:
    (risk,) = synth.cfn.of_type("AWS::Cognito::UserPoolRiskConfigurationAttachment").values()
    customers = next(
        lid
        for lid, res in synth.cfn.of_type("AWS::Cognito::UserPool").items()
        if res["Properties"]["UserPoolName"] == f"{synth.config.prefix}-{naming.CUSTOMER_POOL}"
    )
    props = risk["Properties"]
    assert Cfn.refs(props["UserPoolId"]) == {customers}
    actions = props["AccountTakeoverRiskConfiguration"]["Actions"]
    assert actions["MediumAction"]["EventAction"] == "MFA_REQUIRED"
    assert actions["HighAction"]["EventAction"] == "BLOCK"
    assert props["CompromisedCredentialsRiskConfiguration"]["Actions"]["EventAction"] == "BLOCK"


def test_staff_pool_requires_mfa_and_has_the_catalog_groups(synth: Synthesized) -> None:
    pool = _pool(synth, naming.STAFF_POOL)
    assert pool["MfaConfiguration"] == "ON"
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    groups = {res["Properties"]["GroupName"] for res in synth.cfn.of_type("AWS::Cognito::UserPoolGroup").values()}
    assert groups == set(catalog.STAFF_GROUPS)


def _pool_named(synth: Synthesized, logical: str) -> str:
    name = naming.function_name(synth.config.prefix, logical)
    return next(
        lid
        for lid, res in synth.cfn.of_type("AWS::Cognito::UserPool").items()
        if res["Properties"]["UserPoolName"] == name
    )


def test_processors_get_a_client_credentials_scope_and_staff_a_scope_per_group(synth: Synthesized) -> None:
    servers = {
        next(iter(Cfn.refs(res["Properties"]["UserPoolId"]))): res["Properties"]
        for res in synth.cfn.of_type("AWS::Cognito::UserPoolResourceServer").values()
    }
    processors = servers[_pool_named(synth, naming.PROCESSOR_POOL)]
    assert [scope["ScopeName"] for scope in processors["Scopes"]] == [catalog.ERASURE_ACK_SCOPE]
    staff = servers[_pool_named(synth, naming.STAFF_POOL)]
    assert [scope["ScopeName"] for scope in staff["Scopes"]] == list(catalog.STAFF_GROUPS)
    assert staff["Identifier"] == naming.resource_server(synth.config.prefix, "staff-api")
    assert synth.cfn.of_type("AWS::Cognito::UserPoolDomain")


def test_the_staff_pool_puts_group_scopes_into_access_tokens(synth: Synthesized) -> None:
    """Pre-token generation, event version 2 (access token customization), by the staff_tokens function."""
    config = synth.cfn.props(_pool_named(synth, naming.STAFF_POOL))["LambdaConfig"]["PreTokenGenerationConfig"]
    assert config["LambdaVersion"] == "V2_0"
    (function,) = Cfn.refs(config["LambdaArn"])
    assert synth.cfn.props(function)["FunctionName"] == naming.function_name(synth.config.prefix, "staff_tokens")
    permissions = [
        res["Properties"]
        for res in synth.cfn.of_type("AWS::Lambda::Permission").values()
        if res["Properties"]["Principal"] == "cognito-idp.amazonaws.com"
    ]
    assert [Cfn.refs(props["FunctionName"]) for props in permissions] == [{function}]
    assert Cfn.refs(permissions[0]["SourceArn"]) == {_pool_named(synth, naming.STAFF_POOL)}


def test_no_app_client_allows_the_implicit_grant_or_a_placeholder_callback(synth: Synthesized) -> None:
    """People sign in by SRP (InitiateAuth), so their clients allow no OAuth flow: CDK's default
    allowed the implicit grant, which the OAuth 2.0 Security BCP (RFC 9700, 2.1.2) says not to use,
    with https://example.com as the redirect (found by a fresh break)."""
    clients = synth.cfn.of_type("AWS::Cognito::UserPoolClient")
    assert clients
    for lid, res in clients.items():
        props = res["Properties"]
        assert "implicit" not in props.get("AllowedOAuthFlows", []), lid
        assert not any("example.com" in str(url) for url in props.get("CallbackURLs", [])), lid
        assert props.get("AllowedOAuthFlowsUserPoolClient") is not True, lid


def _machine(synth: Synthesized) -> tuple[str, dict]:
    ((lid, res),) = synth.cfn.of_type("AWS::StepFunctions::StateMachine").items()
    return lid, dict(res["Properties"])


def test_erasure_state_machine_is_standard_logged_without_data_and_traced(synth: Synthesized) -> None:
    _, props = _machine(synth)
    assert props["StateMachineType"] == "STANDARD"
    logging = props["LoggingConfiguration"]
    assert logging["Level"] == "ALL"
    assert logging["IncludeExecutionData"] is False
    (destination,) = logging["Destinations"]
    (log_group,) = Cfn.refs(destination)
    assert "KmsKeyId" in synth.cfn.props(log_group)
    assert props["TracingConfiguration"] == {"Enabled": True}


def test_every_asl_placeholder_is_substituted(synth: Synthesized) -> None:
    _, props = _machine(synth)
    placeholders = set(re.findall(r"\$\{([A-Za-z][A-Za-z0-9_]*)\}", ASL.read_text()))
    assert set(props["DefinitionSubstitutions"]) == placeholders
    json.loads(ASL.read_text())


def test_workflow_role_invokes_only_the_erasure_steps_and_publishes_only_alarms(synth: Synthesized) -> None:
    _, props = _machine(synth)
    (role,) = Cfn.refs(props["RoleArn"])
    steps = {
        lid
        for lid, res in synth.cfn.of_type("AWS::Lambda::Function").items()
        if res["Properties"]["FunctionName"] == naming.function_name(synth.config.prefix, "erasure_steps")
    }
    topics = set(synth.cfn.of_type("AWS::SNS::Topic"))
    for statement in synth.cfn.policy_statements(role):
        actions = set(as_list(statement["Action"]))
        if "lambda:InvokeFunction" in actions:
            assert actions == {"lambda:InvokeFunction"}
            assert Cfn.refs(statement["Resource"]) == steps
        if "sns:Publish" in actions:
            assert Cfn.refs(statement["Resource"]) == topics
        assert not any(action.startswith(("dynamodb:", "s3:")) for action in actions)


def test_alarms_cover_the_workflow_every_dead_letter_queue_and_api_errors(synth: Synthesized) -> None:
    alarms = [res["Properties"] for res in synth.cfn.of_type("AWS::CloudWatch::Alarm").values()]
    (topic,) = synth.cfn.of_type("AWS::SNS::Topic")
    for alarm in alarms:
        assert Cfn.refs(alarm["AlarmActions"]) == {topic}
    metrics = {(metric["Namespace"], metric["MetricName"]) for alarm in alarms for metric in _metrics_of(alarm)}
    assert ("AWS/States", "ExecutionsFailed") in metrics
    assert ("AWS/ApiGateway", "5XXError") in metrics
    queues = set(synth.cfn.of_type("AWS::SQS::Queue"))
    # The notification and admission queues hold messages by design (the age of their oldest is
    # alarmed instead); their dead-letter queues are watched.
    working = {
        naming.queue_name(naming.DEFAULT_PREFIX, name)
        for name in (naming.PROCESSOR_NOTIFICATIONS, naming.ERASURE_ADMISSIONS)
    }
    queues -= {lid for lid in queues if synth.cfn.props(lid).get("QueueName") in working}
    watched = {
        ref
        for alarm in alarms
        if alarm.get("MetricName") == "ApproximateNumberOfMessagesVisible"
        for dimension in alarm["Dimensions"]
        for ref in Cfn.refs(dimension["Value"])
    }
    assert queues
    assert watched == queues


def _metrics_of(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """An alarm's metrics: its own, or each one a metric-math alarm's expression reads."""
    if "MetricName" in alarm:
        return [alarm]
    return [query["MetricStat"]["Metric"] for query in alarm.get("Metrics", []) if "MetricStat" in query]


def test_an_unsuccessful_ending_alarms_whichever_function_recorded_it(synth: Synthesized) -> None:
    alarms = [res["Properties"] for res in synth.cfn.of_type("AWS::CloudWatch::Alarm").values()]
    (ending,) = (alarm for alarm in alarms if "ErasureEndedUnsuccessfully" in str(alarm.get("AlarmName", alarm)))
    services = {
        dimension["Value"]
        for metric in _metrics_of(ending)
        if metric["MetricName"] == "ErasureEndedUnsuccessfully"
        for dimension in metric["Dimensions"]
    }
    assert services == {f"custody-{naming.ERASURE_OUTCOMES}", f"custody-{naming.ERASURE_ADMISSION}"}
