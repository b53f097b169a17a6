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

from custody.declared import catalog, naming, user_pools
from custody.declared.catalog import Audience
from custody.declared.user_pools import EMAIL, Mfa, MfaFactor, ThreatProtection, Tier
from infra.config import CustodyConfig
from infra.nag import acknowledge

Risk = cognito.CfnUserPoolRiskConfigurationAttachment
COGNITO_SENDER = "custody:cognitoDefaultEmail"
PHONE = "phone_number"

# custody.declared.user_pools speaks Cognito's names; CDK's L2 has its own for the same settings.
_MFA = {Mfa.OFF: cognito.Mfa.OFF, Mfa.OPTIONAL: cognito.Mfa.OPTIONAL, Mfa.REQUIRED: cognito.Mfa.REQUIRED}
_TIER = {
    Tier.LITE: cognito.FeaturePlan.LITE,
    Tier.ESSENTIALS: cognito.FeaturePlan.ESSENTIALS,
    Tier.PLUS: cognito.FeaturePlan.PLUS,
}
_THREAT_PROTECTION = {
    ThreatProtection.OFF: cognito.StandardThreatProtectionMode.NO_ENFORCEMENT,
    ThreatProtection.AUDIT: cognito.StandardThreatProtectionMode.AUDIT_ONLY,
    ThreatProtection.ENFORCED: cognito.StandardThreatProtectionMode.FULL_FUNCTION,
}
_RECOVERY = {
    ("verified_email",): cognito.AccountRecovery.EMAIL_ONLY,
    ("verified_phone_number",): cognito.AccountRecovery.PHONE_ONLY_WITHOUT_MFA,
    ("verified_email", "verified_phone_number"): cognito.AccountRecovery.EMAIL_AND_PHONE_WITHOUT_MFA,
    ("verified_phone_number", "verified_email"): cognito.AccountRecovery.PHONE_WITHOUT_MFA_AND_EMAIL,
}
# OIDC attribute names whose CDK `StandardAttributes` keyword differs.
_CDK_ATTRIBUTE = {
    "name": "fullname",
    "picture": "profile_picture",
    "profile": "profile_page",
    "updated_at": "last_update_time",
    "zoneinfo": "timezone",
}


class Identity(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: CustodyConfig) -> None:
        super().__init__(scope, construct_id)
        self._email = self._sender(config)
        self.customers = self._pool("Customers", config, user_pools.USER_POOLS[naming.CUSTOMER_POOL])
        self._adaptive_authentication(self.customers)
        acknowledge(
            self.customers,
            "AwsSolutions-COG2",
            "Customers pool: MFA is offered (TOTP), adaptive authentication requires it on medium-risk sign-ins "
            "and blocks high-risk ones, but it is not required of every customer: an authenticator app must "
            "never stand between a customer and seeing, correcting or erasing their own data (GDPR art. 12(2)).",
        )
        self.customer_client = self._client("WebClient", config, self.customers, naming.CUSTOMER_POOL)

        self.staff = self._pool("Staff", config, user_pools.USER_POOLS[naming.STAFF_POOL])
        for group in catalog.STAFF_GROUPS:
            cognito.CfnUserPoolGroup(
                self,
                "Group" + "".join(part.title() for part in group.split("_")),
                user_pool_id=self.staff.user_pool_id,
                group_name=group,
                description=f"Staff group {group}: routes that name it in custody.declared.catalog.",
            )
        self.staff_api = self._resource_server(config, self.staff, "StaffApi", Audience.STAFF, catalog.STAFF_GROUPS)
        self.staff_client = self._client("ConsoleClient", config, self.staff, naming.STAFF_POOL)

        # Sub-processors are machines: no users sign in; each gets its own app client (client
        # credentials for ERASURE_ACK_SCOPE) when its data-processing agreement is recorded.
        self.processors = self._pool("Processors", config, user_pools.USER_POOLS[naming.PROCESSOR_POOL])
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

    def _client(
        self, construct_id: str, config: CustodyConfig, pool: cognito.UserPool, logical: str
    ) -> cognito.UserPoolClient:
        """The pool's app client as `custody.declared.user_pools` declares it."""
        declared = user_pools.USER_POOLS[logical].client
        if declared is None:
            raise ValueError(f"custody.declared.user_pools declares no app client for the {logical} pool")
        flows = set(declared.auth_flows)
        return pool.add_client(
            construct_id,
            user_pool_client_name=declared.name(config.prefix),
            # CDK adds ALLOW_REFRESH_TOKEN_AUTH to any flow.
            auth_flows=cognito.AuthFlow(
                user_srp="ALLOW_USER_SRP_AUTH" in flows,
                user_password="ALLOW_USER_PASSWORD_AUTH" in flows,
                admin_user_password="ALLOW_ADMIN_USER_PASSWORD_AUTH" in flows,
                custom="ALLOW_CUSTOM_AUTH" in flows,
            ),
            # Sign-in is SRP (InitiateAuth); no hosted UI, so no OAuth flow at all: CDK would otherwise
            # allow the implicit grant (RFC 9700 says not to) with https://example.com as callback.
            disable_o_auth=True,
            generate_secret=False,
            prevent_user_existence_errors=declared.prevent_user_existence_errors,
            enable_token_revocation=declared.token_revocation,
            id_token_validity=Duration.minutes(declared.id_token_minutes),
            access_token_validity=Duration.minutes(declared.access_token_minutes),
            refresh_token_validity=Duration.minutes(declared.refresh_token_minutes),
            read_attributes=_client_attributes(declared.read_attributes),
            write_attributes=_client_attributes(declared.write_attributes),
        )

    def _pool(self, construct_id: str, config: CustodyConfig, pool: user_pools.UserPool) -> cognito.UserPool:
        """The pool as `custody.declared.user_pools` declares it (the e-mail sender is the stack's)."""
        signs_in_with = set(pool.sign_in_with)
        return cognito.UserPool(
            self,
            construct_id,
            user_pool_name=pool.name(config.prefix),
            self_sign_up_enabled=pool.self_sign_up,
            sign_in_aliases=cognito.SignInAliases(email=EMAIL in signs_in_with, phone=PHONE in signs_in_with),
            sign_in_case_sensitive=pool.case_sensitive,
            auto_verify=cognito.AutoVerifiedAttrs(email=EMAIL in pool.auto_verified, phone=PHONE in pool.auto_verified),
            keep_original=cognito.KeepOriginalAttrs(
                email=EMAIL in pool.keep_original, phone=PHONE in pool.keep_original
            ),
            standard_attributes=cognito.StandardAttributes(
                **{
                    _CDK_ATTRIBUTE.get(attribute.name, attribute.name): cognito.StandardAttribute(
                        required=attribute.required, mutable=attribute.mutable
                    )
                    for attribute in pool.attributes
                }
            ),
            user_verification=cognito.UserVerificationConfig(
                email_style=cognito.VerificationEmailStyle.CODE,
                email_subject=pool.verification.email_subject,
                email_body=pool.verification.email_message,
                sms_message=pool.verification.sms_message,
            ),
            mfa=_MFA[pool.mfa],
            mfa_second_factor=cognito.MfaSecondFactor(
                otp=MfaFactor.TOTP in pool.mfa_factors,
                sms=MfaFactor.SMS in pool.mfa_factors,
                email=MfaFactor.EMAIL in pool.mfa_factors,
            ),
            password_policy=cognito.PasswordPolicy(
                min_length=pool.password.min_length,
                require_lowercase=pool.password.require_lowercase,
                require_uppercase=pool.password.require_uppercase,
                require_digits=pool.password.require_digits,
                require_symbols=pool.password.require_symbols,
                temp_password_validity=Duration.days(pool.password.temporary_password_days),
            ),
            account_recovery=_RECOVERY[pool.recovery],
            feature_plan=_TIER[pool.tier],
            standard_threat_protection_mode=_THREAT_PROTECTION[pool.threat_protection],
            email=self._email,
            # Deletion protection would refuse a creation rollback's DeleteUserPool, so a pool is
            # retained even then: pool names need not be unique, so a leftover never blocks the retry.
            deletion_protection=pool.deletion_protection,
            removal_policy=RemovalPolicy.RETAIN,
        )


def _client_attributes(names: tuple[str, ...]) -> cognito.ClientAttributes | None:
    """CDK's attribute mask of OIDC attribute names (None: Cognito's default, every attribute)."""
    if not names:
        return None
    return cognito.ClientAttributes().with_standard_attributes(
        **{_CDK_ATTRIBUTE.get(name, name): True for name in names}
    )
