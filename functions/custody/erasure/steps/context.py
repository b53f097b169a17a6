"""What every step works with: the settings, the repositories it touches, and the request it serves."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from custody.crypto.keyring import SubjectKeyring, get_keyring
from custody.declared.settings import Settings
from custody.erasure.contract import StepInput
from custody.erasure.errors import RequestNotFound
from custody.stores.identities import CustomerIdentity
from custody.stores.requests import KIND_ERASURE, ErasureRequest, RequestsTable
from custody.stores.subjects import SubjectRegistry


@dataclass(frozen=True)
class StepContext:
    """What a step works with: settings, the requests and subjects tables, the keyring, the customers' pool.

    `remaining_ms` is the invocation's remaining time in milliseconds (the Lambda context's
    `get_remaining_time_in_millis`); None outside Lambda, where a step never runs out of time.
    """

    settings: Settings
    requests: RequestsTable
    subjects: SubjectRegistry
    keyring: SubjectKeyring
    identity: CustomerIdentity
    remaining_ms: Callable[[], int] | None = None

    @classmethod
    def of(
        cls, settings: Settings, keyring: SubjectKeyring | None = None, remaining_ms: Callable[[], int] | None = None
    ) -> StepContext:
        """The context of `settings`, with the process-wide keyring unless `keyring` is given."""
        return cls(
            settings,
            RequestsTable(settings),
            SubjectRegistry(settings),
            keyring or get_keyring(),
            CustomerIdentity(settings),
            remaining_ms,
        )

    def read(self, event: StepInput) -> tuple[ErasureRequest, dict[str, Any]]:
        """The request the event names and its whole record (one read).

        Raises `RequestNotFound` when there is no such erasure request for that subject (the register holds
        requests of other kinds too).
        """
        item = self.requests.load(event.request_id)
        if item is None or item.get("subject_id") != event.subject_id or item.get("kind", KIND_ERASURE) != KIND_ERASURE:
            raise RequestNotFound("No erasure request of that id for this subject.")
        return ErasureRequest.of(item), item
