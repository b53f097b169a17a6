"""Sign people in to the local user pools and get their tokens, as a real client would.

* a customer: a confirmed user with a verified e-mail in the customer pool; ID token;
* a staff member: a user of the staff pool in one group, enrolled in TOTP MFA (moto is told
  to check the codes, `MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP`), signed in through the
  SOFTWARE_TOKEN_MFA challenge; access token (the pool's trigger put a scope per group in it);
* a sub-processor's machine client: an app client of the processor pool with a secret and the
  client-credentials grant; access token from the pool's token endpoint (`devstack.cognito`).

Passwords are random and set anew on every sign-in: nothing here needs remembering.
"""

from __future__ import annotations

import base64
import json
import secrets
import string
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

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


# (path, form fields, headers) -> (HTTP status, body): a POST to the local gateway.
TokenEndpoint = Callable[[str, Mapping[str, str], Mapping[str, str]], tuple[int, bytes]]


def token_path(pool: UserPoolInfo) -> str:
    """Where the local gateway serves the pool's OAuth 2.0 token endpoint."""
    return f"/_cognito/{pool.pool_id}/oauth2/token"


def processor_client(cognito: Any, pool: UserPoolInfo, processor_id: str) -> tuple[str, str]:
    """The sub-processor's app client (made on first use): its id and secret. Its id is what the
    registry records as the agreement's `principal` (a machine token's `sub`)."""
    name = f"processor-{processor_id}"
    found = cognito.list_user_pool_clients(UserPoolId=pool.pool_id, MaxResults=60).get("UserPoolClients", [])
    client_id = next((item["ClientId"] for item in found if item.get("ClientName") == name), None)
    if client_id is None:
        client = cognito.create_user_pool_client(
            UserPoolId=pool.pool_id,
            ClientName=name,
            GenerateSecret=True,
            AllowedOAuthFlows=["client_credentials"],
            AllowedOAuthScopes=list(pool.scopes),
            AllowedOAuthFlowsUserPoolClient=True,
        )["UserPoolClient"]
    else:
        client = cognito.describe_user_pool_client(UserPoolId=pool.pool_id, ClientId=client_id)["UserPoolClient"]
    return str(client["ClientId"]), str(client["ClientSecret"])


def processor_tokens(cognito: Any, pool: UserPoolInfo, processor_id: str, endpoint: TokenEndpoint) -> Tokens:
    """A sub-processor's access token by the client-credentials grant, as its machine would get it."""
    client_id, secret = processor_client(cognito, pool, processor_id)
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    status, body = endpoint(
        token_path(pool),
        {"grant_type": "client_credentials"},
        {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
    )
    if status != 200:
        raise SignInFailed(f"the token endpoint answered {status}: {body[:200]!r}")
    granted = json.loads(body)
    return Tokens("", str(granted["access_token"]), int(granted["expires_in"]))


def http_endpoint(api_url: str) -> TokenEndpoint:
    """Token requests to a served local gateway."""

    def post(path: str, form: Mapping[str, str], headers: Mapping[str, str]) -> tuple[int, bytes]:
        request = urllib.request.Request(  # noqa: S310 - the local gateway
            api_url + path, data=urlencode(form).encode(), headers=dict(headers), method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as error:
            return int(error.code), bytes(error.read())

    return post
