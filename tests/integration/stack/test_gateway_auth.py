"""The local gateway's Cognito authorizer: only tokens the right user pool issued get through."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from moto.cognitoidp.models import cognitoidp_backends
from werkzeug.test import Client

from custody.declared import naming
from devstack import identity
from devstack.gateway import Gateway
from devstack.runtime import Invocation
from tests.integration.conftest import LocalStack

ACCOUNT = "123456789012"
UNAUTHORIZED = {"error": "unauthenticated", "message": "Unauthorized", "details": {}}
MISSING_TOKEN = {"error": "not_found", "message": "Missing Authentication Token", "details": {}}
REGION = "us-east-1"


class Recorder:
    """Stands in for the Lambda service: records the event, answers 200."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, function_name: str, event: Any) -> Invocation:
        self.events.append((function_name, event))
        body = {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"}
        return Invocation("req", json.dumps(body).encode(), None, 1.0)


@pytest.fixture
def recorded(local_stack: LocalStack) -> tuple[Client, Recorder]:
    recorder = Recorder()
    functions = {name: info.name for name, info in local_stack.resources.functions.items() if info.api}
    gateway = Gateway(functions, local_stack.gateway.verifier, recorder, lambda: {})
    return Client(gateway), recorder


def _signing_key(local_stack: LocalStack, pool_name: str) -> RSAKey:
    pool_id = local_stack.pool(pool_name).pool_id
    key: RSAKey = cognitoidp_backends[ACCOUNT][REGION].user_pools[pool_id].json_web_key
    return key


def _customer_claims(local_stack: LocalStack, **changes: Any) -> dict[str, Any]:
    pool = local_stack.pool(naming.CUSTOMER_POOL)
    now = int(time.time())
    claims = {
        "iss": pool.issuer,
        "sub": str(uuid.uuid4()),
        "aud": pool.client_id,
        "token_use": "id",
        "iat": now,
        "auth_time": now,
        "exp": now + 600,
        "email": "someone@example.com",
        "email_verified": True,
    }
    claims.update(changes)
    return claims


def _sign(local_stack: LocalStack, claims: dict[str, Any], pool_name: str = naming.CUSTOMER_POOL) -> str:
    return jwt.encode({"alg": "RS256", "kid": "dummy"}, claims, _signing_key(local_stack, pool_name))


def _get_me(client: Client, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.get("/v1/me", headers=headers)


def test_a_token_the_customer_pool_issued_passes_with_its_claims(
    local_stack: LocalStack, recorded: tuple[Client, Recorder]
) -> None:
    client, recorder = recorded
    token = local_stack.customer_token("valid@example.com")
    response = _get_me(client, token)
    assert response.status_code == 200
    function_name, event = recorder.events[-1]
    assert function_name == local_stack.resources.functions["subject_access"].name
    claims = event["requestContext"]["authorizer"]["claims"]
    assert claims["sub"] == jwt.decode(token, _signing_key(local_stack, naming.CUSTOMER_POOL)).claims["sub"]
    assert claims["token_use"] == "id"
    assert claims["email"] == "valid@example.com"


def test_claims_are_rendered_as_the_rest_api_authorizer_renders_them(
    local_stack: LocalStack, recorded: tuple[Client, Recorder]
) -> None:
    client, recorder = recorded
    issued = _customer_claims(local_stack, exp=1_900_000_000)
    assert _get_me(client, _sign(local_stack, issued)).status_code == 200
    claims = recorder.events[-1][1]["requestContext"]["authorizer"]["claims"]
    assert all(isinstance(value, str) for value in claims.values()), "every claim is a string"
    assert claims["email_verified"] == "true"
    assert claims["exp"] == "Sun Mar 17 17:46:40 UTC 2030", "exp and iat are dates"
    assert claims["auth_time"] == str(issued["auth_time"]), "auth_time stays epoch seconds"


def test_the_bare_token_without_bearer_is_accepted_as_cognito_authorizers_do(
    local_stack: LocalStack, recorded: tuple[Client, Recorder]
) -> None:
    client, _ = recorded
    token = local_stack.customer_token("bare@example.com")
    assert client.get("/v1/me", headers={"Authorization": token}).status_code == 200


@pytest.mark.parametrize(
    ("case", "changes"),
    [
        ("expired", {"exp": int(time.time()) - 5}),
        ("wrong issuer", {"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_someoneelse"}),
        ("access token on an ID-token route", {"token_use": "access"}),
        ("no expiry", {"exp": None}),
    ],
)
def test_validly_signed_tokens_with_wrong_claims_are_401(
    local_stack: LocalStack, recorded: tuple[Client, Recorder], case: str, changes: dict[str, Any]
) -> None:
    client, recorder = recorded
    claims = {key: value for key, value in _customer_claims(local_stack, **changes).items() if value is not None}
    response = _get_me(client, _sign(local_stack, claims))
    assert response.status_code == 401, case
    assert response.get_json() == UNAUTHORIZED
    assert recorder.events == [], "no function runs for a refused token"


def test_a_token_of_the_wrong_pool_is_401(local_stack: LocalStack, recorded: tuple[Client, Recorder]) -> None:
    client, _ = recorded
    staff_token = local_stack.staff_token("officer@example.com", "privacy_officer")
    assert _get_me(client, staff_token).status_code == 401


def test_a_tampered_token_is_401(local_stack: LocalStack, recorded: tuple[Client, Recorder]) -> None:
    client, _ = recorded
    header, payload, signature = local_stack.customer_token("tampered@example.com").split(".")
    flipped = signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")
    assert _get_me(client, f"{header}.{payload}.{flipped}").status_code == 401
    other = _sign(local_stack, _customer_claims(local_stack)).split(".")[1]
    assert _get_me(client, f"{header}.{other}.{signature}").status_code == 401


@pytest.mark.filterwarnings('ignore:JWS algorithm "none" is deprecated')
def test_unsigned_and_symmetric_tokens_are_401(local_stack: LocalStack, recorded: tuple[Client, Recorder]) -> None:
    client, _ = recorded
    claims = _customer_claims(local_stack)
    unsigned = jwt.encode({"alg": "none"}, claims, None, algorithms=["none"])
    public = json.dumps(_signing_key(local_stack, naming.CUSTOMER_POOL).as_dict(private=False)).encode()
    confused = jwt.encode({"alg": "HS256", "kid": "dummy"}, claims, OctKey.import_key(public), algorithms=["HS256"])
    for token in (unsigned, confused, "not-a-jwt", ""):
        assert _get_me(client, token).status_code == 401


def test_a_missing_token_is_401_and_a_public_route_needs_none(recorded: tuple[Client, Recorder]) -> None:
    client, recorder = recorded
    refused = client.get("/v1/me")
    assert (refused.status_code, refused.get_json()) == (401, UNAUTHORIZED)
    assert refused.headers["x-amzn-ErrorType"] == "UnauthorizedException"
    assert client.get(f"/v1/requests/{uuid.uuid4()}").status_code == 200
    assert "authorizer" not in recorder.events[-1][1]["requestContext"]


def test_staff_routes_need_the_scope_of_a_group_they_name(
    local_stack: LocalStack, recorded: tuple[Client, Recorder]
) -> None:
    """The method's scopes are its groups; the staff pool's trigger put the user's into the token."""
    client, recorder = recorded
    support = local_stack.staff_token("support@example.com", "support")
    officer = local_stack.staff_token("officer@example.com", "privacy_officer")
    path = "/v1/staff/change-requests"  # privacy_officer only
    denied = client.get(path, headers={"Authorization": f"Bearer {support}"})
    assert (denied.status_code, denied.get_json()) == (401, UNAUTHORIZED)
    assert recorder.events == [], "no function runs for a token without the method's scope"
    assert client.get(path, headers={"Authorization": f"Bearer {officer}"}).status_code == 200
    claims = recorder.events[-1][1]["requestContext"]["authorizer"]["claims"]
    assert "privacy_officer" in claims["cognito:groups"].split(",")
    assert "crm-custody-staff-api/privacy_officer" in claims["scope"].split()
    assert "crm-custody-staff-api/support" not in claims["scope"].split()


def test_a_staff_id_token_is_401_on_staff_routes(local_stack: LocalStack, recorded: tuple[Client, Recorder]) -> None:
    pool = local_stack.pool(naming.STAFF_POOL)
    tokens = identity.staff_tokens(local_stack.clients("cognito-idp"), pool, "id-only@example.com", "support")
    client, _ = recorded
    reply = client.get("/v1/staff/processors", headers={"Authorization": f"Bearer {tokens.id_token}"})
    assert reply.status_code == 401


@pytest.mark.parametrize(
    ("case", "changes"),
    [
        ("another app client of the pool", {"aud": "another-app-client"}),
        ("an audience list", {"aud": ["a", "b"]}),
        ("issued in the future", {"iat": int(time.time()) + 3600}),
        ("not valid before a future date", {"nbf": int(time.time()) + 3600}),
    ],
)
def test_what_api_gateway_does_not_check_the_function_refuses(
    local_stack: LocalStack, case: str, changes: dict[str, Any]
) -> None:
    """The local gateway checks no more than API Gateway's authorizer: these tokens pass it (no
    `identityValidationExpression`, no `nbf`), and the function refuses them, in AWS as here."""
    token = _sign(local_stack, _customer_claims(local_stack, **changes))
    reply = local_stack.http.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 401, case
    assert reply.get_json()["error"] == "unauthenticated", "the function's refusal, not the gateway's"


def test_a_customer_token_on_a_staff_route_is_401(local_stack: LocalStack, recorded: tuple[Client, Recorder]) -> None:
    client, _ = recorded
    token = local_stack.customer_token("curious@example.com")
    assert client.get("/v1/staff/processors", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_unknown_routes_and_methods_are_missing_authentication_token(recorded: tuple[Client, Recorder]) -> None:
    client, recorder = recorded
    for response in (client.get("/v1/nowhere"), client.delete("/v1/me"), client.get("/")):
        assert response.status_code == 403
        assert response.get_json() == MISSING_TOKEN
    assert recorder.events == []
