"""The REST API: every catalog route, the right authorizer, and the stage's protections."""

from __future__ import annotations

from typing import Any

import pytest

from custody.declared import catalog, naming
from custody.declared.catalog import Audience, Route
from tests.infra.conftest import Cfn, Synthesized, as_list


def _paths(cfn: Cfn) -> dict[str, str]:
    """logical id of each API resource -> its full path."""
    resources = cfn.of_type("AWS::ApiGateway::Resource")
    paths: dict[str, str] = {}

    def path_of(lid: str) -> str:
        if lid not in paths:
            props = resources[lid]["Properties"]
            parent = props["ParentId"]
            prefix = "" if "Fn::GetAtt" in parent else path_of(parent["Ref"])
            paths[lid] = f"{prefix}/{props['PathPart']}"
        return paths[lid]

    for lid in resources:
        path_of(lid)
    return paths


def _methods(cfn: Cfn) -> dict[tuple[str, str], dict[str, Any]]:
    paths = _paths(cfn)
    return {
        (res["Properties"]["HttpMethod"], paths[res["Properties"]["ResourceId"]["Ref"]]): res["Properties"]
        for res in cfn.of_type("AWS::ApiGateway::Method").values()
    }


def test_methods_are_exactly_the_catalog_routes(cfn: Cfn) -> None:
    assert set(_methods(cfn)) == {(route.method, route.path) for route in catalog.ROUTES}


def _pool_of_audience(synth: Synthesized, audience: Audience) -> str:
    logical = {Audience.CUSTOMER: naming.CUSTOMER_POOL, Audience.STAFF: naming.STAFF_POOL}.get(
        audience, naming.PROCESSOR_POOL
    )
    for lid, res in synth.cfn.of_type("AWS::Cognito::UserPool").items():
        if res["Properties"]["UserPoolName"] == f"{synth.config.prefix}-{logical}":
            return lid
    raise KeyError(audience)


@pytest.mark.parametrize("route", catalog.ROUTES, ids=lambda route: f"{route.method} {route.path}")
def test_each_route_is_authorized_for_its_audience_and_reaches_its_function(synth: Synthesized, route: Route) -> None:
    method = _methods(synth.cfn)[(route.method, route.path)]
    assert "RequestValidatorId" in method
    integration = method["Integration"]
    assert integration["Type"] == "AWS_PROXY"
    (function,) = Cfn.refs(integration["Uri"])
    assert synth.cfn.props(function)["FunctionName"] == naming.function_name(synth.config.prefix, route.function)
    if route.audience is Audience.PUBLIC:
        assert method["AuthorizationType"] == "NONE"
        assert "AuthorizerId" not in method
        return
    assert method["AuthorizationType"] == "COGNITO_USER_POOLS"
    (authorizer,) = Cfn.refs(method["AuthorizerId"])
    assert Cfn.refs(synth.cfn.props(authorizer)["ProviderARNs"]) == {_pool_of_audience(synth, route.audience)}
    if catalog.TOKEN_USE[route.audience] is catalog.TokenUse.ACCESS:
        # Access tokens only: the scopes are the route's groups (staff) or its declared scopes.
        assert method["AuthorizationScopes"] == list(route.gateway_scopes(synth.config.prefix))
        assert method["AuthorizationScopes"], "a method taking access tokens names its scopes"
    else:
        assert "AuthorizationScopes" not in method


def test_stage_logs_without_bodies_throttles_and_traces(synth: Synthesized) -> None:
    (stage,) = synth.cfn.of_type("AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    assert props["TracingEnabled"] is True
    (settings,) = props["MethodSettings"]
    assert settings["DataTraceEnabled"] is False
    assert settings["LoggingLevel"] == "ERROR"
    assert settings["ThrottlingRateLimit"] == synth.config.api_rate_limit
    assert settings["ThrottlingBurstLimit"] == synth.config.api_burst_limit
    assert settings["CachingEnabled"] is False
    access_format = props["AccessLogSetting"]["Format"]
    for personal in ("$context.identity.sourceIp", "$context.authorizer", "$context.path", "$context.identity.user"):
        assert personal not in access_format


def test_a_waf_acl_with_managed_rules_and_a_rate_limit_guards_the_stage(synth: Synthesized) -> None:
    (acl_id, acl), *_ = synth.cfn.of_type("AWS::WAFv2::WebACL").items()
    rules = acl["Properties"]["Rules"]
    managed = {
        rule["Statement"]["ManagedRuleGroupStatement"]["Name"]
        for rule in rules
        if "ManagedRuleGroupStatement" in rule["Statement"]
    }
    assert "AWSManagedRulesCommonRuleSet" in managed
    assert any(
        rule["Statement"].get("RateBasedStatement", {}).get("Limit") == synth.config.waf_rate_limit for rule in rules
    )
    (association,) = synth.cfn.of_type("AWS::WAFv2::WebACLAssociation").values()
    assert Cfn.refs(association["Properties"]["WebACLArn"]) == {acl_id}
    (stage,) = synth.cfn.of_type("AWS::ApiGateway::Stage")
    assert stage in Cfn.refs(association["Properties"]["ResourceArn"])
    (logging,) = synth.cfn.of_type("AWS::WAFv2::LoggingConfiguration").values()
    redacted = {field["SingleHeader"]["Name"] for field in logging["Properties"]["RedactedFields"]}
    assert redacted == {"authorization", "cookie"}


def test_gateway_errors_use_the_api_error_shape(cfn: Cfn) -> None:
    responses = cfn.of_type("AWS::ApiGateway::GatewayResponse")
    assert {res["Properties"]["ResponseType"] for res in responses.values()} >= {
        "UNAUTHORIZED",
        "DEFAULT_4XX",
        "DEFAULT_5XX",
    }
    for res in responses.values():
        template = res["Properties"]["ResponseTemplates"]["application/json"]
        for key in ('"error"', '"message"', '"details"'):
            assert key in template


def test_public_routes_are_only_lookups_by_id() -> None:
    for route in catalog.ROUTES:
        if route.audience is Audience.PUBLIC:
            assert route.method == "GET"
            assert as_list(route.path.rsplit("/", 1))[-1].startswith("{")
