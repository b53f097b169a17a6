"""What moto's Cognito lacks and the stack relies on: honest adapters, installed by `devstack.patches`.

* **Pre-token-generation trigger (event version 2).** A pool whose `LambdaConfig` names a
  `PreTokenGenerationConfig` with `LambdaVersion` `V2_0` has the function invoked (in-process,
  through `devstack.runtime`, as every local Lambda) before its ID and access tokens are issued,
  and its answer applied as Cognito applies it: `claimsToAddOrOverride`, `claimsToSuppress`,
  `scopesToAdd` and `scopesToSuppress` per token, and `groupOverrideDetails` for
  `cognito:groups`. One invocation serves both tokens of a sign-in or refresh, as in Cognito.
  A function error fails the sign-in with `UserLambdaValidationException`. Not modelled: the
  `TokenGeneration_*` trigger sources other than `Authentication` and `RefreshTokens`, the
  reserved claims Cognito refuses to override, and version 1 and 3 events.
* **The OAuth 2.0 token endpoint's client-credentials grant** (`client_credentials_token`),
  which moto does not serve: an app client with a secret, `client_credentials` among its
  `AllowedOAuthFlows`, gets an access token for the scopes it is allowed (all of them when the
  request names none; an unallowed scope is `invalid_scope`), with `sub` and `client_id` the
  app client's id, signed with the pool's key like moto's own tokens. The local gateway serves
  it at `POST /_cognito/<pool id>/oauth2/token` (`devstack.gateway`).
* **ID tokens' claims** (`_create_jwt`, every token moto issues): `email` is the user's e-mail
  attribute (moto wrote the name typed at sign-in, which a case-insensitive pool makes another
  spelling) and `email_verified` a boolean. Not modelled: the app client's token lifetimes
  (`IdTokenValidity`, `AccessTokenValidity`, `RefreshTokenValidity`): moto's tokens live an hour
  and its refresh tokens never expire.
* **Case-insensitive usernames** (a pool created with `UsernameConfiguration.CaseSensitive`
  false, as `custody.declared.user_pools` declares every pool): moto stores the setting and
  ignores it, so `Case.X@Example.com` and `case.x@example.com` were two users with two `sub`s.
  Here a user is found by its username and by its sign-in attributes (`UsernameAttributes`) in
  any case: sign-in, every `Admin*` call, and the existence check of `SignUp` and
  `AdminCreateUser` (so the second spelling is refused with `UsernameExistsException`); an
  e-mail a different user holds in another case cannot be given to a user
  (`AliasExistsException`, from `AdminUpdateUserAttributes` and `UpdateUserAttributes`). Case
  is compared as `str.lower` compares it. Case-sensitive pools are left to moto as they are.
  AWS: with `CaseSensitive` false "users can sign in using username, USERNAME, or UserName.
  This option also enables both preferred_username and email alias to be case insensitive, in
  addition to the username attribute" (Amazon Cognito API Reference,
  `UsernameConfigurationType`), and Cognito "treats any variation in case as the same user, and
  prevents a case variation from being assigned to the same attribute for a different user"
  (CloudFormation User Guide, `AWS::Cognito::UserPool UsernameConfiguration`; Amazon Cognito
  Developer Guide, "User pool case sensitivity"). Not modelled: the `preferred_username` alias
  (moto has no alias sign-in at all, and no pool here uses it), `ListUsers` filters (compared
  as moto compares them), and the case of what Cognito returns: the address is kept as
  entered, as the Knowledge Center's "case sensitivity of sign-in" says Cognito stores it,
  though the Developer Guide's current "User pool case sensitivity" says mixed-case values
  come back lower-cased in `GetUser`, `userInfo` and trigger events. Identify a user by `sub`
  (`custody.stores.identities` does), never by the case of an address.

Sources: Amazon Cognito Developer Guide, "Pre token generation Lambda trigger", "The token
endpoint" and "Understanding the identity (ID) token"; the claims of a machine-to-machine
access token are those it documents.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final

from joserfc import jwt
from moto.awslambda.models import lambda_backends
from moto.cognitoidp.exceptions import AliasExistsException
from moto.cognitoidp.models import CognitoIdpBackend, CognitoIdpUser, CognitoIdpUserPool, cognitoidp_backends
from moto.cognitoidp.utils import flatten_attrs
from moto.core.exceptions import JsonRESTError

from custody.declared.catalog import TokenUse
from devstack import runtime

ACCESS_TOKEN_SECONDS: Final = 3600
SIGNIN_SCOPE: Final = "aws.cognito.signin.user.admin"
EMAIL: Final = "email"
_SIGNATURE: Final = "(self, client_id, username, origin_jti)"
# What the case-insensitive lookup replaces or wraps (`patch_points` checks them).
_LOOKUP_SIGNATURES: Final = {
    (CognitoIdpUserPool, "_get_user"): "(self, username)",
    (CognitoIdpUserPool, "create_jwt"): "(self, client_id, username, token_use, expires_in, extra_data)",
    (CognitoIdpBackend, "admin_update_user_attributes"): "(self, user_pool_id, username, attributes)",
    (CognitoIdpBackend, "update_user_attributes"): "(self, access_token, attributes)",
}


class UserLambdaValidationError(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("UserLambdaValidationException", message)


class OAuthError(Exception):
    """A token endpoint refusal: `error` is the OAuth 2.0 error code, `status` the HTTP status."""

    def __init__(self, error: str, status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.status = status


# --- the pre-token-generation trigger -------------------------------------------------------


class _Answers:
    """The trigger's answer per (pool, origin_jti): the ID and access tokens of one sign-in share it."""

    def __init__(self, capacity: int = 512) -> None:
        self._lock = threading.Lock()
        self._answers: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._capacity = capacity

    def get(self, key: tuple[str, str], make: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        with self._lock:
            found = self._answers.get(key)
        if found is None:
            found = make()
            with self._lock:
                self._answers[key] = found
                while len(self._answers) > self._capacity:
                    self._answers.popitem(last=False)
        return found


_ANSWERS: Final = _Answers()


def _trigger_config(pool: CognitoIdpUserPool) -> dict[str, Any] | None:
    config = (pool.extended_config.get("LambdaConfig") or {}).get("PreTokenGenerationConfig")
    if isinstance(config, dict) and config.get("LambdaVersion") == "V2_0" and config.get("LambdaArn"):
        return config
    return None


def _invoke(pool: CognitoIdpUserPool, arn: str, event: dict[str, Any]) -> dict[str, Any]:
    from devstack.patches import spec_of  # patches installs this module: import it late

    function = lambda_backends[pool.account_id][pool.region].get_function(arn)
    outcome = runtime.invoke(spec_of(function), event)
    if outcome.errored:
        raise UserLambdaValidationError(f"PreTokenGeneration failed with error {outcome.error_type}.")
    answer = outcome.result()
    if not isinstance(answer, dict):
        raise UserLambdaValidationError("PreTokenGeneration returned an invalid response.")
    return answer


def _answer(pool: CognitoIdpUserPool, client_id: str, username: str, origin_jti: str) -> dict[str, Any] | None:
    """The trigger's `claimsAndScopeOverrideDetails` for this sign-in, or None without a trigger."""
    config = _trigger_config(pool)
    if config is None:
        return None
    user = pool._get_user(username)

    def make() -> dict[str, Any]:
        attributes = {item["Name"]: item["Value"] for item in user.attributes}
        event = {
            "version": "2",
            "triggerSource": "TokenGeneration_Authentication",
            "region": pool.region,
            "userPoolId": pool.id,
            "userName": user.username,
            "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": client_id},
            "request": {
                "userAttributes": {**attributes, "sub": user.id, "cognito:user_status": user.status},
                "groupConfiguration": {
                    "groupsToOverride": [group.group_name for group in user.groups],
                    "iamRolesToOverride": [],
                    "preferredRole": None,
                },
                "scopes": [SIGNIN_SCOPE],
            },
            "response": {"claimsAndScopeOverrideDetails": None},
        }
        answer = _invoke(pool, str(config["LambdaArn"]), event)
        return dict((answer.get("response") or {}).get("claimsAndScopeOverrideDetails") or {})

    return _ANSWERS.get((pool.id, origin_jti), make)


def _claims(user_groups: list[str], answer: dict[str, Any], kind: str, base: dict[str, Any]) -> dict[str, Any]:
    """The claims of a token of `kind` (`id` or `access`), after the trigger's answer."""
    details = answer.get(f"{kind}TokenGeneration") or {}
    claims = dict(base)
    override = answer.get("groupOverrideDetails")
    groups = list(override.get("groupsToOverride") or []) if isinstance(override, dict) else user_groups
    claims.pop("cognito:groups", None)
    if groups:
        claims["cognito:groups"] = groups
    if kind == "access":
        scopes = [scope for scope in str(claims.get("scope", "")).split() if scope]
        scopes += [scope for scope in details.get("scopesToAdd") or [] if scope not in scopes]
        claims["scope"] = " ".join(scope for scope in scopes if scope not in set(details.get("scopesToSuppress") or []))
    claims.update(details.get("claimsToAddOrOverride") or {})
    for name in details.get("claimsToSuppress") or []:
        claims.pop(name, None)
    return claims


def _create_access_token(self: CognitoIdpUserPool, client_id: str, username: str, origin_jti: str) -> tuple[str, int]:
    answer = _answer(self, client_id, username, origin_jti)
    if answer is None:
        return _ORIGINAL["access"](self, client_id, username, origin_jti)
    groups = [group.group_name for group in self._get_user(username).groups]
    extra = _claims(groups, answer, "access", {"origin_jti": origin_jti, "scope": SIGNIN_SCOPE})
    token, expires_in = self.create_jwt(client_id, username, "access", extra_data=extra)
    self.access_tokens[token] = (client_id, username)
    return token, expires_in


def _create_id_token(self: CognitoIdpUserPool, client_id: str, username: str, origin_jti: str) -> tuple[str, int]:
    answer = _answer(self, client_id, username, origin_jti)
    if answer is None:
        return _ORIGINAL["id"](self, client_id, username, origin_jti)
    user = self._get_user(username)
    base = self.get_user_extra_data_by_client_id(client_id, username)
    base["origin_jti"] = origin_jti
    base.update({item["Name"]: item["Value"] for item in user.attributes if item["Name"].startswith("custom:")})
    extra = _claims([group.group_name for group in user.groups], answer, "id", base)
    token, expires_in = self.create_jwt(client_id, username, "id", extra_data=extra)
    self.id_tokens[token] = (client_id, username)
    return token, expires_in


# --- the tokens' claims -----------------------------------------------------------------------

_VERIFIED_CLAIMS: Final = ("email_verified", "phone_number_verified")


def _create_jwt(
    self: CognitoIdpUserPool,
    client_id: str,
    username: str,
    token_use: str,
    expires_in: int = 60 * 60,
    extra_data: dict[str, Any] | None = None,
) -> tuple[str, int]:
    """moto's token, with the claims Cognito gives it.

    * an ID token's `email` is the user's e-mail attribute: moto wrote the name typed at sign-in,
      in a case-insensitive pool another spelling (`case.x@example.com` for `Case.X@Example.com`);
    * `email_verified` and `phone_number_verified` are booleans, as in Cognito's ID tokens (moto
      copied the attribute's text, `"true"`).
    """
    extra = dict(extra_data or {})
    if token_use == TokenUse.ID:
        user = self._get_user(username)
        stored = user.attribute_lookup.get(EMAIL) if user is not None else None
        if stored and EMAIL in (self.extended_config.get("UsernameAttributes") or []):
            extra.setdefault(EMAIL, stored)
        for claim in _VERIFIED_CLAIMS:
            if isinstance(extra.get(claim), str):
                extra[claim] = extra[claim].lower() == "true"
    return _ORIGINAL_LOOKUP["create_jwt"](self, client_id, username, token_use, expires_in, extra)  # type: ignore[no-any-return]


# --- case-insensitive usernames -------------------------------------------------------------


def case_sensitive(pool: CognitoIdpUserPool) -> bool:
    """Whether the pool compares usernames by case: Cognito's default when `UsernameConfiguration` is absent."""
    configuration = pool.extended_config.get("UsernameConfiguration")
    return not (isinstance(configuration, dict) and configuration.get("CaseSensitive") is False)


def _get_user(self: CognitoIdpUserPool, username: str) -> CognitoIdpUser | None:
    """moto's look-up (a sign-in attribute first, then the username), in any case when the pool says so."""
    if case_sensitive(self) or not isinstance(username, str):
        return _ORIGINAL_LOOKUP["_get_user"](self, username)  # type: ignore[no-any-return]
    wanted = username.lower()
    attribute_types = self.extended_config.get("UsernameAttributes") or []
    for user in self.users.values():
        attributes = flatten_attrs(user.attributes)
        if any(str(attributes.get(name, "")).lower() == wanted for name in attribute_types if name in attributes):
            return user
    return next((user for user in self.users.values() if str(user.username).lower() == wanted), None)


def _refuse_case_variant(pool: CognitoIdpUserPool, user: CognitoIdpUser, attributes: list[dict[str, str]]) -> None:
    """`AliasExistsException` when another user of a case-insensitive pool signs in with this e-mail in any case."""
    email = next((item.get("Value") for item in attributes if item.get("Name") == EMAIL), None)
    if not email or case_sensitive(pool) or EMAIL not in (pool.extended_config.get("UsernameAttributes") or []):
        return
    for other in pool.users.values():
        if other is not user and str(other.attribute_lookup.get(EMAIL, "")).lower() == email.lower():
            raise AliasExistsException()


def _admin_update_user_attributes(
    self: CognitoIdpBackend, user_pool_id: str, username: str, attributes: list[dict[str, str]]
) -> None:
    _refuse_case_variant(self.describe_user_pool(user_pool_id), self.admin_get_user(user_pool_id, username), attributes)
    _ORIGINAL_LOOKUP["admin_update_user_attributes"](self, user_pool_id, username, attributes)


def _update_user_attributes(self: CognitoIdpBackend, access_token: str, attributes: list[dict[str, str]]) -> None:
    for pool in self.user_pools.values():
        if access_token in pool.access_tokens:
            _, username = pool.access_tokens[access_token]
            _refuse_case_variant(pool, self.admin_get_user(pool.id, username), attributes)
            break
    _ORIGINAL_LOOKUP["update_user_attributes"](self, access_token, attributes)


_LOOKUP_REPLACEMENTS: Final[dict[tuple[type, str], Callable[..., Any]]] = {
    (CognitoIdpUserPool, "_get_user"): _get_user,
    (CognitoIdpUserPool, "create_jwt"): _create_jwt,
    (CognitoIdpBackend, "admin_update_user_attributes"): _admin_update_user_attributes,
    (CognitoIdpBackend, "update_user_attributes"): _update_user_attributes,
}


# --- installing ------------------------------------------------------------------------------

_ORIGINAL: dict[str, Callable[..., tuple[str, int]]] = {}
_ORIGINAL_LOOKUP: dict[str, Callable[..., Any]] = {}


def patch_points() -> list[str]:
    """What changed in moto around the methods this module replaces (empty: nothing)."""
    import inspect

    problems = []
    for name in ("create_access_token", "create_id_token"):
        parameters = inspect.signature(getattr(CognitoIdpUserPool, name)).parameters
        found = "(" + ", ".join(parameters) + ")"
        if found != _SIGNATURE:
            problems.append(f"CognitoIdpUserPool.{name}{found} (expected {_SIGNATURE})")
    for (owner, name), expected in _LOOKUP_SIGNATURES.items():
        method = _ORIGINAL_LOOKUP.get(name) or getattr(owner, name)
        found = "(" + ", ".join(inspect.signature(method).parameters) + ")"
        if found != expected:
            problems.append(f"{owner.__name__}.{name}{found} (expected {expected})")
    return problems


def install() -> None:
    _ORIGINAL["access"] = CognitoIdpUserPool.__dict__["create_access_token"]
    _ORIGINAL["id"] = CognitoIdpUserPool.__dict__["create_id_token"]
    CognitoIdpUserPool.create_access_token = _create_access_token  # type: ignore[method-assign]
    CognitoIdpUserPool.create_id_token = _create_id_token  # type: ignore[method-assign]
    for (owner, name), replacement in _LOOKUP_REPLACEMENTS.items():
        _ORIGINAL_LOOKUP[name] = owner.__dict__[name]
        setattr(owner, name, replacement)


def uninstall() -> None:
    if _ORIGINAL:
        CognitoIdpUserPool.create_access_token = _ORIGINAL.pop("access")  # type: ignore[method-assign]
        CognitoIdpUserPool.create_id_token = _ORIGINAL.pop("id")  # type: ignore[method-assign]
    for owner, name in _LOOKUP_REPLACEMENTS:
        if name in _ORIGINAL_LOOKUP:
            setattr(owner, name, _ORIGINAL_LOOKUP.pop(name))


# --- the client-credentials grant -----------------------------------------------------------


def _pool(pool_id: str) -> CognitoIdpUserPool:
    for regions in cognitoidp_backends.values():
        for backend in regions.values():
            found = backend.user_pools.get(pool_id)
            if found is not None:
                return found
    raise OAuthError("invalid_client", 401)


def client_credentials_token(pool_id: str, authorization: str | None, grant_type: str, scope: str | None) -> str:
    """An access token for the app client the `Basic` credentials name; raises `OAuthError`."""
    if grant_type != "client_credentials":
        raise OAuthError("unsupported_grant_type")
    client_id, secret = _basic(authorization)
    pool = _pool(pool_id)
    client = pool.clients.get(client_id)
    if client is None or not client.generate_secret or client.secret != secret:
        raise OAuthError("invalid_client", 401)
    if "client_credentials" not in (client.extended_config.get("AllowedOAuthFlows") or []):
        raise OAuthError("unauthorized_client")
    allowed = list(client.extended_config.get("AllowedOAuthScopes") or [])
    wanted = scope.split() if scope else allowed
    if not wanted or any(item not in allowed for item in wanted):
        raise OAuthError("invalid_scope")
    now = int(time.time())
    claims = {
        "sub": client_id,
        "token_use": "access",
        "scope": " ".join(wanted),
        "auth_time": now,
        "iss": f"https://cognito-idp.{pool.region}.amazonaws.com/{pool.id}",
        "exp": now + ACCESS_TOKEN_SECONDS,
        "iat": now,
        "version": 2,
        "jti": str(uuid.uuid4()),
        "client_id": client_id,
    }
    return jwt.encode({"kid": "dummy", "alg": "RS256"}, claims, pool.json_web_key)


def token_response(token: str) -> bytes:
    return json.dumps({"access_token": token, "expires_in": ACCESS_TOKEN_SECONDS, "token_type": "Bearer"}).encode()


def _basic(authorization: str | None) -> tuple[str, str]:
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "basic" or not value:
        raise OAuthError("invalid_client", 401)
    try:
        client_id, _, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        raise OAuthError("invalid_client", 401) from None
    return client_id, secret
