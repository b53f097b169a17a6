"""The Cognito user pools' settings, declared once: customers, staff and sub-processors, and their app clients.

The CDK stack builds each pool from its `UserPool` (`infra.constructs.identity`); the local stack
creates each with the same settings through `CreateUserPool` and `SetUserPoolMfaConfig`
(`devstack.provision`). `tests/infra/test_devstack_parity.py` compares every property of each
synthesized `AWS::Cognito::UserPool` with what the local provisioner asked Cognito for, so a
setting added on one side only fails it. The names below are Cognito's own (CreateUserPool's and
CloudFormation's), so the two renderings are mappings, never translations of meaning.

Rules and their sources:

* **Usernames are case-insensitive** (`case_sensitive=False`, `UsernameConfiguration`):
  `Case.X@Example.com` and `case.x@example.com` are one user with one `sub`, and the second
  spelling cannot sign up again. Cognito's `CreateUserPool` defaults to case-sensitive, so it is
  declared here, never left to a default. With `CaseSensitive` false, "users can sign in using
  username, USERNAME, or UserName" and the `preferred_username` and `email` aliases are case
  insensitive too (Amazon Cognito API Reference, `UsernameConfigurationType`); Cognito "treats
  any variation in case as the same user, and prevents a case variation from being assigned to
  the same attribute for a different user" (CloudFormation, `AWS::Cognito::UserPool
  UsernameConfiguration`). The local pool does the same (`devstack.cognito`).
* **Sign-in with the e-mail address** (`sign_in_with`, Cognito's `UsernameAttributes`): the e-mail
  is the username and Cognito generates the user name itself; the customer's subject id is the
  token's `sub` (`custody.stores.identities`), never the address.
* **The e-mail is verified by a code** (`auto_verified`, `verification`) and, when changed,
  **the old address stays until the new one is verified** (`keep_original`, Cognito's
  `UserAttributeUpdateSettings`): an unverified address never becomes where a customer is reached.
* **Recovery by verified e-mail only** (`recovery`): the pools hold no phone numbers.
* **MFA by authenticator app (TOTP) only** (`mfa_factors`): optional for customers — adaptive
  authentication requires it on risky sign-ins, and an app must never stand between a customer
  and their own data (GDPR art. 12(2); the `AwsSolutions-COG2` acknowledgement in
  `infra.constructs.identity`) — and required of staff and sub-processors.
* **App clients** (`AppClient`): customers sign in through `customer-web` (tokens for an hour,
  a day's refresh; it reads the e-mail and whether it is verified, and may change the e-mail),
  staff through `staff-console` (15-minute tokens, an 8-hour refresh); both by SRP, no secret,
  no OAuth flow (no hosted UI), unknown users answered as wrong passwords, refresh tokens
  revocable. Sub-processors get one client each when their agreement is recorded.
* **Passwords**: 12 characters or more for customers, 14 for staff and sub-processors, all four
  character classes, temporary passwords valid 3 days (`PasswordPolicy`).
* **The Plus feature plan with threat protection enforced** (`tier`, `threat_protection`):
  compromised credentials are blocked, and the customer pool's adaptive authentication
  (`infra.constructs.identity`) needs the plan.
* **Deletion protection** (`deletion_protection`): a pool is never deleted with its users by a
  stack update or rollback (docs/infrastructure.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from custody.declared import naming
from custody.declared.catalog import Audience

EMAIL: Final = "email"


class Mfa(StrEnum):
    """Whether a pool's users sign in with a second factor: Cognito's `MfaConfiguration`."""

    OFF = "OFF"
    OPTIONAL = "OPTIONAL"
    REQUIRED = "ON"


class MfaFactor(StrEnum):
    """A second factor a pool offers: Cognito's names (`EnabledMfas`)."""

    TOTP = "SOFTWARE_TOKEN_MFA"
    SMS = "SMS_MFA"
    EMAIL = "EMAIL_OTP"


class Tier(StrEnum):
    """Cognito's feature plan (`UserPoolTier`)."""

    LITE = "LITE"
    ESSENTIALS = "ESSENTIALS"
    PLUS = "PLUS"


class ThreatProtection(StrEnum):
    """Threat protection of standard sign-ins: Cognito's `UserPoolAddOns.AdvancedSecurityMode`."""

    OFF = "OFF"
    AUDIT = "AUDIT"
    ENFORCED = "ENFORCED"


@dataclass(frozen=True)
class PasswordPolicy:
    """Cognito's `Policies.PasswordPolicy`.

    The minimum length, the character classes a password must contain, and how many days an
    administrator's temporary password is valid.
    """

    min_length: int
    require_lowercase: bool = True
    require_uppercase: bool = True
    require_digits: bool = True
    require_symbols: bool = True
    temporary_password_days: int = 3


@dataclass(frozen=True)
class Attribute:
    """A standard attribute of the pool's schema: one of Cognito's `Schema` entries.

    `name` is the OIDC name (`email`); `required`: every user must have it; `mutable`: it may
    change after sign-up.
    """

    name: str
    required: bool
    mutable: bool


@dataclass(frozen=True)
class Verification:
    """The verification message (by code: `{####}` stands for it), Cognito's `VerificationMessageTemplate`.

    The texts are Cognito's (and CDK's) defaults; `sms_message` is declared because Cognito keeps
    one on every pool, though these pools send no SMS.
    """

    email_subject: str = "Verify your new account"
    email_message: str = "The verification code to your new account is {####}"
    sms_message: str = "The verification code to your new account is {####}"


@dataclass(frozen=True)
class AppClient:
    """The app client people sign in through: a browser or console, so no secret and no OAuth flow.

    `logical` names it (`<prefix>-<logical>`); the tokens' lifetimes are in minutes (Cognito's
    `IdTokenValidity`, `AccessTokenValidity`, `RefreshTokenValidity`); `read_attributes` are what
    the client (and its ID tokens) may read — empty for all, Cognito's default — and
    `write_attributes` what its users may change themselves. `auth_flows` are Cognito's
    `ExplicitAuthFlows` (SRP: the password never leaves the browser); `prevent_user_existence_errors`
    answers an unknown user as a wrong password; `token_revocation` lets sign-out revoke
    refresh tokens.
    """

    logical: str
    id_token_minutes: int
    access_token_minutes: int
    refresh_token_minutes: int
    read_attributes: tuple[str, ...] = ()
    write_attributes: tuple[str, ...] = ()
    auth_flows: tuple[str, ...] = ("ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH")
    prevent_user_existence_errors: bool = True
    token_revocation: bool = True

    def name(self, prefix: str) -> str:
        """The app client's name: `<prefix>-<logical>`."""
        return f"{prefix}-{self.logical}"


@dataclass(frozen=True)
class UserPool:
    """One user pool, in Cognito's terms.

    `logical` is its `naming` name (`<prefix>-<logical>` is the pool's name) and
    `audience` the callers it signs in (`catalog.Audience`); `self_sign_up` false means only an
    administrator creates users (Cognito's `AdminCreateUserConfig.AllowAdminCreateUserOnly`).

    The fields with defaults are the same for every pool today; they are fields so that a pool's
    difference would be declared here too. Attribute names are OIDC's (`email`, `phone_number`).
    """

    logical: str
    audience: Audience
    self_sign_up: bool
    mfa: Mfa
    password: PasswordPolicy
    client: AppClient | None = None  # None: no one signs in (sub-processors are machine clients)
    case_sensitive: bool = False
    sign_in_with: tuple[str, ...] = (EMAIL,)
    auto_verified: tuple[str, ...] = (EMAIL,)
    keep_original: tuple[str, ...] = (EMAIL,)
    attributes: tuple[Attribute, ...] = (Attribute(EMAIL, required=True, mutable=True),)
    mfa_factors: tuple[MfaFactor, ...] = (MfaFactor.TOTP,)
    recovery: tuple[str, ...] = ("verified_email",)  # Cognito's recovery mechanisms, in priority order
    verification: Verification = field(default_factory=Verification)
    tier: Tier = Tier.PLUS
    threat_protection: ThreatProtection = ThreatProtection.ENFORCED
    deletion_protection: bool = True

    def __post_init__(self) -> None:
        if self.mfa is not Mfa.OFF and not self.mfa_factors:
            raise ValueError(f"{self.logical}: MFA {self.mfa.value} needs a factor")

    def name(self, prefix: str) -> str:
        """The pool's name (`naming.user_pool_name`)."""
        return naming.user_pool_name(prefix, self.logical)


USER_POOLS: Final[Mapping[str, UserPool]] = MappingProxyType(
    {
        pool.logical: pool
        for pool in (
            UserPool(
                naming.CUSTOMER_POOL,
                Audience.CUSTOMER,
                self_sign_up=True,
                mfa=Mfa.OPTIONAL,
                password=PasswordPolicy(min_length=12),
                client=AppClient(
                    "customer-web",
                    id_token_minutes=60,
                    access_token_minutes=60,
                    refresh_token_minutes=24 * 60,
                    read_attributes=(EMAIL, "email_verified"),
                    write_attributes=(EMAIL,),
                ),
            ),
            UserPool(
                naming.STAFF_POOL,
                Audience.STAFF,
                self_sign_up=False,
                mfa=Mfa.REQUIRED,
                password=PasswordPolicy(min_length=14),
                client=AppClient(
                    "staff-console", id_token_minutes=15, access_token_minutes=15, refresh_token_minutes=8 * 60
                ),
            ),
            # Sub-processors are machines (app clients with client credentials); the pool has no users
            # today, and would hold them to the staff's rules.
            UserPool(
                naming.PROCESSOR_POOL,
                Audience.PROCESSOR,
                self_sign_up=False,
                mfa=Mfa.REQUIRED,
                password=PasswordPolicy(min_length=14),
            ),
        )
    }
)
