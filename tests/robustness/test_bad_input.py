"""Hand-written hostile requests: every one gets a clear JSON error with the right status and
writes nothing (the customer's footprint — every item, object version and their subject record —
is the same before and after).

Bodies (oversized, not JSON, wrong content types), unicode edge cases, injection-shaped strings,
hostile tokens (forged, expired, wrong pool, wrong audience, `alg: none`, HS256 keyed with the
public key) and path traversal in document names and ids.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from custody.declared import naming
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import PROFILE, Customer
from tests.integration.stack.test_gateway_auth import _customer_claims, _signing_key
from tests.robustness.conftest import customer_with_everything, footprint
from tests.robustness.figures import FIGURES, soak

BIG = "x" * (1024 * 1024 + 1)  # a 1 MiB field: far past any field's limit, well under API Gateway's 10 MB
UNICODE_EDGES = {
    "nul": "Quill\u0000iam",
    "lone_surrogate": "\ud800",
    "rtl_override": "\u202eQuilliam",
    "combining": "Q\u0301\u0302\u0303\u0304\u0305\u0306\u0307\u0308\u0309\u030a\u030b\u030c" * 40,
    "emoji_4_byte": "\U0001f600" * 300,
    "bom": "\ufeffQuilliam",
    "line_separator": "Quill\u2028iam",
}
INJECTIONS = {
    "sql": "' OR '1'='1' --",
    "nosql": '{"$ne": null}',
    "dynamodb_expression": "#status = :erased OR attribute_exists(subject_id)",
    "template": "{{7*7}}${7*7}<%= 7*7 %>",
    "log4j": "${jndi:ldap://127.0.0.1/a}",
    "path": "../../../../etc/passwd",
    "html": "<script>alert(1)</script>",
    "crlf": "a\r\nX-Injected: 1",
}
TRAVERSAL_NAMES = (
    "../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "subjects/other/document.txt",
    "/absolute.txt",
    "%2e%2e%2fescape.txt",
    "letter.txt\u0000.exe",
    "..",
    "",
)
TRAVERSAL_IDS = ("..%2F..%2Fx", "%2e%2e", "..;", "a%00b", "x" * 2048, "%252e%252e%252f")


def _is_clear_error(status: int, text: str) -> bool:
    try:
        body = json.loads(text)
    except ValueError:
        return False
    if status in (401, 403) and body.get("message"):  # API Gateway's own answer
        return True
    return isinstance(body, dict) and bool(body.get("error")) and isinstance(body.get("message"), str)


_KNOWN: dict[str, Any] = {}  # the victim's last footprint, while nothing was accepted since


def _before(stack: LocalStack, subject_id: str) -> Any:
    known = _KNOWN.get(subject_id)
    return known if known is not None else footprint(stack, subject_id)


def _unchanged(stack: LocalStack, subject_id: str, before: Any) -> bool:
    after = footprint(stack, subject_id)
    _KNOWN[subject_id] = after
    return bool(after == before)


def _accepted(subject_id: str) -> None:
    _KNOWN.pop(subject_id, None)


@pytest.fixture(scope="module")
def victim(local_stack: LocalStack) -> Customer:
    return customer_with_everything(local_stack, "victim")


def _send(
    stack: LocalStack, method: str, path: str, token: str | None, data: bytes | str | None, content_type: str
) -> tuple[int, str]:
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    response = stack.http.open(path, method=method, data=data, headers=headers)
    return response.status_code, response.get_data(as_text=True)


def _refused_cleanly(
    stack: LocalStack,
    victim: Customer,
    method: str,
    path: str,
    data: bytes | str | None,
    *,
    token: str | None = None,
    content_type: str = "application/json",
    statuses: tuple[int, ...] = (400, 413, 415, 422),
) -> int:
    before = _before(stack, victim.subject_id)
    status, text = _send(stack, method, path, victim.token if token is None else token, data, content_type)
    assert status in statuses, f"{method} {path}: {status} {text[:300]}"
    assert _is_clear_error(status, text), f"{method} {path}: not a clear JSON error: {text[:300]}"
    assert _unchanged(stack, victim.subject_id, before), f"{method} {path}: a refused request wrote something"
    FIGURES.add("bad_inputs")
    return status


def _profile_with(name: str) -> str:
    return json.dumps({"identity": {"legal_name": name, "birth_date": "1980-05-06"}}, ensure_ascii=False)


def test_oversized_malformed_and_mistyped_bodies(local_stack: LocalStack, victim: Customer) -> None:
    cases: list[tuple[str, str, bytes | str | None, str]] = [
        ("PUT", "/v1/me/profile", _profile_with(BIG), "application/json"),
        ("POST", "/v1/me/consents", json.dumps({"purpose": BIG, "policy_version": "2026-11"}), "application/json"),
        ("POST", "/v1/me/change-requests", json.dumps({"field": "legal_name", "value": BIG}), "application/json"),
        ("PUT", "/v1/me/profile", '{"identity": {"legal_name": "Q"', "application/json"),
        ("PUT", "/v1/me/profile", "[]", "application/json"),
        ("PUT", "/v1/me/profile", "null", "application/json"),
        ("PUT", "/v1/me/profile", '{"identity": ' * 2000 + "}" * 2000, "application/json"),
        ("PUT", "/v1/me/profile", b"\xff\xfe\x00garbage", "application/json"),
        ("PUT", "/v1/me/profile", _profile_with("Quilliam"), "text/plain"),
        ("PUT", "/v1/me/profile", "identity.legal_name=Quilliam", "application/x-www-form-urlencoded"),
        (
            "POST",
            "/v1/me/consents",
            "--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--",
            "multipart/form-data; boundary=b",
        ),
        ("POST", "/v1/me/consents", "<purpose>crm_core</purpose>", "application/xml"),
    ]
    for method, path, data, content_type in cases:
        _refused_cleanly(local_stack, victim, method, path, data, content_type=content_type)


def test_unicode_edge_cases_are_refused_or_kept_exactly(local_stack: LocalStack, victim: Customer) -> None:
    for name, value in UNICODE_EDGES.items():
        before = _before(local_stack, victim.subject_id)
        body = json.dumps({"preferences": {"interests": [value]}})  # \\u escapes, as a client sends them
        status, text = _send(local_stack, "PATCH", "/v1/me/profile", victim.token, body, "application/json")
        assert status < 500, f"{name}: {status} {text[:200]}"
        if status >= 400:
            assert _is_clear_error(status, text), name
            assert _unchanged(local_stack, victim.subject_id, before), f"{name}: refused but written"
        else:
            _accepted(victim.subject_id)
            report = victim.call("GET", "/v1/me").body
            kept = report["stores"]["profiles"]["categories"]["preferences"]["interests"]
            assert kept == [value], f"{name}: accepted but stored as something else"
        FIGURES.add("bad_inputs")
        FIGURES.detail("unicode_outcomes", {f"{name}:{status}": 1})


def test_injection_shaped_strings_are_data_never_code(local_stack: LocalStack, victim: Customer) -> None:
    chosen = list(INJECTIONS) if soak() else ["sql", "nosql", "dynamodb_expression", "path"]
    for name in chosen:
        value = INJECTIONS[name]
        targets: list[tuple[str, str, Any]] = [
            ("PATCH", "/v1/me/profile", {"preferences": {"interests": [value]}}),
            ("POST", "/v1/me/consents", {"purpose": value, "policy_version": "2026-11"}),
            ("GET", f"/v1/requests/{value.replace('/', '%2F')}", None),
        ]
        if soak():
            targets += [
                ("DELETE", f"/v1/me/consents/{value.replace('/', '%2F')}", None),
                ("POST", "/v1/me/change-requests", {"field": value, "value": "x", "reason": value}),
            ]
        for method, path, body in targets:
            before = _before(local_stack, victim.subject_id)
            data = None if body is None else json.dumps(body)
            status, text = _send(local_stack, method, path, victim.token, data, "application/json")
            assert status < 500, f"{name} in {method} {path}: {status} {text[:200]}"
            if status >= 400:
                assert _is_clear_error(status, text), f"{name} in {method} {path}: {text[:200]}"
                assert _unchanged(local_stack, victim.subject_id, before), f"{name}: refused but written"
            else:
                _accepted(victim.subject_id)
            FIGURES.add("bad_inputs")
        report = victim.call("GET", "/v1/me")
        assert report.status == 200
        interests = report.body["stores"]["profiles"]["categories"]["preferences"]["interests"]
        assert interests in ([value], PROFILE["preferences"]["interests"]), f"{name}: stored as something else"


def _foreign_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "attacker"})


def _hostile_tokens(stack: LocalStack, victim: Customer) -> Iterator[tuple[str, str]]:
    claims = _customer_claims(stack, sub=victim.subject_id)
    key = _signing_key(stack, naming.CUSTOMER_POOL)
    yield "forged_with_another_key", jwt.encode({"alg": "RS256", "kid": key.kid}, claims, _foreign_key())
    yield "expired", jwt.encode({"alg": "RS256", "kid": key.kid}, {**claims, "exp": int(time.time()) - 60}, key)
    yield "not_yet_an_id_token", jwt.encode({"alg": "RS256", "kid": key.kid}, {**claims, "token_use": "access"}, key)
    yield "another_app_client", jwt.encode({"alg": "RS256", "kid": key.kid}, {**claims, "aud": "someone-else"}, key)
    staff_key = _signing_key(stack, naming.STAFF_POOL)
    staff_pool = stack.pool(naming.STAFF_POOL)
    wrong_pool = {**claims, "iss": staff_pool.issuer, "aud": staff_pool.client_id}
    yield "signed_by_the_staff_pool", jwt.encode({"alg": "RS256", "kid": staff_key.kid}, wrong_pool, staff_key)
    yield "a_real_staff_token", stack.staff_token(f"attacker-{uuid.uuid4().hex[:6]}@staff.example", "support")
    yield "a_real_processor_token", stack.processor_token("attacker")
    yield "alg_none", jwt.encode({"alg": "none"}, claims, None, algorithms=["none"])
    public = json.dumps(key.as_dict(private=False)).encode()
    yield (
        "hs256_with_the_public_key",
        jwt.encode({"alg": "HS256", "kid": key.kid}, claims, OctKey.import_key(public), algorithms=["HS256"]),
    )
    header, payload, signature = victim.token.split(".")
    tampered = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    tampered["sub"] = str(uuid.uuid4())
    swapped = base64.urlsafe_b64encode(json.dumps(tampered).encode()).decode().rstrip("=")
    yield "payload_swapped_under_a_real_signature", f"{header}.{swapped}.{signature}"
    yield "garbage", "a.b.c"


@pytest.mark.filterwarnings('ignore:JWS algorithm "none" is deprecated')
def test_hostile_tokens_are_401_and_write_nothing(local_stack: LocalStack, victim: Customer) -> None:
    for name, token in _hostile_tokens(local_stack, victim):
        for method, path, body in (
            ("PATCH", "/v1/me/profile", {"preferences": {"interests": ["hijacked"]}}),
            ("POST", "/v1/me/withdrawal", None),
        ):
            data = None if body is None else json.dumps(body)
            status = _refused_cleanly(local_stack, victim, method, path, data, token=token, statuses=(401,))
            assert status == 401, name


def test_an_expired_real_token_is_401(
    local_stack: LocalStack, victim: Customer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token the pool really issued, presented after its `exp` (the authorizer's clock moved on)."""
    monkeypatch.setattr(local_stack.gateway.verifier, "_clock", lambda: time.time() + 2 * 3600)
    _refused_cleanly(local_stack, victim, "GET", "/v1/me", None, statuses=(401,))


def test_path_traversal_in_document_names_and_ids(local_stack: LocalStack, victim: Customer) -> None:
    content = base64.b64encode(b"Vexbury letter").decode()
    for name in TRAVERSAL_NAMES:
        upload = {"file_name": name, "content_type": "text/plain", "content_base64": content}
        _refused_cleanly(local_stack, victim, "POST", "/v1/me/documents", json.dumps(upload))
    for document_id in TRAVERSAL_IDS:
        _refused_cleanly(
            local_stack, victim, "GET", f"/v1/me/documents/{document_id}", None, statuses=(400, 403, 404, 422)
        )
