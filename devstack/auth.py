"""What API Gateway's Cognito authorizer does, locally: verify the bearer JWT, then pass its claims.

A token is accepted only when all of these hold, else the request is refused with 401 before
any function runs:

* it is a JWS signed with RS256 (`alg: none`, HS256 and every other algorithm are refused)
  by a key of the user pool's JWKS, fetched from the moto server and cached per pool;
* `iss` is that user pool, the one the route's audience signs in with;
* `token_use` is what the audience presents (`id` for customers and staff, `access` for
  sub-processors' machine clients) and `aud` (ID token) or `client_id` (access token) is the
  pool's app client;
* it has not expired (`exp`).

A staff route that names groups (`catalog.Route.groups`) further needs one of them in
`cognito:groups`: 403 otherwise. The claims handed to the function are rendered the way the
REST API's Cognito authorizer renders them: every value a string, `exp`/`iat` as dates,
lists comma-joined.
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

from custody.catalog import Audience, Route

ALGORITHMS: Final = ("RS256",)
ID_TOKEN: Final = "id"  # noqa: S105 - a token_use value, not a secret
ACCESS_TOKEN: Final = "access"  # noqa: S105

Fetch = Callable[[str], bytes]


class Unauthorized(Exception):
    """401: no token, or a token the user pool did not issue for this audience."""


class AccessDenied(Exception):
    """403: a valid token without a group the route requires."""


@dataclass(frozen=True)
class Trust:
    """Which tokens an audience's routes accept."""

    issuer: str
    client_ids: frozenset[str]
    token_use: str
    jwks_url: str


@dataclass(frozen=True)
class Principal:
    audience: Audience
    claims: dict[str, Any]

    @property
    def groups(self) -> tuple[str, ...]:
        return _groups(self.claims)

    def authorizer_claims(self) -> dict[str, str]:
        return {name: _render_claim(name, value) for name, value in self.claims.items()}


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
    def __init__(
        self,
        trusts: Mapping[Audience, Trust],
        jwks: JwksCache | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._trusts = dict(trusts)
        self._jwks = jwks or JwksCache()
        self._clock = clock

    def authorize(self, route: Route, authorization: str | None) -> Principal | None:
        """The caller's principal for `route`; None for a public route. Raises 401/403 errors."""
        if route.audience is Audience.PUBLIC:
            return None
        trust = self._trusts.get(route.audience)
        if trust is None:
            raise Unauthorized(f"no identity provider is configured for {route.audience.value} routes")
        claims = self.verify(trust, _bearer(authorization))
        principal = Principal(route.audience, claims)
        if route.groups and not set(route.groups) & set(principal.groups):
            raise AccessDenied("none of the route's groups")
        return principal

    def verify(self, trust: Trust, token: str) -> dict[str, Any]:
        kid = _unverified_kid(token)
        try:
            decoded = jwt.decode(token, self._jwks.keys(trust.jwks_url, kid), algorithms=list(ALGORITHMS))
        except (JoseError, ValueError) as error:
            raise Unauthorized(f"signature not verified ({type(error).__name__})") from None
        if decoded.header.get("alg") not in ALGORITHMS:
            raise Unauthorized("algorithm not allowed")
        claims = dict(decoded.claims)
        if claims.get("iss") != trust.issuer:
            raise Unauthorized("issuer is not this audience's user pool")
        if claims.get("token_use") != trust.token_use:
            raise Unauthorized(f"token_use is not {trust.token_use}")
        client = claims.get("client_id") if trust.token_use == ACCESS_TOKEN else claims.get("aud")
        if client not in trust.client_ids:
            raise Unauthorized("token was issued to another app client")
        expires = claims.get("exp")
        if not isinstance(expires, int | float) or expires <= self._clock():
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
    except (ValueError, TypeError) as error:
        raise Unauthorized(f"malformed token ({type(error).__name__})") from None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None


def _groups(claims: Mapping[str, Any]) -> tuple[str, ...]:
    value = claims.get("cognito:groups")
    if isinstance(value, list):
        return tuple(str(item) for item in value)
    if isinstance(value, str) and value:
        return tuple(part.strip() for part in value.split(","))
    return ()


_DATE_CLAIMS: Final = frozenset({"exp", "iat"})


def _render_claim(name: str, value: Any) -> str:
    if name in _DATE_CLAIMS and isinstance(value, int | float):
        return time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)
