"""The relay's request signatures (custody.subprocessors.signing): what a sub-processor verifies."""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.subprocessors import signing

secrets = st.text(min_size=1, max_size=64)
bodies = st.binary(max_size=512)
moments = st.integers(min_value=0, max_value=4_102_444_800)


@given(secret=secrets, body=bodies, timestamp=moments, skew=st.integers(-signing.REPLAY_WINDOW_SECONDS, 300))
def test_a_signed_request_verifies_within_the_window(secret: str, body: bytes, timestamp: int, skew: int) -> None:
    headers = signing.signed_headers([secret], timestamp, body, "delivery-1")
    assert signing.verify(secret, headers, body, now=timestamp + skew)
    assert signing.verify(secret, {name.lower(): value for name, value in headers.items()}, body, now=timestamp)


@given(secret=secrets, body=bodies, timestamp=moments, flip=st.integers(min_value=0))
def test_a_tampered_body_fails(secret: str, body: bytes, timestamp: int, flip: int) -> None:
    headers = signing.signed_headers([secret], timestamp, body, "d")
    tampered = body + b"x" if not body else bytes(b ^ (1 if i == flip % len(body) else 0) for i, b in enumerate(body))
    assert not signing.verify(secret, headers, tampered, now=timestamp)


@given(secret=secrets, other=secrets, body=bodies, timestamp=moments)
def test_another_secret_fails(secret: str, other: str, body: bytes, timestamp: int) -> None:
    headers = signing.signed_headers([secret], timestamp, body, "d")
    assert signing.verify(other, headers, body, now=timestamp) == (other == secret)


@given(secret=secrets, body=bodies, timestamp=moments, shift=st.integers(1, 10**6))
def test_a_changed_timestamp_or_a_stale_request_fails(secret: str, body: bytes, timestamp: int, shift: int) -> None:
    headers = signing.signed_headers([secret], timestamp, body, "d")
    moved = {**headers, signing.TIMESTAMP_HEADER: str(timestamp + shift)}
    assert not signing.verify(secret, moved, body, now=timestamp + shift)
    late = timestamp + signing.REPLAY_WINDOW_SECONDS + shift
    assert not signing.verify(secret, headers, body, now=late)
    assert not signing.verify(secret, headers, body, now=timestamp - signing.REPLAY_WINDOW_SECONDS - shift)


@given(current=secrets, previous=secrets, body=bodies, timestamp=moments)
def test_during_rotation_either_secret_verifies(current: str, previous: str, body: bytes, timestamp: int) -> None:
    headers = signing.signed_headers([current, previous], timestamp, body, "d")
    assert signing.verify(current, headers, body, now=timestamp)
    assert signing.verify(previous, headers, body, now=timestamp)


@given(junk=st.text(max_size=80), stamp=st.text(max_size=20))
def test_malformed_headers_fail_closed(junk: str, stamp: str) -> None:
    headers = {signing.TIMESTAMP_HEADER: stamp, signing.SIGNATURE_HEADER: junk}
    assert not signing.verify("secret", headers, b"{}", now=0)


def test_the_scheme_is_the_documented_one() -> None:
    """What docs/staff-and-processors.md tells a processor to compute, by hand."""
    body = b'{"kind":"erasure"}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    headers = signing.signed_headers(["s3cret"], 1_700_000_000, body, "m-1")
    assert headers == {
        "X-Custody-Timestamp": "1700000000",
        "X-Custody-Signature": f"v1={expected}",
        "X-Custody-Delivery": "m-1",
    }
    with pytest.raises(ValueError, match="no signing secret"):
        signing.signed_headers([], 0, body, "m-1")
    assert not signing.verify("s3cret", {**headers, signing.SIGNATURE_HEADER: ""}, body, now=1_700_000_000)


def _documented_verifier() -> Any:
    """The `verify` of docs/staff-and-processors.md's Python block, executed as a processor would copy it."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "staff-and-processors.md").read_text()
    (block,) = [part.split("```", 1)[0] for part in text.split("```python\n")[1:] if "def verify(" in part]
    namespace: dict[str, Any] = {}
    exec(compile(block, "docs/staff-and-processors.md", "exec"), namespace)  # noqa: S102 - our own doc's code
    return namespace["verify"]


@pytest.mark.parametrize("case", [str, str.lower, str.upper], ids=["as sent", "lower-cased", "upper-cased"])
def test_the_documented_verifier_accepts_our_requests_and_refuses_tampering(case: Any) -> None:
    """Found by a fresh break: the doc's verifier looked headers up by exact case, a KeyError behind
    servers that lower-case header names (API Gateway HTTP APIs, Lambda function URLs, Node)."""
    verify = _documented_verifier()
    body = b'{"kind":"erasure"}'
    headers = signing.signed_headers(["new", "old"], int(time.time()), body, "m-1")
    received = {case(name): value for name, value in headers.items()}
    assert verify("new", received, body)
    assert verify("old", received, body)
    assert not verify("other", received, body)
    assert not verify("new", received, body + b" ")
    assert not verify("new", {}, body)
