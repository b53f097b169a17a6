"""Signed deletion requests: what the relay puts on each POST and what a sub-processor checks.

The relay (`custody.subprocessors.relay`) POSTs each deletion request to the processor's HTTPS
endpoint with three headers:

* `X-Custody-Timestamp`: the moment of signing, whole seconds since the Unix epoch;
* `X-Custody-Signature`: `v1=<hex>`, one per secret in use (comma-separated), where `<hex>` is
  HMAC-SHA256 keyed with the processor's signing secret (its UTF-8 bytes) over
  `<timestamp>.<body>` — the timestamp header's digits, a full stop, then the raw body bytes;
* `X-Custody-Delivery`: the SQS message id, the same on every retry of one request.

A processor accepts a request when one of the `v1` signatures matches with its secret (compared in
constant time) and the timestamp is within `REPLAY_WINDOW_SECONDS` of its own clock; it may drop
a delivery id it has already handled (the acknowledgement is idempotent anyway). While a secret is
being rotated the relay signs with both the new and the previous secret, so a processor that still
holds the previous one keeps verifying. Pure functions: no AWS call, no clock of their own.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Final

SCHEME: Final = "v1"
TIMESTAMP_HEADER: Final = "X-Custody-Timestamp"
SIGNATURE_HEADER: Final = "X-Custody-Signature"
DELIVERY_HEADER: Final = "X-Custody-Delivery"
REPLAY_WINDOW_SECONDS: Final = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of `<timestamp>.<body>` keyed with `secret`'s UTF-8 bytes."""
    message = str(int(timestamp)).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signed_headers(secrets: Iterable[str], timestamp: int, body: bytes, delivery_id: str) -> dict[str, str]:
    """The headers of a signed request: one `v1=` signature per secret, in the order given.

    Raises `ValueError` when `secrets` is empty: an unsigned request is never sent.
    """
    signatures = [f"{SCHEME}={signature(secret, timestamp, body)}" for secret in secrets]
    if not signatures:
        raise ValueError("no signing secret")
    return {
        TIMESTAMP_HEADER: str(int(timestamp)),
        SIGNATURE_HEADER: ",".join(signatures),
        DELIVERY_HEADER: delivery_id,
    }


def verify(
    secret: str, headers: Mapping[str, str], body: bytes, now: float, window: int = REPLAY_WINDOW_SECONDS
) -> bool:
    """Whether a request carrying `headers` and `body` was signed with `secret` within `window` seconds of `now`.

    Header names are matched case-insensitively. False for a missing or malformed timestamp, a
    timestamp further than `window` from `now` either way, or no `v1` signature that matches.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    stamp = lowered.get(TIMESTAMP_HEADER.lower(), "")
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        return False
    timestamp = int(stamp)
    if abs(now - timestamp) > window:
        return False
    expected = signature(secret, timestamp, body)
    offered = [
        value.strip().removeprefix(f"{SCHEME}=")
        for value in lowered.get(SIGNATURE_HEADER.lower(), "").split(",")
        if value.strip().startswith(f"{SCHEME}=")
    ]
    return any(hmac.compare_digest(expected, candidate.encode("ascii", "replace").decode()) for candidate in offered)
