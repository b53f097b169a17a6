"""Erasure on the in-process stack: real tokens through the local gateway, the real ASL on moto."""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from custody.declared import naming
from custody.declared.settings import Settings, get_settings
from custody.platform import aws
from devstack import identity
from tests.integration.conftest import LocalStack

NEXT_YEAR = time.gmtime().tm_year + 1
PROFILE = {
    "identity": {"legal_name": "Quilliam Zephyrine", "birth_date": "1980-05-06"},
    "contact": {"phone": "+84987654321"},
    "preferences": {"interests": ["xenobotany"], "language": "vi"},
    "payment": {
        "card_number": "5555555555554444",
        "expiry_month": 1,
        "expiry_year": NEXT_YEAR,
        "holder_name": "Quilliam Zephyrine",
    },
    "health": {"allergies": [{"substance": "Quokka dander", "severity": "mild"}]},
}
SUBMITTED_VALUES = (
    "Quilliam",
    "Zephyrine",
    "84987654321",
    "xenobotany",
    "5555555555554444",
    "Quokka",
    "Vexbury letter",
)


@dataclass
class Reply:
    status: int
    body: Any
    text: str

    @classmethod
    def of(cls, response: Any) -> Reply:
        """The local gateway's answer (a Werkzeug test response): status, parsed JSON or None, text."""
        text = response.get_data(as_text=True)
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = None
        return cls(response.status_code, parsed, text)

    @classmethod
    def of_proxy(cls, answer: dict[str, Any]) -> Reply:
        """A function's Lambda proxy response, read as the gateway would map it back to HTTP."""
        text = str(answer.get("body") or "")
        try:
            parsed = json.loads(text) if text and not answer.get("isBase64Encoded") else None
        except ValueError:
            parsed = None
        return cls(int(answer["statusCode"]), parsed, text)


@dataclass
class Customer:
    stack: LocalStack
    email: str
    token: str
    subject_id: str

    @classmethod
    def signed_up(cls, stack: LocalStack, email: str | None = None) -> Customer:
        """A new customer of the stack's user pool, signed in (a unique e-mail address unless given)."""
        email = email or f"{uuid.uuid4().hex[:12]}@example.com"
        token = stack.customer_token(email)
        return cls(stack, email, token, _subject_of(token))

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Reply:
        response = self.stack.http.open(
            path,
            method=method,
            data=None if body is None else json.dumps(body),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json", **(headers or {})},
        )
        return Reply.of(response)

    def fill(self, documents: int = 1) -> None:
        """Consent to everything and store every kind of data."""
        for purpose in ("crm_core", "marketing", "payments", "health_services"):
            assert self.call("POST", "/v1/me/consents", {"purpose": purpose, "policy_version": "2026-11"}).status == 201
        assert self.call("PUT", "/v1/me/profile", PROFILE).status == 200
        for index in range(documents):
            content = base64.b64encode(f"Vexbury letter {index}".encode()).decode()
            upload = {"file_name": f"letter-{index}.txt", "content_type": "text/plain", "content_base64": content}
            assert self.call("POST", "/v1/me/documents", upload).status == 201
        change = {"field": "legal_name", "value": "Quilliam Zephyrine-Ode", "reason": "Zephyrine wedding"}
        assert self.call("POST", "/v1/me/change-requests", change).status == 201


def _subject_of(token: str) -> str:
    return str(identity.unverified_claims(token)["sub"])


@pytest.fixture
def settings(local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The functions' settings in this process, so domain code can be called directly."""
    for name, value in local_stack.resources.environment.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    aws.reset_clients()
    return get_settings()


@pytest.fixture
def new_customer(local_stack: LocalStack) -> Any:
    def make() -> Customer:
        return Customer.signed_up(local_stack)

    return make


@pytest.fixture
def customer(new_customer: Any) -> Customer:
    made: Customer = new_customer()
    return made


def wait_for_execution(stack: LocalStack, request_id: str, timeout: float = 60.0) -> dict[str, Any]:
    sfn = stack.clients("stepfunctions")
    arn = stack.resources.state_machines[naming.ERASURE_STATE_MACHINE].replace(":stateMachine:", ":execution:")
    execution_arn = f"{arn}:{request_id}"
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return dict(described)
        assert time.monotonic() < deadline, "the erasure did not finish"
        time.sleep(0.05)


def history(stack: LocalStack, execution_arn: str) -> list[dict[str, Any]]:
    sfn = stack.clients("stepfunctions")
    return list(sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"])
