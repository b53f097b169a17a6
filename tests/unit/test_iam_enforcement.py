"""devstack.iam's enforcement on moto: refusals as AWS answers them, S3's 403 for a missing key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from devstack.iam.authority import Authority
from devstack.iam.enforce import acting_as, attach, enforcing
from devstack.iam.ledger import Ledger
from devstack.iam.policy import Principal, compile_document
from devstack.iam.stack import CompiledStack
from devstack.iam.template import Bindings

ACCOUNT, REGION = "123456789012", "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/Fn"
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t"
CALLER = Principal("function:fn", ACCOUNT, arn=ROLE)


def stack(*statements: dict[str, Any]) -> CompiledStack:
    authority = Authority({ROLE: compile_document({"Statement": list(statements)})}, {}, frozenset())
    return CompiledStack(authority, Bindings(ACCOUNT, REGION), {"fn": ROLE}, {}, {})


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="docs")
        s3.put_object(Bucket="docs", Key="subjects/x/kept", Body=b"1")
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield {"s3": attach(s3, CALLER), "dynamodb": attach(dynamodb, CALLER)}


def code_of(call: Any) -> tuple[int, str]:
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value.response["ResponseMetadata"]["HTTPStatusCode"], raised.value.response["Error"]["Code"]


def test_a_refused_call_is_answered_as_the_service_answers_and_counted(aws: dict[str, Any]) -> None:
    ledger = Ledger()
    with enforcing(stack({"Effect": "Allow", "Action": "dynamodb:Query", "Resource": TABLE}), ledger=ledger):
        refused = code_of(lambda: aws["dynamodb"].get_item(TableName="t", Key={"pk": {"S": "a"}}))
        assert refused == (400, "AccessDeniedException")
        assert code_of(lambda: aws["s3"].get_object(Bucket="docs", Key="subjects/x/kept")) == (403, "AccessDenied")
        aws["dynamodb"].query(
            TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "a"}}
        )
    assert (ledger.checked, ledger.denied) == (3, 2)
    assert "dynamodb:GetItem on resource: " + TABLE in ledger.denials[0]


def test_a_transaction_needs_every_item_s_action(aws: dict[str, Any]) -> None:
    put = {"Put": {"TableName": "t", "Item": {"pk": {"S": "a"}}}}
    update = {
        "Update": {
            "TableName": "t",
            "Key": {"pk": {"S": "b"}},
            "UpdateExpression": "SET n = :n",
            "ExpressionAttributeValues": {":n": {"N": "1"}},
        }
    }
    with enforcing(stack({"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": TABLE}), ledger=Ledger()):
        aws["dynamodb"].transact_write_items(TransactItems=[put])
        assert code_of(lambda: aws["dynamodb"].transact_write_items(TransactItems=[put, update]))[1] == (
            "AccessDeniedException"
        )


def test_s3_answers_a_missing_key_403_unless_the_caller_may_list_the_bucket(aws: dict[str, Any]) -> None:
    get = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::docs/subjects/*/*"}
    prefixed_list = {
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": "arn:aws:s3:::docs",
        "Condition": {"StringLike": {"s3:prefix": ["subjects/*/*"]}},
    }
    missing = lambda: aws["s3"].get_object(Bucket="docs", Key="subjects/x/missing")  # noqa: E731
    ledger = Ledger()
    with enforcing(stack(get, prefixed_list), ledger=ledger):
        assert code_of(missing) == (403, "AccessDenied")
        assert aws["s3"].get_object(Bucket="docs", Key="subjects/x/kept")["Body"].read() == b"1"
    with enforcing(stack(get, {**prefixed_list, "Condition": {}}), ledger=ledger):
        assert code_of(missing) == (404, "NoSuchKey")
    assert (ledger.hidden_not_found, ledger.denied) == (1, 0)


def test_delete_objects_refuses_object_by_object(aws: dict[str, Any]) -> None:
    aws["s3"].put_object(Bucket="docs", Key="elsewhere", Body=b"2")
    allowed = {"Effect": "Allow", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::docs/subjects/*"}
    with enforcing(stack(allowed), ledger=Ledger()):
        answer = aws["s3"].delete_objects(
            Bucket="docs", Delete={"Objects": [{"Key": "subjects/x/kept"}, {"Key": "elsewhere"}]}
        )
    assert [item["Key"] for item in answer.get("Deleted", [])] == ["subjects/x/kept"]
    assert [(item["Key"], item["Code"]) for item in answer["Errors"]] == [("elsewhere", "AccessDenied")]


def test_a_thread_acting_as_nobody_is_not_checked() -> None:
    with mock_aws():
        client = attach(boto3.client("dynamodb", region_name=REGION))
        ledger = Ledger()
        with enforcing(stack(), ledger=ledger):
            client.list_tables()
            with acting_as("fn"), pytest.raises(ClientError):
                client.describe_table(TableName="t")
        assert (ledger.checked, ledger.denied) == (1, 1)
