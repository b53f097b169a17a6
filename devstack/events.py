"""The events API Gateway sends a function: built once, for the local gateway and for tests.

`proxy_event` is the REST API's Lambda proxy event (payload format 1.0): the route template as
`resource`, the concrete `path`, path and query parameters with their multi-value forms,
headers, the body (base64 for binary media) and a `requestContext` with the stage, ids, the
caller's identity and — behind a Cognito authorizer — `authorizer.claims`.

`cognito_claims` is what that authorizer passes for a token of an audience's pool: the claims
Cognito puts into the token, every value rendered as a string. Tests that invoke a function
directly use both, so what they send is what AWS sends.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, Final
from urllib.parse import unquote

from custody.access_control.authorization import CLAIM_DATE_FORMAT
from custody.declared import catalog, naming
from custody.declared.catalog import Audience, Route, TokenUse
from custody.declared.settings import ENV_PREFIX
from devstack.resources import Resources

STAGE: Final = "live"
API_ID: Final = "local"
ACCOUNT_ID: Final = "123456789012"
POOL_OF: Final = {Audience.CUSTOMER: "customers", Audience.STAFF: "staff", Audience.PROCESSOR: "processors"}


def resource_id(route: Route) -> str:
    return hashlib.sha256(route.path.encode()).hexdigest()[:6]


def proxy_event(
    route: Route,
    path: str,
    *,
    path_parameters: Mapping[str, str] | None = None,
    headers: Iterable[tuple[str, str]] = (),
    query: Iterable[tuple[str, str]] = (),
    body: str | None = None,
    is_base64: bool = False,
    claims: Mapping[str, str] | None = None,
    source_ip: str = "127.0.0.1",
    host: str = "127.0.0.1:3000",
    scheme: str = "http",
    protocol: str = "HTTP/1.1",
    request_id: str | None = None,
    stage: str = STAGE,
    account_id: str = ACCOUNT_ID,
) -> dict[str, Any]:
    """The REST proxy event for a request on `route` (`headers` and `query` as ordered pairs)."""
    now = time.time()
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        single[name] = value
        multi.setdefault(name, []).append(value)
    user_agent = next((value for name, value in single.items() if name.lower() == "user-agent"), None)
    forwarded = {
        "X-Forwarded-For": source_ip,
        "X-Forwarded-Proto": scheme,
        "X-Forwarded-Port": host.rsplit(":", 1)[-1] if ":" in host else "80",
    }
    for name, value in forwarded.items():
        single.setdefault(name, value)
        multi.setdefault(name, [value])
    query_single: dict[str, str] = {}
    query_multi: dict[str, list[str]] = {}
    for name, value in query:
        query_single[name] = value
        query_multi.setdefault(name, []).append(value)
    context: dict[str, Any] = {
        "resourceId": resource_id(route),
        "resourcePath": route.path,
        "httpMethod": route.method,
        "extendedRequestId": base64.b32encode(uuid.uuid4().bytes)[:16].decode(),
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "path": f"/{stage}{path}",
        "accountId": account_id,
        "protocol": protocol,
        "stage": stage,
        "domainPrefix": host.split(".", 1)[0].split(":", 1)[0],
        "requestTimeEpoch": int(now * 1000),
        "requestId": request_id or str(uuid.uuid4()),
        "identity": {
            "cognitoIdentityPoolId": None,
            "accountId": None,
            "cognitoIdentityId": None,
            "caller": None,
            "sourceIp": source_ip,
            "principalOrgId": None,
            "accessKey": None,
            "cognitoAuthenticationType": None,
            "cognitoAuthenticationProvider": None,
            "userArn": None,
            "userAgent": user_agent,
            "user": None,
        },
        "domainName": host.split(":", 1)[0],
        "apiId": API_ID,
    }
    if claims is not None:
        context["authorizer"] = {"claims": dict(claims)}
    return {
        "resource": route.path,
        "path": path,
        "httpMethod": route.method,
        "headers": single or None,
        "multiValueHeaders": multi or None,
        "queryStringParameters": query_single or None,
        "multiValueQueryStringParameters": query_multi or None,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": None,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": is_base64,
    }


def cognito_claims(
    resources: Resources,
    audience: Audience,
    subject: str,
    *,
    groups: Iterable[str] = (),
    client_id: str | None = None,
    **extra: str,
) -> dict[str, str]:
    """The claims API Gateway passes for a valid token of `audience`'s pool, rendered as it renders them.

    Customers: an ID token of the pool's app client; staff: an access token of the console client
    with a scope per group (what the pool's trigger adds); sub-processors: a client-credentials
    access token of `client_id` (default: `subject`) with the scopes of the pool's resource server.
    `extra` adds or overrides claims.
    """
    pool = resources.user_pools[POOL_OF[audience]]
    now = int(time.time())
    claims: dict[str, str] = {
        "iss": pool.issuer,
        "sub": subject,
        "token_use": catalog.TOKEN_USE[audience].value,
        "auth_time": str(now),
        "iat": time.strftime(CLAIM_DATE_FORMAT, time.gmtime(now)),
        "exp": time.strftime(CLAIM_DATE_FORMAT, time.gmtime(now + 3600)),
        "jti": str(uuid.uuid4()),
    }
    group_list = list(groups)
    if catalog.TOKEN_USE[audience] is TokenUse.ID:
        claims["aud"] = pool.client_id
        claims["email"] = f"{subject}@example.com"
    elif audience is Audience.STAFF:
        claims["client_id"] = pool.client_id
        prefix = resources.environment.get(ENV_PREFIX + "RESOURCE_PREFIX", naming.DEFAULT_PREFIX)
        staff_groups = [group for group in group_list if group in catalog.STAFF_GROUPS]
        scopes = catalog.scope_names(audience, staff_groups, prefix)
        claims["scope"] = " ".join(["aws.cognito.signin.user.admin", *scopes])
    else:
        claims["client_id"] = client_id or subject
        claims["scope"] = " ".join(pool.scopes)
    if group_list:
        claims["cognito:groups"] = ",".join(group_list)
    claims.update(extra)
    return claims


def route_of(method: str, path: str, routes: Iterable[Route] = catalog.ROUTES) -> tuple[Route, dict[str, str]] | None:
    """The route a concrete path is a request for, and its path parameters (each `{name}` one
    segment, percent-decoded as API Gateway decodes them)."""
    parts = path.split("/")
    for route in routes:
        template = route.path.split("/")
        if route.method != method or len(template) != len(parts):
            continue
        parameters: dict[str, str] = {}
        for expected, found in zip(template, parts, strict=True):
            if expected.startswith("{") and expected.endswith("}") and found:
                parameters[expected[1:-1]] = unquote(found)
            elif expected != found:
                break
        else:
            return route, parameters
    return None
