"""What enforcement saw: calls checked, calls refused, and why (process-wide, thread-safe).

`LEDGER` accumulates over a whole test session or a served stack's life; `snapshot()` is a
JSON-able dict (`{"stacks", "checked", "denied", "hidden_not_found", "by_principal", "denials"}`) that
`merge()` adds back, so a served stack in another process can report into the test session.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any, Final

MAX_MESSAGES: Final = 200


class Ledger:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.stacks = 0  # local stacks enforced
        self.checked = 0
        self.denied = 0
        self.hidden_not_found = 0  # S3 404s answered 403, as AWS does without s3:ListBucket
        self.by_principal: Counter[str] = Counter()
        self.denials: list[str] = []

    def enforced_stack(self) -> None:
        with self._lock:
            self.stacks += 1

    def checked_call(self, principal: str) -> None:
        with self._lock:
            self.checked += 1
            self.by_principal[principal] += 1

    def denied_call(self, message: str) -> None:
        with self._lock:
            self.denied += 1
            if len(self.denials) < MAX_MESSAGES:
                self.denials.append(message)

    def hid_not_found(self) -> None:
        with self._lock:
            self.hidden_not_found += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "stacks": self.stacks,
                "checked": self.checked,
                "denied": self.denied,
                "hidden_not_found": self.hidden_not_found,
                "by_principal": dict(self.by_principal),
                "denials": list(self.denials),
            }

    def merge(self, snapshot: dict[str, Any]) -> None:
        with self._lock:
            self.stacks += int(snapshot.get("stacks", 0))
            self.checked += int(snapshot.get("checked", 0))
            self.denied += int(snapshot.get("denied", 0))
            self.hidden_not_found += int(snapshot.get("hidden_not_found", 0))
            self.by_principal.update(snapshot.get("by_principal", {}))
            self.denials.extend(list(snapshot.get("denials", []))[: MAX_MESSAGES - len(self.denials)])


LEDGER: Final = Ledger()
