"""What API Gateway's Cognito user pool authorizer does, locally — and nothing more.

The deployed API (`infra.constructs.api`) puts one `COGNITO_USER_POOLS` authorizer per audience
on every non-public method, with the OAuth scopes `catalog.Route.gateway_scopes` declares. This
module reproduces exactly what that authorizer checks, from the same declaration; everything
else a token must satisfy (its app client, its groups, its dates) is checked by the function
(`custody.access_control.authorization`), which runs the same code locally and in AWS.

A request reaches the function only when all of these hold, else it is refused with API
Gateway's `401 Unauthorized` before any function runs:

* the `Authorization` header holds a JWS signed with RS256 by a key of the user pool's JWKS
  (fetched from the moto server and cached per pool);
* `iss` is that user pool — the pool of the route's audience;
* it has not expired (`exp`);
* on a method with scopes: it is an access token whose `scope` holds one of them ("The method
  invocation is authorized if any method scopes matches a claimed scope in the access token",
  API Gateway, `Method.authorizationScopes`); on a method without: it is an ID token ("If you
  didn't configure any scopes on the API Gateway method, then make sure that you use a valid
  ID token", AWS Knowledge Center, api-gateway-cognito-401-unauthorized).

It does not check `aud`/`client_id` (the authorizer has no `identityValidationExpression`),
`cognito:groups`, `nbf` or `iat`: API Gateway's authorizer does not either.
`tests/infra/test_devstack_parity.py` holds it to the synthesized template, and
`tests/integration/stack/test_gateway_auth.py` to this list.

The claims handed to the function are rendered the way the REST API's Cognito authorizer renders
them: every value a string, `exp`/`iat` as dates, lists comma-joined. Nothing a token carries
can make this module fail with anything but `Unauthorized`.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.util import urlsafe_b64decode

from custody.access_control.authorization import CLAIM_DATE_FORMAT
from custody.declared.catalog import Audience, Route, TokenUse

ALGORITHMS: Final = ("RS256",)

Fetch = Callable[[str], bytes]


class Unauthorized(Exception):
    """401: no token, or one the route's authorizer does not accept."""


@dataclass(frozen=True)
class UserPool:
    """The user pool an audience's authorizer trusts: its issuer and where its signing keys are."""

    issuer: str
    jwks_url: str


@dataclass(frozen=True)
class MethodAuthorization:
    """A method's `COGNITO_USER_POOLS` authorizer: its pool, and the method's OAuth scopes (full names)."""

    pool: UserPool
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class Principal:
    audience: Audience
    claims: dict[str, Any]

    def authorizer_claims(self) -> dict[str, str]:
        return render_claims(self.claims)


def render_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """A token's claims as the REST API's Cognito authorizer hands them to the function."""
    return {str(name): _render_claim(str(name), value) for name, value in claims.items()}


def urllib_fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - the local moto server
        body: bytes = response.read()
        return body


class JwksCache:
    """A user pool's signing keys, fetched once and re-fetched when an unknown `kid` shows up."""

    def __init__(self, fetch: Fetch = urllib_fetch, min_refetch_seconds: float = 30.0) -> None:
        self._fetch = fetch
        self._min_refetch = min_refetch_seconds
        self._lock = threading.Lock()
        self._sets: dict[str, tuple[KeySet, float]] = {}

    def keys(self, url: str, kid: str | None) -> KeySet:
        with self._lock:
            cached = self._sets.get(url)
            stale = cached is not None and kid is not None and not _has_kid(cached[0], kid)
            if cached is None or (stale and time.monotonic() - cached[1] >= self._min_refetch):
                key_set = KeySet.import_key_set(json.loads(self._fetch(url)))
                cached = (key_set, time.monotonic())
                self._sets[url] = cached
            return cached[0]


def _has_kid(key_set: KeySet, kid: str) -> bool:
    return any(key.kid == kid for key in key_set.keys)


class TokenVerifier:
    """The Cognito authorizers of the API: one per audience, scopes per route (`prefix` names them)."""

    def __init__(
        self,
        pools: Mapping[Audience, UserPool],
        prefix: str,
        jwks: JwksCache | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._pools = dict(pools)
        self._prefix = prefix
        self._jwks = jwks or JwksCache()
        self._clock = clock

    def rule(self, route: Route) -> MethodAuthorization | None:
        """What the route's method authorizer checks (None: a public method, no authorizer)."""
        if route.audience is Audience.PUBLIC:
            return None
        pool = self._pools.get(route.audience)
        if pool is None:
            raise Unauthorized(f"no user pool is configured for {route.audience.value} routes")
        return MethodAuthorization(pool, route.gateway_scopes(self._prefix))

    def authorize(self, route: Route, authorization: str | None) -> Principal | None:
        """The caller's principal for `route`; None for a public route. Raises `Unauthorized`."""
        rule = self.rule(route)
        if rule is None:
            return None
        claims = self.verify(rule.pool, _bearer(authorization))
        scopes = rule.scopes
        try:
            if scopes:
                granted = claims.get("scope")
                if claims.get("token_use") != TokenUse.ACCESS.value or not isinstance(granted, str):
                    raise Unauthorized("the method's scopes need an access token")
                if not set(granted.split()) & set(scopes):
                    raise Unauthorized("none of the method's scopes")
            elif claims.get("token_use") != TokenUse.ID.value:
                raise Unauthorized("a method without scopes takes an ID token")
        except (TypeError, AttributeError):
            raise Unauthorized("malformed claims") from None
        return Principal(route.audience, claims)

    def verify(self, pool: UserPool, token: str) -> dict[str, Any]:
        """The claims of a token the pool signed, that is the pool's and has not expired."""
        kid = _unverified_kid(token)
        try:
            decoded = jwt.decode(token, self._jwks.keys(pool.jwks_url, kid), algorithms=list(ALGORITHMS))
        except (JoseError, ValueError, TypeError, KeyError) as error:
            raise Unauthorized(f"signature not verified ({type(error).__name__})") from None
        if decoded.header.get("alg") not in ALGORITHMS:
            raise Unauthorized("algorithm not allowed")
        claims = dict(decoded.claims)
        if claims.get("iss") != pool.issuer:
            raise Unauthorized("issuer is not this route's user pool")
        expires = claims.get("exp")
        if isinstance(expires, bool) or not isinstance(expires, int | float) or expires <= self._clock():
            raise Unauthorized("token expired")
        return claims


def _bearer(authorization: str | None) -> str:
    """The token of an `Authorization` header: `Bearer <jwt>`, or the bare JWT Cognito's authorizer accepts."""
    if not authorization:
        raise Unauthorized("no Authorization header")
    value = authorization.strip()
    scheme, _, rest = value.partition(" ")
    token = rest.strip() if scheme.lower() == "bearer" else value
    if not token or " " in token:
        raise Unauthorized("malformed Authorization header")
    return token


def _unverified_kid(token: str) -> str | None:
    """The header's `kid`, read before verification only to pick the key."""
    head = token.split(".", 1)[0]
    try:
        header = json.loads(urlsafe_b64decode(head.encode()))
    except (ValueError, TypeError, UnicodeError) as error:
        raise Unauthorized(f"malformed token ({type(error).__name__})") from None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None


_DATE_CLAIMS: Final = frozenset({"exp", "iat"})


def _render_claim(name: str, value: Any) -> str:
    if name in _DATE_CLAIMS and isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return time.strftime(CLAIM_DATE_FORMAT, time.gmtime(value))
        except (OverflowError, OSError, ValueError):
            return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_render_claim("", item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)
