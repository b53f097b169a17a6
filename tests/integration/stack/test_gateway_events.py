"""The REST proxy events the local gateway builds, and how it maps functions' answers back to HTTP."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.test import Client

from devstack.gateway import Gateway
from devstack.runtime import Invocation
from tests.integration.conftest import LocalStack

Answer = Callable[[str, Any], Invocation]


def _answer(result: Any, error_type: str | None = None) -> Answer:
    def invoke(function_name: str, event: Any) -> Invocation:
        invoke.events.append(event)  # type: ignore[attr-defined]
        return Invocation("req", json.dumps(result).encode(), error_type, 1.0)

    invoke.events = []  # type: ignore[attr-defined]
    return invoke


def _client(local_stack: LocalStack, invoke: Answer) -> Client:
    functions = {name: info.name for name, info in local_stack.resources.functions.items() if info.api}
    return Client(Gateway(functions, local_stack.gateway.verifier, invoke, lambda: {}))


OK: dict[str, Any] = {"statusCode": 200, "body": "{}"}
INTERNAL = {"error": "internal_error", "message": "Internal server error", "details": {}}


@pytest.fixture(scope="module")
def token(local_stack: LocalStack) -> str:
    return local_stack.customer_token("events@example.com")


def test_path_and_query_parameters_with_their_multi_value_forms(local_stack: LocalStack) -> None:
    invoke = _answer(OK)
    officer = local_stack.staff_token("events-officer@example.com", "privacy_officer")
    response = _client(local_stack, invoke).post(
        "/v1/staff/change-requests/cr-42/decision?verbose=1&tag=a&tag=b",
        headers={"Authorization": f"Bearer {officer}", "X-Custom": "yes"},
        json={"decision": "approve"},
    )
    assert response.status_code == 200
    event = invoke.events[-1]  # type: ignore[attr-defined]
    assert event["resource"] == "/v1/staff/change-requests/{change_request_id}/decision"
    assert event["path"] == "/v1/staff/change-requests/cr-42/decision"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"change_request_id": "cr-42"}
    assert event["queryStringParameters"] == {"verbose": "1", "tag": "b"}
    assert event["multiValueQueryStringParameters"] == {"verbose": ["1"], "tag": ["a", "b"]}
    assert event["headers"]["X-Custom"] == "yes"
    assert event["multiValueHeaders"]["X-Custom"] == ["yes"]
    assert event["headers"]["Authorization"].startswith("Bearer ")
    assert json.loads(event["body"]) == {"decision": "approve"}
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["resourcePath"] == event["resource"]
    assert context["stage"] == "live"
    assert context["path"] == "/live" + event["path"]
    assert context["accountId"] == "123456789012"
    assert uuid.UUID(context["requestId"])
    assert context["identity"]["sourceIp"]
    assert isinstance(context["requestTimeEpoch"], int)


def test_no_parameters_and_no_body_are_null_as_api_gateway_sends_them(local_stack: LocalStack, token: str) -> None:
    invoke = _answer(OK)
    _client(local_stack, invoke).get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    event = invoke.events[-1]  # type: ignore[attr-defined]
    assert event["pathParameters"] is None
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["body"] is None


def test_a_binary_body_arrives_base64_encoded(local_stack: LocalStack, token: str) -> None:
    invoke = _answer(OK)
    payload = bytes(range(256))
    _client(local_stack, invoke).post(
        "/v1/me/documents",
        data=payload,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/pdf"},
    )
    event = invoke.events[-1]  # type: ignore[attr-defined]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload


def test_text_that_is_not_utf8_is_base64_too(local_stack: LocalStack, token: str) -> None:
    invoke = _answer(OK)
    _client(local_stack, invoke).post(
        "/v1/me/consents",
        data=b"\xff\xfe{}",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    event = invoke.events[-1]  # type: ignore[attr-defined]
    assert (event["isBase64Encoded"], base64.b64decode(event["body"])) == (True, b"\xff\xfe{}")


def test_a_proxy_response_maps_to_http_with_its_headers_and_binary_body(local_stack: LocalStack, token: str) -> None:
    result = {
        "statusCode": 201,
        "headers": {"Content-Type": "application/pdf", "ETag": '"v3"'},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        "body": base64.b64encode(b"%PDF-1.7").decode(),
        "isBase64Encoded": True,
    }
    response = _client(local_stack, _answer(result)).get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201
    assert response.data == b"%PDF-1.7"
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["ETag"] == '"v3"'
    assert response.headers.getlist("Set-Cookie") == ["a=1", "b=2"]


@pytest.mark.parametrize(
    ("result", "error_type"),
    [
        ({"errorMessage": "boom", "errorType": "RuntimeError"}, "RuntimeError"),
        ({"no": "statusCode"}, None),
        ("just a string", None),
    ],
)
def test_a_function_error_or_malformed_answer_is_502(
    local_stack: LocalStack, token: str, result: Any, error_type: str | None
) -> None:
    response = _client(local_stack, _answer(result, error_type)).get(
        "/v1/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert (response.status_code, response.get_json()) == (502, INTERNAL)


def test_the_real_function_answers_through_moto_lambda_and_logs_to_cloudwatch(local_stack: LocalStack) -> None:
    """Public route, real handler: the gateway invokes through Lambda, which runs the code in-process."""
    name = local_stack.resources.functions["subject_access"].name
    response = local_stack.http.get(f"/v1/requests/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"
    streams = local_stack.clients("logs").describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
    assert streams, "the invocation wrote its START/END/REPORT lines to the function's log group"


def test_a_throttled_function_is_api_gateway_s_500(local_stack: LocalStack) -> None:
    """Lambda refuses the invocation (429, no concurrency reserved for it): API Gateway answers 500, not 502."""
    lambda_client = local_stack.clients("lambda")
    function = local_stack.resources.functions["subject_access"].name
    lambda_client.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=0)
    try:
        response = local_stack.http.get(f"/v1/requests/{uuid.uuid4()}")
    finally:
        lambda_client.delete_function_concurrency(FunctionName=function)
    assert response.status_code == 500
    assert response.headers["x-amzn-ErrorType"] == "InternalServerErrorException"
    assert json.loads(response.get_data()) == INTERNAL
    assert local_stack.http.get(f"/v1/requests/{uuid.uuid4()}").status_code == 404
