"""The local customer pool is case-insensitive, as the deployed one is (issue 16, case 6).

`custody.declared.user_pools` declares every pool with `UsernameConfiguration.CaseSensitive`
false; moto keeps the setting and ignores it, so `devstack.cognito` looks users up in any case.
One person whose address is spelled two ways is one Cognito user, one `sub`, one subject.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from custody.declared import naming
from devstack import identity
from tests.integration.conftest import LocalStack

SIGNED_UP = "Case.X@Example.com"
SIGNED_IN = "case.x@example.com"
PASSWORD = "Aa1!case-insensitive"  # a throwaway password of the local pool


def _error(raised: pytest.ExceptionInfo[ClientError]) -> str:
    return str(raised.value.response["Error"]["Code"])


def _sub(token: str) -> str:
    return str(identity.unverified_claims(token)["sub"])


def _call(local_stack: LocalStack, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
    response = local_stack.http.open(
        path,
        method=method,
        data=None if body is None else json.dumps(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    return response.status_code, json.loads(response.get_data() or b"null")


@pytest.fixture(scope="module")
def signed_up(local_stack: LocalStack) -> str:
    """`Case.X@Example.com` signed up through the customers' app client and confirmed; its `sub`."""
    cognito = local_stack.clients("cognito-idp")
    pool = local_stack.pool(naming.CUSTOMER_POOL)
    created = cognito.sign_up(ClientId=pool.client_id, Username=SIGNED_UP, Password=PASSWORD)
    cognito.admin_confirm_sign_up(UserPoolId=pool.pool_id, Username=SIGNED_UP)
    return str(created["UserSub"])


def test_the_pool_is_declared_case_insensitive(local_stack: LocalStack) -> None:
    cognito = local_stack.clients("cognito-idp")
    for pool in local_stack.resources.user_pools.values():
        described = cognito.describe_user_pool(UserPoolId=pool.pool_id)["UserPool"]
        assert described["UsernameConfiguration"] == {"CaseSensitive": False}


def test_signing_in_with_the_other_spelling_is_the_same_user(local_stack: LocalStack, signed_up: str) -> None:
    cognito = local_stack.clients("cognito-idp")
    pool = local_stack.pool(naming.CUSTOMER_POOL)
    signed_in = cognito.initiate_auth(
        ClientId=pool.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": SIGNED_IN, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    assert _sub(signed_in["IdToken"]) == _sub(signed_in["AccessToken"]) == signed_up
    # The token names the user's address, not the spelling typed at sign-in (moto wrote the latter).
    assert identity.unverified_claims(signed_in["IdToken"])["email"] == SIGNED_UP
    for spelling in (SIGNED_UP, SIGNED_IN, SIGNED_IN.upper()):
        user = cognito.admin_get_user(UserPoolId=pool.pool_id, Username=spelling)
        assert {item["Name"]: item["Value"] for item in user["UserAttributes"]}["sub"] == signed_up
    everyone = cognito.list_users(UserPoolId=pool.pool_id)["Users"]
    spelled = [user for user in everyone if _email(user).lower() == SIGNED_IN]
    assert len(spelled) == 1
    assert _email(spelled[0]) == SIGNED_UP, "the address is kept as it was entered"


def test_an_id_token_carries_the_address_and_its_verification_as_cognito_puts_them(local_stack: LocalStack) -> None:
    """The customers' app client reads `email` and `email_verified`: the address as held, whatever
    the spelling typed at sign-in, and whether it is verified as a JSON boolean."""
    cognito = local_stack.clients("cognito-idp")
    pool = local_stack.pool(naming.CUSTOMER_POOL)
    identity.ensure_user(cognito, pool, "Verified.Person@Example.com")  # created with a verified e-mail
    token = identity.customer_tokens(cognito, pool, "verified.person@example.com").id_token
    claims = identity.unverified_claims(token)
    assert (claims["email"], claims["email_verified"]) == ("Verified.Person@Example.com", True)


def _email(user: dict[str, Any]) -> str:
    return next((item["Value"] for item in user.get("Attributes", []) if item["Name"] == "email"), "")


def test_the_other_spelling_cannot_sign_up_or_be_created_again(local_stack: LocalStack, signed_up: str) -> None:
    cognito = local_stack.clients("cognito-idp")
    pool = local_stack.pool(naming.CUSTOMER_POOL)
    with pytest.raises(ClientError) as refused:
        cognito.sign_up(ClientId=pool.client_id, Username=SIGNED_IN, Password=PASSWORD)
    assert _error(refused) == "UsernameExistsException"
    with pytest.raises(ClientError) as refused:
        cognito.admin_create_user(UserPoolId=pool.pool_id, Username=SIGNED_IN.upper(), MessageAction="SUPPRESS")
    assert _error(refused) == "UsernameExistsException"


def test_both_spellings_are_one_subject_through_the_api(local_stack: LocalStack, signed_up: str) -> None:
    """What the customer gives under one spelling, they see under the other: the subject is the `sub`."""
    first = local_stack.customer_token(SIGNED_UP)
    second = local_stack.customer_token(SIGNED_IN)
    assert _sub(first) == _sub(second) == signed_up
    status, _ = _call(
        local_stack, "POST", "/v1/me/consents", first, {"purpose": "crm_core", "policy_version": "2026-11"}
    )
    assert status == 201
    status, report = _call(local_stack, "GET", "/v1/me", second)
    assert status == 200
    assert (report["subject_id"], report["email"]) == (signed_up, SIGNED_UP)
    assert "crm_core" in json.dumps(report["stores"]["consents"])
    subjects = local_stack.clients("dynamodb").scan(TableName=local_stack.resources.tables["subjects"])["Items"]
    assert [item["subject_id"]["S"] for item in subjects].count(signed_up) == 1


def test_another_user_cannot_take_a_case_variant_of_the_address(local_stack: LocalStack, signed_up: str) -> None:
    """Cognito "prevents a case variation from being assigned to the same attribute for a different user";
    the user themself may change the case of their own address."""
    cognito = local_stack.clients("cognito-idp")
    pool = local_stack.pool(naming.CUSTOMER_POOL)
    identity.ensure_user(cognito, pool, "someone.else@example.com")
    with pytest.raises(ClientError) as refused:
        cognito.admin_update_user_attributes(
            UserPoolId=pool.pool_id,
            Username="someone.else@example.com",
            UserAttributes=[{"Name": "email", "Value": SIGNED_IN.upper()}],
        )
    assert _error(refused) == "AliasExistsException"
    try:
        cognito.admin_update_user_attributes(
            UserPoolId=pool.pool_id, Username=SIGNED_IN, UserAttributes=[{"Name": "email", "Value": SIGNED_IN.upper()}]
        )
        found = cognito.list_users(UserPoolId=pool.pool_id, Filter=f'sub = "{signed_up}"')["Users"]
        assert [_email(user) for user in found] == [SIGNED_IN.upper()]
    finally:
        cognito.admin_update_user_attributes(
            UserPoolId=pool.pool_id, Username=SIGNED_IN, UserAttributes=[{"Name": "email", "Value": SIGNED_UP}]
        )


def test_a_case_sensitive_pool_is_left_to_moto(local_stack: LocalStack) -> None:
    """The adapter changes only what the pool's setting asks: Cognito's default is case-sensitive."""
    cognito = local_stack.clients("cognito-idp")
    pool_id = cognito.create_user_pool(
        PoolName="case-sensitive-probe", UsernameAttributes=["email"], UsernameConfiguration={"CaseSensitive": True}
    )["UserPool"]["Id"]
    for spelling in (SIGNED_UP, SIGNED_IN):
        cognito.admin_create_user(UserPoolId=pool_id, Username=spelling, MessageAction="SUPPRESS")
    assert len(cognito.list_users(UserPoolId=pool_id)["Users"]) == 2
    with pytest.raises(ClientError) as refused:
        cognito.admin_get_user(UserPoolId=pool_id, Username=SIGNED_IN.upper())
    assert _error(refused) == "UserNotFoundException"
    cognito.delete_user_pool(UserPoolId=pool_id)
