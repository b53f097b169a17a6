"""Per-customer data keys: envelope encryption and crypto-shredding.

Each customer has one 256-bit data key, made by KMS `GenerateDataKey` under the data key
(`Settings.data_key_id`) with encryption context ``{"subject_id": <id>}``, and stored only
wrapped, in the `subject_keys` table. KMS refuses to unwrap it under any other subject's
context. Shredding replaces the wrapped key by a tombstone: every copy of the customer's data,
backups included, becomes unreadable, and no key can ever be created for them again.

Records a legal obligation keeps past a full erasure (`datamap.Category.obligation`) are sealed, from
the moment they are written, with a second key of the customer's: one per obligation, stored as
version `retained#<obligation>` (`datamap.RetentionObligation.key_version`), wrapped under the context
``{"subject_id": <id>, "key_version": <version>}`` so that neither wrapped key unwraps as the other.
A full erasure shreds the main key and keeps the retained ones (`shred`); the end of the obligation
shreds each (`shred_version`).

Unwrapped keys are cached in memory, bounded (LRU) and time-limited. Python cannot reliably
zero memory, so the cache is the exposure to keep small: it is per process, short-lived
(`key_cache_ttl_seconds`), and a shred reaches other processes' caches only when their
entries expire — an erasure is complete everywhere one TTL after the shred.
Key material is never logged and never placed in an exception.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Final

from botocore.exceptions import ClientError

from custody.crypto.cipher import SubjectKey
from custody.declared import datamap
from custody.declared.errors import DecryptionFailed, SubjectKeyUnavailable
from custody.declared.settings import Settings, get_settings
from custody.platform.aws import Clients, clients
from custody.stores.subject_keys import TABLE, SubjectKeysTable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

__all__ = [
    "KEY_STORE",
    "KEY_VERSION",
    "KeyCache",
    "PendingKey",
    "SubjectKey",
    "SubjectKeyring",
    "get_keyring",
    "key_version_for",
]

KEY_STORE: Final = TABLE
# One active main key per customer; the sort key leaves room for rotation, and holds the retained keys.
KEY_VERSION: Final = "1"


def key_version_for(store: str) -> str:
    """The version of the customer's key that seals the items of `store`: its obligation's, else the main one."""
    return datamap.key_version_of_store(store) or KEY_VERSION


def is_retained_version(version: str) -> bool:
    """Whether `version` names a key kept for a legal obligation (`retained#<obligation>`)."""
    return version.startswith(datamap.RETAINED_KEY_PREFIX)


def _entry(subject_id: str, version: str) -> str:
    """The cache's name of a subject's key of `version`: the subject id for the main key (ids hold no `#`)."""
    return subject_id if version == KEY_VERSION else f"{subject_id}#{version}"


Clock = Callable[[], float]


class KeyCache:
    """A thread-safe LRU of unwrapped keys whose entries expire `ttl_seconds` after insertion.

    Holds at most `max_entries` keys, one per subject; `clock` gives seconds (monotonic by default).
    Raises `ValueError` for fewer than one entry or a time to live that is not positive.
    """

    def __init__(self, max_entries: int, ttl_seconds: float, clock: Clock = time.monotonic) -> None:
        if max_entries < 1 or ttl_seconds <= 0:
            raise ValueError("A key cache needs at least one entry and a positive time to live.")
        self._max_entries = max_entries
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, SubjectKey]] = OrderedDict()

    def get(self, subject_id: str) -> SubjectKey | None:
        """The cached key named `subject_id`, or None when absent or expired (an expired entry is dropped).

        A hit becomes the most recently used entry. A subject's key other than the main one is named
        `<subject id>#<version>`.
        """
        with self._lock:
            entry = self._entries.get(subject_id)
            if entry is None:
                return None
            expires_at, key = entry
            if self._clock() >= expires_at:
                del self._entries[subject_id]
                return None
            self._entries.move_to_end(subject_id)
            return key

    def put(self, key: SubjectKey) -> None:
        """Cache `key` under its subject for `ttl_seconds`, replacing any entry.

        The least recently used entries beyond `max_entries` are evicted.
        """
        entry = _entry(key.subject_id, key.version)
        with self._lock:
            self._entries[entry] = (self._clock() + self._ttl, key)
            self._entries.move_to_end(entry)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def evict(self, subject_id: str) -> None:
        """Forget the subject's key (a cache entry's name, as `get` takes it), if cached."""
        with self._lock:
            self._entries.pop(subject_id, None)

    def clear(self) -> None:
        """Forget every cached key."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, subject_id: object) -> bool:
        with self._lock:
            return subject_id in self._entries


@dataclass(frozen=True)
class PendingKey:
    """A customer's key for a write, and the put that stores it when it is new (else `None`)."""

    key: SubjectKey
    put: TransactWriteItemTypeDef | None


class SubjectKeyring:
    """Create, fetch and shred customers' data keys.

    One keyring per process (see `get_keyring`) lets warm invocations share the cache. Built from
    `settings` (the process's by default), the AWS `aws` clients (the shared ones by default) and
    the cache's `clock`; the cache is sized and timed by `key_cache_max_entries` and
    `key_cache_ttl_seconds`.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        aws: Clients | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self._settings = settings or get_settings()
        self._aws = aws or clients
        self.keys = SubjectKeysTable(self._settings, self._aws)
        self.cache = KeyCache(self._settings.key_cache_max_entries, self._settings.key_cache_ttl_seconds, clock)

    def create(self, subject_id: str, version: str = KEY_VERSION) -> SubjectKey:
        """Make and store the customer's data key of `version` (the main key unless a retained one is named).

        The put is conditional: when two creates race, one key wins and both callers get it. Raises
        `SubjectKeyUnavailable` when the key was shredded (its tombstone refuses the put).
        """
        _check_subject_id(subject_id)
        generated = self._aws.kms().generate_data_key(
            KeyId=self._settings.data_key_id,
            KeySpec="AES_256",
            EncryptionContext=_context(subject_id, version),
        )
        if not self.keys.add(subject_id, version, generated["CiphertextBlob"], generated["KeyId"]):
            del generated
            return self._load(subject_id, version)
        key = SubjectKey(subject_id, generated["Plaintext"], version)
        self.cache.put(key)
        return key

    def for_write(self, subject_id: str, version: str = KEY_VERSION) -> PendingKey:
        """The key (of `version`: the main one unless a retained one is named) to seal a transactional write with.

        A new key is not stored here: its conditional put joins the caller's transaction (see
        `PendingKey`), so a refused write leaves no orphan key and a first write still costs one
        KMS call and one transaction. Call `committed` once the transaction succeeded.
        """
        try:
            return PendingKey(self.get(subject_id, version), None)
        except SubjectKeyUnavailable:
            pass
        generated = self._aws.kms().generate_data_key(
            KeyId=self._settings.data_key_id,
            KeySpec="AES_256",
            EncryptionContext=_context(subject_id, version),
        )
        put = self.keys.new_key(subject_id, version, generated["CiphertextBlob"], generated["KeyId"])
        return PendingKey(SubjectKey(subject_id, generated["Plaintext"], version), put)

    def committed(self, pending: PendingKey) -> None:
        """The transaction that stored `pending` succeeded: its key may now be cached."""
        self.cache.put(pending.key)

    def get(self, subject_id: str, version: str = KEY_VERSION) -> SubjectKey:
        """The customer's data key of `version` (the main one by default): from the cache, else unwrapped by KMS.

        Raises `SubjectKeyUnavailable` when it was never created or has been shredded.
        """
        _check_subject_id(subject_id)
        cached = self.cache.get(_entry(subject_id, version))
        if cached is not None:
            return cached
        return self._load(subject_id, version)

    def for_store(self, subject_id: str, store: str) -> SubjectKey:
        """The customer's key that seals the items of `store` (`key_version_for`).

        A retained key for a store of records under a legal obligation, else the main key. Raises
        `SubjectKeyUnavailable` as `get` does.
        """
        return self.get(subject_id, key_version_for(store))

    def get_or_create(self, subject_id: str, version: str = KEY_VERSION) -> SubjectKey:
        """The customer's data key of `version`, created and stored when none is (`get`, else `create`).

        Raises `DecryptionFailed` when a stored key does not unwrap; KMS and DynamoDB errors (botocore
        `ClientError`) pass through.
        """
        try:
            return self.get(subject_id, version)
        except SubjectKeyUnavailable:
            pass
        return self.create(subject_id, version)

    def exists(self, subject_id: str, version: str = KEY_VERSION) -> bool:
        """Whether a wrapped key of `version` is stored (asks the table, not the cache; never unwraps; no tombstone)."""
        _check_subject_id(subject_id)
        return self.keys.exists(subject_id, version)

    def shredded(self, subject_id: str, version: str = KEY_VERSION) -> bool:
        """Whether the customer's key of `version` was shredded: its tombstone, and no key material, is stored."""
        _check_subject_id(subject_id)
        return self.keys.shredded(subject_id, version)

    def shred(self, subject_id: str) -> bool:
        """Tombstone the customer's main key, delete any other stored version but the retained keys, forget it here.

        The keys of records a legal obligation keeps (`retained#<obligation>`) stay: `shred_version` shreds
        each when its obligation no longer keeps anything. Idempotent; returns whether this call removed key
        material. After it, `create`, `for_write`'s put and `get_or_create` of the main key are refused
        (`SubjectKeyUnavailable`, or the transaction's condition).
        """
        _check_subject_id(subject_id)
        deleted = self.keys.tombstone(subject_id, KEY_VERSION)
        for version in self.keys.versions(subject_id):
            name = str(version.get("S", ""))
            if name != KEY_VERSION and not is_retained_version(name):
                deleted = self.keys.delete(subject_id, version) or deleted
        # Evicted after the deletes, so a get racing them cannot leave the key cached here.
        self.cache.evict(subject_id)
        return deleted

    def shred_version(self, subject_id: str, version: str) -> bool:
        """Replace the customer's key of `version` (a retained key) by its tombstone, and forget it here.

        Unconditional and idempotent: a version never created gets a tombstone too, so none can be made
        later. Returns whether this call removed key material.
        """
        _check_subject_id(subject_id)
        deleted = self.keys.tombstone(subject_id, version)
        self.cache.evict(_entry(subject_id, version))
        return deleted

    def _load(self, subject_id: str, version: str = KEY_VERSION) -> SubjectKey:
        wrapped = self.keys.wrapped(subject_id, version)
        if not wrapped:
            raise SubjectKeyUnavailable(
                "The customer's data key does not exist: it was never created or has been shredded.",
                {"subject_id": subject_id},
            )
        try:
            plaintext = (
                self._aws.kms()
                .decrypt(
                    CiphertextBlob=wrapped,
                    EncryptionContext=_context(subject_id, version),
                    KeyId=self._settings.data_key_id,
                )
                .get("Plaintext")
            )
        except ClientError as error:
            if _error_code(error) not in ("InvalidCiphertextException", "IncorrectKeyException"):
                raise
            plaintext = None
        if plaintext is None:
            raise DecryptionFailed(
                "The customer's stored data key could not be unwrapped.",
                {"subject_id": subject_id, "store": KEY_STORE, "field": "wrapped_key"},
            )
        key = SubjectKey(subject_id, plaintext, version)
        self.cache.put(key)
        return key


@lru_cache(maxsize=1)
def get_keyring() -> SubjectKeyring:
    """The process-wide keyring (shared cache). Tests call `get_keyring.cache_clear()`."""
    return SubjectKeyring()


def _context(subject_id: str, version: str = KEY_VERSION) -> dict[str, str]:
    """The KMS encryption context a key is wrapped under: the subject, and the version for any but the main key."""
    if version == KEY_VERSION:
        return {"subject_id": subject_id}
    return {"subject_id": subject_id, "key_version": version}


def _check_subject_id(subject_id: str) -> None:
    if not isinstance(subject_id, str) or not subject_id:
        raise ValueError("A subject id must be a non-empty string.")


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
