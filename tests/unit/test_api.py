"""The shared resolver: every refusal is a JSON error, and no error echoes a submitted value."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, Field

from custody.api.http import build_resolver, unsupported_media_type
from custody.declared.errors import ConsentRequired, SubjectKeyUnavailable

SECRET_NAME = "Zyxwv Secret-Name"


class Body(BaseModel):
    legal_name: str = Field(max_length=5)
    age: int


def _event(method: str, path: str, body: Any = None) -> dict[str, Any]:
    return {
        "httpMethod": method,
        "path": path,
        "resource": path,
        "headers": {"Content-Type": "application/json"},
        "requestContext": {"stage": "v1", "requestId": "r-1"},
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


@pytest.fixture
def app():  # type: ignore[no-untyped-def]
    app = build_resolver("collect")

    @app.post("/v1/test/echo")
    def echo(body: Body) -> dict[str, Any]:
        return {"ok": True}

    @app.post("/v1/test/consent")
    def consent() -> dict[str, Any]:
        raise ConsentRequired(["marketing", "health_services", "marketing"])

    @app.get("/v1/test/shredded")
    def shredded() -> dict[str, Any]:
        raise SubjectKeyUnavailable("The data key is gone.", {"subject_id": "s-1"})

    return app


def _call(app, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:  # type: ignore[no-untyped-def]
    response = app.resolve(event, None)
    return int(response["statusCode"]), json.loads(response["body"])


def test_validation_error_names_fields_but_never_echoes_values(app) -> None:  # type: ignore[no-untyped-def]
    status, body = _call(app, _event("POST", "/v1/test/echo", {"legal_name": SECRET_NAME, "age": "old"}))
    assert status == 422
    assert body["error"] == "invalid_input"
    assert {item["field"] for item in body["details"]["fields"]} == {"legal_name", "age"}
    assert SECRET_NAME not in json.dumps(body)
    assert "old" not in json.dumps(body["details"])


def test_domain_errors_map_to_their_status_and_code(app) -> None:  # type: ignore[no-untyped-def]
    status, body = _call(app, _event("POST", "/v1/test/consent"))
    assert (status, body["error"]) == (403, "consent_required")
    assert body["details"] == {"missing": ["health_services", "marketing"]}
    status, body = _call(app, _event("GET", "/v1/test/shredded"))
    assert (status, body["error"], body["details"]) == (410, "subject_key_unavailable", {"subject_id": "s-1"})


def test_a_declared_route_not_built_yet_says_so_and_an_unknown_one_is_404(app) -> None:  # type: ignore[no-untyped-def]
    status, body = _call(app, _event("DELETE", "/v1/me/consents/marketing"))
    assert (status, body["error"]) == (501, "not_implemented")
    status, body = _call(app, _event("GET", "/v1/me/consents/marketing"))
    assert (status, body["error"]) == (404, "not_found")
    status, body = _call(app, _event("GET", "/v1/me"))  # declared, but by another function
    assert (status, body["error"]) == (404, "not_found")


def test_a_valid_request_reaches_the_route(app) -> None:  # type: ignore[no-untyped-def]
    assert _call(app, _event("POST", "/v1/test/echo", {"legal_name": "Ann", "age": 40})) == (200, {"ok": True})


def test_a_body_that_is_not_json_is_a_400_and_a_missing_body_a_422(app) -> None:  # type: ignore[no-untyped-def]
    event = _event("POST", "/v1/test/echo")
    event["body"] = '{"legal_name": "Zyxwv'
    status, body = _call(app, event)
    assert (status, body["error"]) == (400, "malformed_request")
    assert "Zyxwv" not in json.dumps(body)
    status, body = _call(app, _event("POST", "/v1/test/echo"))
    assert (status, body["error"], body["details"]["fields"][0]["field"]) == (422, "invalid_input", "body")


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; b=x"]
)
def test_a_body_that_is_not_json_by_content_type_is_a_415(content_type: str) -> None:
    event = _event("POST", "/v1/me/consents", {"purpose": "crm_core", "policy_version": "1"})
    event["headers"] = {"Content-Type": content_type}
    refused = unsupported_media_type(event)
    assert refused is not None
    assert refused["statusCode"] == 415
    assert json.loads(refused["body"])["error"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "headers",
    [{"Content-Type": "application/json; charset=utf-8"}, {}, {"content-type": "application/merge-patch+json"}],
)
def test_json_with_a_charset_or_without_a_content_type_goes_through(headers: dict[str, str]) -> None:
    event = _event("POST", "/v1/me/consents", {"purpose": "crm_core", "policy_version": "1"})
    event["headers"] = headers
    assert unsupported_media_type(event) is None
    assert unsupported_media_type({**event, "body": None, "headers": {"Content-Type": "text/plain"}}) is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"legal_name": "Ann", "age": 1' + "0" * 4300 + "}", "A number in the request body has too many digits."),
        ("1" + "0" * 4300, "A number in the request body has too many digits."),
        (
            '{"legal_name": "Ann", "legal_name": "Ann", "age": 1}',
            "An object in the request body has the same key twice.",
        ),
        ('{"legal_name": "Ann", "age": NaN}', "The request body is not valid JSON."),
        ('{"legal_name": "Ann", "age": Infinity}', "The request body is not valid JSON."),
        ("[" * 5000 + "]" * 5000, "The request body is nested too deeply."),
        ('{"legal_name": ', "The request body is not valid JSON."),
    ],
    ids=["long integer in a field", "long integer", "repeated key", "NaN", "Infinity", "nested", "truncated"],
)
def test_every_failure_to_decode_a_body_is_a_400_that_says_which(app, body: str, message: str) -> None:  # type: ignore[no-untyped-def]
    """Issue 17: an integer of 4,301 digits crashed the decoder (ValueError, a 502 in API Gateway)."""
    event = _event("POST", "/v1/test/echo")
    event["body"] = body
    status, answer = _call(app, event)
    assert (status, answer["error"], answer["message"]) == (400, "malformed_request", message)
