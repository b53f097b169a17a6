"""The REST API: one method per `custody.declared.catalog.ROUTES` entry, a Cognito authorizer per audience.

Access logs hold no personal data (the resource template, never the path with its ids; no
caller IP, no subject); execution logs are errors only and never carry bodies; a WAF web ACL
guards the stage, and its logs keep only the requests it blocked or counted, headers redacted.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from custody.declared import catalog
from custody.declared.catalog import Audience, Route
from infra.config import CustodyConfig
from infra.constructs.identity import Identity
from infra.constructs.loggroups import encrypted_log_group
from infra.nag import acknowledge, acknowledge_in_packs, checkov_skip

ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTimeEpoch",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "latencyMs": "$context.responseLatency",
    "integrationStatus": "$context.integration.status",
    "errorType": "$context.error.responseType",
    "wafStatus": "$context.waf.status",
    "traceId": "$context.xrayTraceId",
}

APIGATEWAY_LOGS_POLICY = "service-role/AmazonAPIGatewayPushToCloudWatchLogs"

_MANAGED_RULE_GROUPS = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
)


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: CustodyConfig,
        identity: Identity,
        handlers: Callable[[str], lambda_.IFunction],
        log_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        access_logs = encrypted_log_group(self, "AccessLogs", key=log_key, days=config.log_retention_days)
        self.rest_api = apigateway.RestApi(
            self,
            "RestApi",
            rest_api_name=config.name("api"),
            description="CRM Custody: customers' data, held with their consent.",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            cloud_watch_role=False,
            deploy_options=apigateway.StageOptions(
                stage_name=config.stage_name,
                access_log_destination=apigateway.LogGroupLogDestination(access_logs),
                access_log_format=apigateway.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FORMAT)),
                logging_level=apigateway.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                metrics_enabled=True,
                tracing_enabled=True,
                throttling_rate_limit=config.api_rate_limit,
                throttling_burst_limit=config.api_burst_limit,
                caching_enabled=False,
            ),
        )
        checkov_skip(
            self.rest_api.deployment_stage,
            "CKV_AWS_120",
            "Caching is off on purpose: a cached response is a copy of a customer's data outside the data map, "
            "which erasure could not reach and which would outlive a withdrawal.",
        )
        if config.manage_api_gateway_account:
            self._execution_logs(config, log_key)
        self._gateway_responses()
        validator = self.rest_api.add_request_validator(
            "Validator", validate_request_body=True, validate_request_parameters=True
        )
        authorizers = {
            Audience.CUSTOMER: identity.customers,
            Audience.STAFF: identity.staff,
            Audience.PROCESSOR: identity.processors,
        }
        self.authorizers = {
            audience: apigateway.CognitoUserPoolsAuthorizer(
                self, f"{audience.value.title()}Authorizer", cognito_user_pools=[pool]
            )
            for audience, pool in authorizers.items()
        }
        integrations: dict[str, apigateway.LambdaIntegration] = {}
        self.methods: dict[tuple[str, str], apigateway.Method] = {}
        for route in catalog.ROUTES:
            integration = integrations.setdefault(
                route.function, apigateway.LambdaIntegration(handlers(route.function), allow_test_invoke=False)
            )
            self.methods[(route.method, route.path)] = self._method(route, integration, validator, config)
        self._firewall(config, log_key)
        acknowledge_in_packs(
            self.rest_api.deployment_stage,
            "APIGWCacheEnabledAndEncrypted",
            "The API stage has no cache on purpose: a cache would keep copies of access reports and profiles "
            "after a customer withdrew, outside the data map and beyond the erasure workflow's reach.",
        )
        acknowledge_in_packs(
            self.rest_api.deployment_stage,
            "APIGWSSLEnabled",
            "The API stage's only backends are Lambda proxy integrations, invoked through the Lambda API with "
            "IAM-signed requests; API Gateway client certificates authenticate HTTP backends only.",
        )

    def _method(
        self,
        route: Route,
        integration: apigateway.LambdaIntegration,
        validator: apigateway.IRequestValidator,
        config: CustodyConfig,
    ) -> apigateway.Method:
        resource = self.rest_api.root.resource_for_path(route.path)
        parameters = {f"method.request.path.{name}": True for name in _path_parameters(route.path)}
        if route.audience is Audience.PUBLIC:
            method = resource.add_method(
                route.method,
                integration,
                authorization_type=apigateway.AuthorizationType.NONE,
                request_validator=validator,
                request_parameters=parameters or None,
            )
            reason = (
                f"{route.method} {route.path} is public by design (DESIGN.md): request status must stay "
                "readable after the customer's account is deleted; it is looked up by an unguessable id and "
                "returns no personal data."
            )
            acknowledge(method, "AwsSolutions-APIG4", reason)
            checkov_skip(method, "CKV_AWS_59", reason)
            acknowledge(method, "AwsSolutions-COG4", reason)
            return method
        return resource.add_method(
            route.method,
            integration,
            authorization_type=apigateway.AuthorizationType.COGNITO,
            authorizer=self.authorizers[route.audience],
            # The scopes are resource-server names the Identity construct creates from the same
            # declaration; with them API Gateway takes access tokens only (catalog.TOKEN_USE).
            authorization_scopes=list(route.gateway_scopes(config.prefix)) or None,
            request_validator=validator,
            request_parameters=parameters or None,
        )

    def _execution_logs(self, config: CustodyConfig, log_key: kms.IKey) -> None:
        """Create the stage's execution log group ourselves (encrypted, with a retention) and set the
        region's API Gateway CloudWatch role, an account setting every REST API of the region shares.

        The role is the one AWS documents for that setting (AmazonAPIGatewayPushToCloudWatchLogs), so the
        other APIs of the region keep their logs when this stack sets it; it is retained, even when a
        first deploy rolls back, because the setting would otherwise name a deleted role.
        """
        stage = self.rest_api.deployment_stage
        name = f"API-Gateway-Execution-Logs_{self.rest_api.rest_api_id}/{config.stage_name}"
        execution_logs = encrypted_log_group(
            self, "ExecutionLogs", key=log_key, days=config.log_retention_days, name=name
        )
        stage.node.add_dependency(execution_logs)
        role = iam.Role(
            self,
            "LoggingRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            description="API Gateway's CloudWatch role for every REST API of this region (an account setting).",
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(APIGATEWAY_LOGS_POLICY)],
        )
        role.apply_removal_policy(RemovalPolicy.RETAIN)
        account = apigateway.CfnAccount(self, "LoggingAccount", cloud_watch_role_arn=role.role_arn)
        account.apply_removal_policy(RemovalPolicy.RETAIN)
        stage.node.add_dependency(account)
        acknowledge(
            role,
            f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{APIGATEWAY_LOGS_POLICY}]",
            "API Gateway's CloudWatch role is a region-wide account setting shared by every REST API of the "
            "account; AWS documents AmazonAPIGatewayPushToCloudWatchLogs for it, and a role scoped to this API's "
            "log groups would silence the others. Only apigateway.amazonaws.com can assume it.",
        )

    @staticmethod
    def _log_groups_arn(name: str = "*") -> str:
        return f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:{name}"

    def _gateway_responses(self) -> None:
        for response_type, code in catalog.GATEWAY_RESPONSES.items():
            # $context.error.messageString is already a quoted JSON string.
            body = f'{{"error": "{code}", "message": $context.error.messageString, "details": {{}}}}'
            self.rest_api.add_gateway_response(
                f"{response_type.title().replace('_', '')}Response",
                type=apigateway.ResponseType.of(response_type),
                templates={"application/json": body},
            )

    def _firewall(self, config: CustodyConfig, log_key: kms.IKey) -> None:
        rules = [
            wafv2.CfnWebACL.RuleProperty(
                name=group,
                priority=priority,
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS",
                        name=group,
                        # Documents arrive as JSON bodies larger than the common rule set's 8 KB limit;
                        # API Gateway's 10 MB cap and the functions' validation bound them instead.
                        rule_action_overrides=[
                            wafv2.CfnWebACL.RuleActionOverrideProperty(
                                name="SizeRestrictions_BODY",
                                action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={}),
                            )
                        ]
                        if group == "AWSManagedRulesCommonRuleSet"
                        else None,
                    )
                ),
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                visibility_config=_visibility(group),
            )
            for priority, group in enumerate(_MANAGED_RULE_GROUPS)
        ]
        rules.append(
            wafv2.CfnWebACL.RuleProperty(
                name="RateLimitPerClient",
                priority=len(rules),
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        limit=config.waf_rate_limit, aggregate_key_type="IP", evaluation_window_sec=300
                    )
                ),
                action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                visibility_config=_visibility("RateLimitPerClient"),
            )
        )
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=config.name("api"),
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            rules=rules,
            visibility_config=_visibility(config.name("api")),
        )
        wafv2.CfnWebACLAssociation(
            self,
            "WebAclAssociation",
            resource_arn=self.rest_api.deployment_stage.stage_arn,
            web_acl_arn=self.web_acl.attr_arn,
        )
        # WAF logs to CloudWatch only into groups named aws-waf-logs-*.
        waf_log_group = f"aws-waf-logs-{config.prefix}"
        waf_logs = encrypted_log_group(
            self, "WafLogs", key=log_key, days=config.waf_log_retention_days, name=waf_log_group
        )
        waf_logging = wafv2.CfnLoggingConfiguration(
            self,
            "WafLogging",
            resource_arn=self.web_acl.attr_arn,
            log_destination_configs=[self._log_groups_arn(waf_log_group)],
            redacted_fields=[
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": header})
                for header in ("authorization", "cookie")
            ],
            logging_filter={
                "DefaultBehavior": "DROP",
                "Filters": [
                    {
                        "Behavior": "KEEP",
                        "Requirement": "MEETS_ANY",
                        "Conditions": [
                            {"ActionCondition": {"Action": "BLOCK"}},
                            {"ActionCondition": {"Action": "COUNT"}},
                        ],
                    }
                ],
            },
        )

        waf_logging.node.add_dependency(waf_logs)


def _visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric.replace("-", ""), sampled_requests_enabled=False
    )


def _path_parameters(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]
