"""Cognito: the customer pool, the staff pool (MFA required, groups from the catalog) and the
sub-processor pool, whose machine clients get tokens by client credentials for one scope.

The staff pool's resource server has one OAuth scope per staff group; its pre-token-generation
trigger (`staff_tokens`, event version 2) puts the scopes of the user's groups into their access
tokens, so API Gateway checks a staff route's groups before the function runs.
"""

from __future__ import annotations

from aws_cdk import Annotations, Aws, Duration, RemovalPolicy
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from custody.declared import catalog, naming
from custody.declared.catalog import Audience
from infra.config import CustodyConfig
from infra.nag import acknowledge

Risk = cognito.CfnUserPoolRiskConfigurationAttachment
COGNITO_SENDER = "custody:cognitoDefaultEmail"


class Identity(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: CustodyConfig) -> None:
        super().__init__(scope, construct_id)
        self._email = self._sender(config)
        self.customers = self._pool(
            "Customers",
            config.name(naming.CUSTOMER_POOL),
            self_sign_up=True,
            mfa=cognito.Mfa.OPTIONAL,
            min_length=12,
        )
        self._adaptive_authentication(self.customers)
        acknowledge(
            self.customers,
            "AwsSolutions-COG2",
            "Customers pool: MFA is offered (TOTP), adaptive authentication requires it on medium-risk sign-ins "
            "and blocks high-risk ones, but it is not required of every customer: an authenticator app must "
            "never stand between a customer and seeing, correcting or erasing their own data (GDPR art. 12(2)).",
        )
        self.customer_client = self.customers.add_client(
            "WebClient",
            user_pool_client_name=config.name("customer-web"),
            auth_flows=cognito.AuthFlow(user_srp=True),
            # Sign-in is SRP (InitiateAuth); no hosted UI, so no OAuth flow at all: CDK would otherwise
            # allow the implicit grant (RFC 9700 says not to) with https://example.com as callback.
            disable_o_auth=True,
            generate_secret=False,
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            id_token_validity=Duration.minutes(60),
            access_token_validity=Duration.minutes(60),
            refresh_token_validity=Duration.days(1),
            read_attributes=cognito.ClientAttributes().with_standard_attributes(email=True, email_verified=True),
            write_attributes=cognito.ClientAttributes().with_standard_attributes(email=True),
        )

        self.staff = self._pool(
            "Staff", config.name(naming.STAFF_POOL), self_sign_up=False, mfa=cognito.Mfa.REQUIRED, min_length=14
        )
        for group in catalog.STAFF_GROUPS:
            cognito.CfnUserPoolGroup(
                self,
                "Group" + "".join(part.title() for part in group.split("_")),
                user_pool_id=self.staff.user_pool_id,
                group_name=group,
                description=f"Staff group {group}: routes that name it in custody.declared.catalog.",
            )
        self.staff_api = self._resource_server(config, self.staff, "StaffApi", Audience.STAFF, catalog.STAFF_GROUPS)
        self.staff_client = self.staff.add_client(
            "ConsoleClient",
            user_pool_client_name=config.name("staff-console"),
            auth_flows=cognito.AuthFlow(user_srp=True),
            # Sign-in is SRP (InitiateAuth); no hosted UI, so no OAuth flow at all: CDK would otherwise
            # allow the implicit grant (RFC 9700 says not to) with https://example.com as callback.
            disable_o_auth=True,
            generate_secret=False,
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            id_token_validity=Duration.minutes(15),
            access_token_validity=Duration.minutes(15),
            refresh_token_validity=Duration.hours(8),
        )

        # Sub-processors are machines: no users sign in; each gets its own app client (client
        # credentials for ERASURE_ACK_SCOPE) when its data-processing agreement is recorded.
        self.processors = self._pool(
            "Processors",
            config.name(naming.PROCESSOR_POOL),
            self_sign_up=False,
            mfa=cognito.Mfa.REQUIRED,
            min_length=14,
        )
        self.processor_api = self._resource_server(
            config, self.processors, "ProcessorApi", Audience.PROCESSOR, (catalog.ERASURE_ACK_SCOPE,)
        )
        self.processors.add_domain(
            "TokenDomain",
            cognito_domain=cognito.CognitoDomainOptions(domain_prefix=f"{config.prefix}-processors-{Aws.ACCOUNT_ID}"),
        )

    def _sender(self, config: CustodyConfig) -> cognito.UserPoolEmail | None:
        """SES sends the pools' e-mail when configured; else Cognito's own sender, with a warning."""
        if config.ses_from_email:
            return cognito.UserPoolEmail.with_ses(from_email=config.ses_from_email, ses_region=Aws.REGION)
        Annotations.of(self).add_warning_v2(
            COGNITO_SENDER,
            "The user pools send e-mail with Cognito's default sender, which allows only a small number of messages "
            "a day: set custody:sesFromEmail to a verified SES address before customers sign up in production.",
        )
        return None

    def _adaptive_authentication(self, pool: cognito.UserPool) -> None:
        def actions(event_action: str) -> Risk.AccountTakeoverActionTypeProperty:
            return Risk.AccountTakeoverActionTypeProperty(event_action=event_action, notify=False)

        Risk(
            self,
            "CustomerRisk",
            user_pool_id=pool.user_pool_id,
            client_id="ALL",
            account_takeover_risk_configuration=Risk.AccountTakeoverRiskConfigurationTypeProperty(
                actions=Risk.AccountTakeoverActionsTypeProperty(
                    low_action=actions("MFA_IF_CONFIGURED"),
                    medium_action=actions("MFA_REQUIRED"),
                    high_action=actions("BLOCK"),
                )
            ),
            compromised_credentials_risk_configuration=Risk.CompromisedCredentialsRiskConfigurationTypeProperty(
                actions=Risk.CompromisedCredentialsActionsTypeProperty(event_action="BLOCK")
            ),
        )

    @staticmethod
    def _resource_server(
        config: CustodyConfig, pool: cognito.UserPool, construct_id: str, audience: Audience, scopes: tuple[str, ...]
    ) -> cognito.UserPoolResourceServer:
        identifier = naming.resource_server(config.prefix, catalog.RESOURCE_SERVERS[audience])
        return pool.add_resource_server(
            construct_id,
            identifier=identifier,
            user_pool_resource_server_name=identifier,
            scopes=[
                cognito.ResourceServerScope(
                    scope_name=scope, scope_description=f"CRM Custody {audience.value}: {scope}"
                )
                for scope in scopes
            ],
        )

    def add_staff_token_trigger(self, trigger: lambda_.IFunction) -> None:
        """Cognito calls `trigger` before it issues staff tokens (event version 2: access tokens too)."""
        self.staff.add_trigger(
            cognito.UserPoolOperation.PRE_TOKEN_GENERATION_CONFIG, trigger, cognito.LambdaVersion.V2_0
        )

    def _pool(
        self, construct_id: str, name: str, *, self_sign_up: bool, mfa: cognito.Mfa, min_length: int
    ) -> cognito.UserPool:
        return cognito.UserPool(
            self,
            construct_id,
            user_pool_name=name,
            self_sign_up_enabled=self_sign_up,
            sign_in_aliases=cognito.SignInAliases(email=True),
            sign_in_case_sensitive=False,
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            keep_original=cognito.KeepOriginalAttrs(email=True),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)
            ),
            mfa=mfa,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            password_policy=cognito.PasswordPolicy(
                min_length=min_length,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            email=self._email,
            # Deletion protection would refuse a creation rollback's DeleteUserPool, so a pool is
            # retained even then: pool names need not be unique, so a leftover never blocks the retry.
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
