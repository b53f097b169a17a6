"""Who may call a route: decided in the function, for every route, in AWS exactly as locally.

API Gateway runs first: a Cognito user pool authorizer per audience verifies the token's
signature, issuer and expiry and — on a method with OAuth scopes (`catalog.Route.oauth_scopes`)
— that the access token carries one of them, then passes the token's claims to the function in
`requestContext.authorizer.claims`, every value a string. That is all it can check: it cannot
read `cognito:groups`, nor tell two app clients of one pool apart.

`authorize(route, claims, settings)` then decides, from the catalog's declaration of the route
alone, so that a route added to the catalog is guarded without an edit here:

| check                                                             | refusal                |
| ----------------------------------------------------------------- | ---------------------- |
| a public route admits anyone                                      | —                      |
| the claims are there                                              | 401 `unauthenticated`  |
| `iss` is the audience's user pool                                 | 401                    |
| `token_use` is the audience's (`catalog.TOKEN_USE`)               | 401                    |
| `aud` (ID token) or `client_id` (access token) is the audience's  | 401                    |
|   app client (customers, staff; a processor's client is its        |                        |
|   registry agreement's principal, checked where it acts)          |                        |
| neither `iat` nor `nbf` is in the future (beyond `CLOCK_SKEW`)    | 401                    |
| one of the route's groups is in `cognito:groups`                  | 403 `forbidden`        |
| one of the route's scopes is in `scope`                           | 403                    |

The local gateway (`devstack.auth`) mirrors API Gateway and nothing more; whatever it does not
do, this module does, in both places (docs/architecture.md, "Authorization").
"""

from __future__ import annotations

import calendar
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from custody.declared import catalog
from custody.declared.catalog import Audience, Route, TokenUse
from custody.declared.errors import Forbidden, Unauthenticated
from custody.declared.ids import is_uuid
from custody.declared.settings import Settings

CLOCK_SKEW_SECONDS: Final = 300
# Audiences whose callers are users of a pool: Cognito gives each a UUID `sub`. A machine client's
# `sub` is its app client id (sub-processors).
USER_AUDIENCES: Final = frozenset({Audience.CUSTOMER, Audience.STAFF})
# How API Gateway's REST Cognito authorizer renders `exp` and `iat` ("Sun Dec 06 10:06:43 UTC 2026").
CLAIM_DATE_FORMAT: Final = "%a %b %d %H:%M:%S UTC %Y"
# A list claim arrives as one string: comma- or space-separated, perhaps in brackets.
_LIST_SEPARATORS: Final = re.compile(r"[\s,\[\]]+")


@dataclass(frozen=True)
class Trust:
    """What the tokens of an audience's routes must say of where they come from.

    `clients` empty: any app client of the pool (sub-processors: each has its own client, bound
    to its agreement in the registry).
    """

    issuer: str
    token_use: TokenUse
    clients: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Caller:
    """The authenticated caller of one request: the audience, the token's `sub`, groups and scopes."""

    audience: Audience
    subject: str = ""
    groups: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    claims: Mapping[str, str] = field(default_factory=dict)

    @property
    def actor(self) -> str:
        """How the audit ledger names the caller: `customer`, `staff/<sub>`, `processor/<sub>`, `public`."""
        if self.audience is Audience.CUSTOMER:
            return "customer"
        if self.audience is Audience.PUBLIC or not self.subject:
            return self.audience.value
        return f"{self.audience.value}/{self.subject}"


PUBLIC_CALLER: Final = Caller(Audience.PUBLIC)


def issuer(region: str, pool_id: str) -> str:
    """A Cognito user pool's `iss` (Amazon Cognito: verifying a JSON web token)."""
    return f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"


def trusts(settings: Settings) -> dict[Audience, Trust]:
    """The audiences whose user pools these settings name (an unnamed pool trusts nobody)."""
    pools = {
        Audience.CUSTOMER: (settings.customer_user_pool_id, settings.customer_client_id),
        Audience.STAFF: (settings.staff_user_pool_id, settings.staff_client_id),
        Audience.PROCESSOR: (settings.processor_user_pool_id, ""),
    }
    return {
        audience: Trust(
            issuer(settings.region, pool_id), catalog.TOKEN_USE[audience], frozenset({client} if client else ())
        )
        for audience, (pool_id, client) in pools.items()
        if pool_id
    }


def authorize(route: Route, claims: Mapping[str, Any] | None, settings: Settings, now: float | None = None) -> Caller:
    """The caller of `route`, from the claims API Gateway passed: `authenticate`, then `permit`."""
    caller = authenticate(route, claims, settings, now)
    permit(route, caller, settings)
    return caller


def authenticate(
    route: Route, claims: Mapping[str, Any] | None, settings: Settings, now: float | None = None
) -> Caller:
    """Who the claims say is calling, if they come from the route's audience; `PUBLIC_CALLER` on a public route.

    Raises `Unauthenticated` (401) when the claims are missing or do not come from the route's
    audience's pool, token type and app client, name no subject, or are dated in the future.
    Messages name the failed check, never a claim's value.
    """
    if route.audience is Audience.PUBLIC:
        return PUBLIC_CALLER
    if not claims:
        raise Unauthenticated("A valid token is required.")
    trust = trusts(settings).get(route.audience)
    if trust is None:
        raise Unauthenticated("No identity provider is configured for this route.")
    values = {str(name): str(value) for name, value in claims.items()}
    if values.get("iss") != trust.issuer:
        raise Unauthenticated("The token was not issued by this route's user pool.")
    if values.get("token_use") != trust.token_use.value:
        raise Unauthenticated(f"This route takes an {trust.token_use.value} token.")
    client = values.get("client_id" if trust.token_use is TokenUse.ACCESS else "aud", "")
    if trust.clients and client not in trust.clients:
        raise Unauthenticated("The token was issued to another app client.")
    _check_dates(values, time.time() if now is None else now)
    subject = values.get("sub", "")
    if not subject or (route.audience in USER_AUDIENCES and not is_uuid(subject)):
        raise Unauthenticated("The token carries no subject a user pool issues.")
    return Caller(
        audience=route.audience,
        subject=subject,
        groups=list_claim(values.get("cognito:groups", "")),
        scopes=frozenset(values.get("scope", "").split()),
        claims=values,
    )


def permit(route: Route, caller: Caller, settings: Settings) -> None:
    """Raises `Forbidden` (403) unless the caller holds one of the route's groups and one of its scopes."""
    if route.groups and not caller.groups & set(route.groups):
        raise Forbidden("This route needs another staff role.", {"groups": list(route.groups)})
    if route.scopes and not caller.scopes & set(route.gateway_scopes(settings.resource_prefix)):
        raise Forbidden("The token lacks the scope this route needs.", {"scopes": list(route.scopes)})


def list_claim(value: str) -> frozenset[str]:
    """A list claim as the authorizer renders it (`a,b`, `[a b]`, `a`) as a set of its items."""
    return frozenset(item for item in _LIST_SEPARATORS.split(value) if item)


def claim_time(value: str | None) -> float | None:
    """A date claim in seconds since the epoch: a finite number, or the authorizer's rendering; None if neither.

    `nan` and `inf` parse as floats but are no moment: they are None, so no comparison with them
    can pass a date check.
    """
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        pass
    else:
        return number if math.isfinite(number) else None
    try:
        return float(calendar.timegm(time.strptime(value, CLAIM_DATE_FORMAT)))
    except ValueError:
        return None


def _check_dates(claims: Mapping[str, str], now: float) -> None:
    for name in ("iat", "nbf"):
        at = claim_time(claims.get(name))
        if at is not None and at > now + CLOCK_SKEW_SECONDS:
            raise Unauthenticated("The token is dated in the future.")


def staff_scopes(groups: list[str], prefix: str) -> tuple[list[str], list[str]]:
    """(scopes to add, scopes to suppress) in a staff member's access token, given their groups.

    One scope per staff group they belong to, named on the staff resource server; every other
    group's scope is suppressed, whatever else put it there. Groups that are not staff groups
    give no scope.
    """
    every = dict(
        zip(catalog.STAFF_GROUPS, catalog.scope_names(Audience.STAFF, catalog.STAFF_GROUPS, prefix), strict=True)
    )
    granted = [scope for group, scope in every.items() if group in groups]
    return granted, [scope for scope in every.values() if scope not in granted]
