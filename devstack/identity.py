"""Sign people in to the local user pools and get their tokens, as a real client would.

* a customer: a confirmed user with a verified e-mail in the customer pool; ID token;
* a staff member: a user of the staff pool in one group, enrolled in TOTP MFA (moto is told
  to check the codes, `MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP`), signed in through the
  SOFTWARE_TOKEN_MFA challenge; ID token;
* a sub-processor's machine client: a user of the processor pool; access token.

Passwords are random and set anew on every sign-in: nothing here needs remembering.
"""

from __future__ import annotations

import base64
import json
import secrets
import string
import time
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP

from devstack.resources import UserPoolInfo

TOTP_DIGITS: Final = 6
TOTP_STEP_SECONDS: Final = 30


def unverified_claims(token: str) -> dict[str, Any]:
    """A JWT's payload, read without verification: for tooling that displays or addresses a token
    the local gateway verifies (never a decision of access)."""
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


class SignInFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Tokens:
    id_token: str
    access_token: str
    expires_in: int


def _password() -> str:
    """Meets the pools' policy: 12+ characters with upper, lower, digit and symbol."""
    alphabet = string.ascii_letters + string.digits
    return "Aa1!" + "".join(secrets.choice(alphabet) for _ in range(20))


def totp_code(secret: str, at: float | None = None) -> str:
    """The current code of an authenticator app holding `secret` (base32, as Cognito hands it out)."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    generated = TOTP(key, TOTP_DIGITS, SHA1(), TOTP_STEP_SECONDS, enforce_key_length=False)  # noqa: S303 - RFC 6238 uses SHA-1
    return generated.generate(time.time() if at is None else at).decode()


def _not_found(error: Exception) -> bool:
    response = getattr(error, "response", None)
    return isinstance(response, dict) and response.get("Error", {}).get("Code") == "UserNotFoundException"


def ensure_user(cognito: Any, pool: UserPoolInfo, email: str) -> None:
    """A confirmed user with a verified e-mail (created if needed)."""
    try:
        cognito.admin_get_user(UserPoolId=pool.pool_id, Username=email)
    except Exception as error:
        if not _not_found(error):
            raise
        cognito.admin_create_user(
            UserPoolId=pool.pool_id,
            Username=email,
            UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
            MessageAction="SUPPRESS",
        )


def _set_password(cognito: Any, pool: UserPoolInfo, email: str) -> str:
    password = _password()
    cognito.admin_set_user_password(UserPoolId=pool.pool_id, Username=email, Password=password, Permanent=True)
    return password


def _tokens(result: dict[str, Any]) -> Tokens:
    found = result.get("AuthenticationResult")
    if not found:
        raise SignInFailed(f"sign-in stopped at challenge {result.get('ChallengeName')!r}")
    return Tokens(found["IdToken"], found["AccessToken"], int(found.get("ExpiresIn", 3600)))


def _admin_sign_in(cognito: Any, pool: UserPoolInfo, email: str, password: str) -> dict[str, Any]:
    result: dict[str, Any] = cognito.admin_initiate_auth(
        UserPoolId=pool.pool_id,
        ClientId=pool.client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": password},
    )
    return result


def customer_tokens(cognito: Any, pool: UserPoolInfo, email: str) -> Tokens:
    ensure_user(cognito, pool, email)
    password = _set_password(cognito, pool, email)
    result = cognito.initiate_auth(
        ClientId=pool.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": password},
    )
    return _tokens(result)


def staff_tokens(cognito: Any, pool: UserPoolInfo, email: str, group: str) -> Tokens:
    if group not in pool.groups:
        raise SignInFailed(f"unknown staff group {group!r}; the groups are: {', '.join(pool.groups)}")
    ensure_user(cognito, pool, email)
    cognito.admin_add_user_to_group(UserPoolId=pool.pool_id, Username=email, GroupName=group)
    password = _set_password(cognito, pool, email)
    result = _admin_sign_in(cognito, pool, email, password)
    if result.get("AuthenticationResult"):
        # First sign-in: enrol an authenticator (TOTP), then sign in again through the MFA challenge.
        access_token = result["AuthenticationResult"]["AccessToken"]
        secret = cognito.associate_software_token(AccessToken=access_token)["SecretCode"]
        cognito.verify_software_token(AccessToken=access_token, UserCode=totp_code(secret))
        cognito.admin_set_user_mfa_preference(
            UserPoolId=pool.pool_id,
            Username=email,
            SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True},
        )
        result = _admin_sign_in(cognito, pool, email, password)
    if result.get("ChallengeName") != "SOFTWARE_TOKEN_MFA":
        raise SignInFailed(f"expected the SOFTWARE_TOKEN_MFA challenge, got {result.get('ChallengeName')!r}")
    secret = cognito.associate_software_token(Session=result["Session"])["SecretCode"]
    answered = cognito.admin_respond_to_auth_challenge(
        UserPoolId=pool.pool_id,
        ClientId=pool.client_id,
        ChallengeName="SOFTWARE_TOKEN_MFA",
        Session=result["Session"],
        ChallengeResponses={"USERNAME": email, "SOFTWARE_TOKEN_MFA_CODE": totp_code(secret)},
    )
    return _tokens(answered)


def processor_tokens(cognito: Any, pool: UserPoolInfo, processor_id: str) -> Tokens:
    """A sub-processor's machine identity, as a user of the processor pool (moto has no client-credentials grant)."""
    username = f"{processor_id}@processors.invalid"
    ensure_user(cognito, pool, username)
    password = _set_password(cognito, pool, username)
    return _tokens(_admin_sign_in(cognito, pool, username, password))
