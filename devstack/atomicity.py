"""DynamoDB's atomicity, which moto's in-memory backend does not give under threads.

DynamoDB evaluates a condition and applies the write as one step, and `TransactWriteItems`
is serializable. moto evaluates and writes without a lock, so two concurrent requests can both
pass the same condition — a lost update real DynamoDB would refuse. The local stack and the
tests serve requests on threads, so every write of the backend is serialized here.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoHandler

WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
# Reads take the same lock: moto builds a new item (key first, then the update's attributes) in
# steps, and an unlocked read in between saw a head item without its `seq` (a flaky
# tests/integration/audit/test_ledger.py concurrency test). DynamoDB never shows a partial write.
READS = ("get_item", "query", "scan", "batch_get_item", "transact_get_items")
# And the response: moto's handler renders the backend's live item after the backend call returned,
# so a write on another thread could change a map while it was rendered ("dictionary changed size
# during iteration", found by a burst of withdrawals claiming admission slots on one item).
RESPONSE = "call_action"
_LOCK = threading.RLock()
_ORIGINALS: dict[str, Callable[..., Any]] = {}


def install() -> None:
    """Serialize the backend's writes, and its reads with them (idempotent)."""
    for name in (*WRITES, *READS):
        if name in _ORIGINALS:
            continue
        original = getattr(DynamoDBBackend, name)
        _ORIGINALS[name] = original

        @functools.wraps(original)
        def serialized(
            self: DynamoDBBackend, *args: Any, __original: Callable[..., Any] = original, **kwargs: Any
        ) -> Any:
            with _LOCK:
                return __original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, serialized)
    if RESPONSE not in _ORIGINALS:
        handle = DynamoHandler.call_action
        _ORIGINALS[RESPONSE] = handle

        @functools.wraps(handle)
        def rendered(self: DynamoHandler, *args: Any, **kwargs: Any) -> Any:
            with _LOCK:
                return handle(self, *args, **kwargs)

        DynamoHandler.call_action = rendered  # type: ignore[method-assign]


def uninstall() -> None:
    for name, original in _ORIGINALS.items():
        setattr(DynamoHandler if name == RESPONSE else DynamoDBBackend, name, original)
    _ORIGINALS.clear()
