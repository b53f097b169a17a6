"""A ledger chain that keeps moving past the backoff makes an audited request answer 503, never 500.

`AuditWriteFailed` is contention, as transient as a throttle: the API answers `service_busy` with
`Retry-After`, in the one error shape, and the client retries. (The workflow's Tasks retry it too:
`tests/unit/test_workflow_limits.py`.)
"""

from __future__ import annotations

from typing import Any

import pytest

from custody.audit.ledger import AuditLedger, AuditWriteFailed
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import Customer


def test_an_audited_request_on_a_contended_chain_is_busy_not_broken(
    local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    person = Customer.signed_up(local_stack)

    def contended(self: AuditLedger, **_: Any) -> Any:
        raise AuditWriteFailed("The audit chain kept moving; the event was not written.")

    monkeypatch.setattr(AuditLedger, "record", contended)
    reply = person.call("POST", "/v1/me/consents", {"purpose": "crm_core", "policy_version": "2026-11"})
    assert reply.status == 503, reply.text
    assert reply.body["error"] == "service_busy"
    assert "audit" not in reply.text.lower()  # the error says what to do, not what is inside
    monkeypatch.undo()
    again = person.call("POST", "/v1/me/consents", {"purpose": "crm_core", "policy_version": "2026-11"})
    assert again.status in (200, 201), again.text
