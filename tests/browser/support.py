"""What the browser tests do outside the browser: a staff member's work on the API, Cognito look-ups."""

from __future__ import annotations

import uuid
from typing import Any, Final

from custody.declared import naming
from devstack import identity
from devstack.journey import Api
from tests.integration.conftest import ServedStack

PASSWORD: Final = "Browser-test-1!"  # a made-up customer's: the local pool only
# 2,000 characters, the interaction summary's limit: ~14 KB on the wire, so a few fill a report's page.
LONG_SUMMARY: Final = "顧客対応の記録。" * 250


def new_email(prefix: str) -> str:
    """A made-up address nobody else in the session uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def cognito(stack: ServedStack) -> Any:
    return stack.clients()("cognito-idp")


def subject_id(stack: ServedStack, email: str) -> str:
    """The customer's subject id: their `sub` in the customer pool."""
    pool = stack.info.resources.user_pools[naming.CUSTOMER_POOL]
    user = cognito(stack).admin_get_user(UserPoolId=pool.pool_id, Username=email)
    return str(next(item["Value"] for item in user["UserAttributes"] if item["Name"] == "sub"))


def customer_exists(stack: ServedStack, email: str) -> bool:
    pool = stack.info.resources.user_pools[naming.CUSTOMER_POOL]
    client = cognito(stack)
    try:
        client.admin_get_user(UserPoolId=pool.pool_id, Username=email)
    except client.exceptions.UserNotFoundException:
        return False
    return True


def confirmed_customer(stack: ServedStack, email: str) -> None:
    """A customer who signed up and confirmed before, with `PASSWORD`, who granted crm_core."""
    pool = stack.info.resources.user_pools[naming.CUSTOMER_POOL]
    client = cognito(stack)
    identity.ensure_user(client, pool, email)
    client.admin_set_user_password(UserPoolId=pool.pool_id, Username=email, Password=PASSWORD, Permanent=True)
    token = identity.customer_tokens(client, pool, email).id_token
    client.admin_set_user_password(UserPoolId=pool.pool_id, Username=email, Password=PASSWORD, Permanent=True)
    body = {"purpose": "crm_core", "policy_version": "2026-11", "channel": "web"}
    reply = Api(stack.info.api_url).call("POST", "/v1/me/consents", token=token, body=body)
    assert reply.status == 201, reply.describe()


def staff_works_on(stack: ServedStack, customer_id: str, interactions: int, ticket: str) -> None:
    """A support agent opens the customer's interactions under a grant, records `interactions` of them,
    and reads the customer's record: what the customer's access log and paged report then show."""
    pool = stack.info.resources.user_pools[naming.STAFF_POOL]
    agent = identity.staff_tokens(cognito(stack), pool, new_email("agent"), "support").access_token
    api = Api(stack.info.api_url)
    body = {
        "customer_id": customer_id,
        "purpose": "crm_core",
        "ticket": ticket,
        "categories": ["interactions", "contact"],
        "duration_minutes": 30,
    }
    granted = api.call("POST", "/v1/staff/access-grants", token=agent, body=body)
    assert granted.status == 201, granted.describe()
    grant_id = granted.json()["grant_id"]
    for index in range(interactions):
        entry = {"grant_id": grant_id, "kind": "support_ticket", "summary": LONG_SUMMARY, "reference": f"T-{index}"}
        made = api.call("POST", f"/v1/staff/customers/{customer_id}/interactions", token=agent, body=entry)
        assert made.status == 201, made.describe()
    viewed = api.call("GET", f"/v1/staff/customers/{customer_id}?grant_id={grant_id}", token=agent)
    assert viewed.status == 200, viewed.describe()


def request_status(stack: ServedStack, request_id: str) -> dict[str, Any]:
    reply = Api(stack.info.api_url).call("GET", f"/v1/requests/{request_id}")
    assert reply.status == 200, reply.describe()
    found: dict[str, Any] = reply.json()
    return found
