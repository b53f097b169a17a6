"""The access report (GDPR articles 15 and 20): everything held about a customer, decrypted.

It is driven by the data map: every personal store is read, by the reader its shape needs
(`SHAPED_READERS`: the profile by category, the consent history with what is granted now,
documents with the route that decrypts them) or else by the reader of its kind (every item of
the customer's partition with sealed fields opened; every object under the customer's prefix).
A store added to the data map is in the report without an edit here; it cannot be left out.

Cost: one Query per table store and one listing per bucket (plus pagination), and at most one
KMS call to unwrap the customer's key when it is not cached.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from custody.crypto import sealed
from custody.crypto.cipher import SubjectKey
from custody.crypto.keyring import SubjectKeyring, get_keyring
from custody.customers.profile import StoredProfile
from custody.declared import clock, datamap
from custody.declared.clock import now_iso
from custody.declared.settings import Settings
from custody.stores.partitions import BucketPrefix, TablePartition
from custody.stores.requests import RequestsTable
from custody.stores.subjects import Subject, SubjectRegistry, SubjectStatus

REPORT_VERSION: Final = "2026-11"
# What the report shows of each open request: ids, reason, scope, status and time, no personal data.
OPEN_REQUEST_FIELDS: Final = ("request_id", "reason", "scope", "status", "created_at")


@dataclass
class ReportContext:
    """What the readers of one access report share: the settings, the subject, and the keyring the key comes from."""

    settings: Settings
    subject: Subject
    keyring: SubjectKeyring
    _key: SubjectKey | None = field(default=None, init=False)

    def key(self) -> SubjectKey:
        """The customer's key, unwrapped at most once per report."""
        if self._key is None:
            self._key = self.keyring.get(self.subject.subject_id)
        return self._key


Reader = Callable[[ReportContext, datamap.Store], Any]


def _table_items(context: ReportContext, store: datamap.Store) -> list[dict[str, Any]]:
    """Every item of the customer's partition, sealed fields opened, keys and bookkeeping dropped."""
    assert isinstance(store, datamap.TableStore)
    items = []
    for item in TablePartition(context.settings, store).items(context.subject.subject_id):
        item.pop(store.partition_key, None)
        fields = item.pop(sealed.FIELDS, None)
        if fields:
            item.update(sealed.unseal(context.key(), store.name, str(item[store.sort_key]), fields))
        items.append(item)
    return items


def _profile(context: ReportContext, store: datamap.Store) -> dict[str, Any]:
    categories = {item.pop("category"): item for item in _table_items(context, store)}
    for values in categories.values():
        values.pop("updated_at", None)
    profile = StoredProfile(context.subject.profile_version, categories)
    return {"version": profile.etag, "categories": profile.view()}


def _consents(context: ReportContext, store: datamap.Store) -> dict[str, Any]:
    history = sorted(_table_items(context, store), key=lambda event: str(event["event_key"]))
    for event in history:
        event.pop("event_key", None)
    return {"granted": dict(sorted(context.subject.granted.items())), "history": history}


def _bucket_objects(context: ReportContext, store: datamap.Store) -> list[dict[str, Any]]:
    """Every current object under the customer's prefix: `key` (relative), `size_bytes`, `stored_at`."""
    assert isinstance(store, datamap.BucketStore)
    return [
        {"key": str(item["key"]), "size_bytes": item["size_bytes"], "stored_at": clock.iso(item["last_modified"])}
        for item in BucketPrefix(context.settings, store).objects(context.subject.subject_id)
    ]


def _documents(context: ReportContext, store: datamap.Store) -> list[dict[str, Any]]:
    """The customer's documents, each with the route that decrypts it (an S3 link would serve ciphertext)."""
    found = []
    for entry in _bucket_objects(context, store):
        document_id = entry["key"].rsplit("/", 1)[-1]
        found.append({"document_id": document_id, **entry, "download_url": f"/v1/me/documents/{document_id}"})
    return found


SHAPED_READERS: Final[dict[str, Reader]] = {"profiles": _profile, "consents": _consents, "documents": _documents}


def reader_of(store: datamap.Store) -> Reader:
    """How the report reads `store`: its shaped reader, else the reader of its kind (table or bucket)."""
    if store.name in SHAPED_READERS:
        return SHAPED_READERS[store.name]
    return _table_items if isinstance(store, datamap.TableStore) else _bucket_objects


def personal_stores() -> tuple[datamap.Store, ...]:
    """The data-map stores classified `personal`: those the access report must show (the key store is not)."""
    return tuple(store for store in datamap.STORES if store.classification is datamap.Classification.PERSONAL)


def _retention() -> dict[str, Any]:
    return {
        category.name: {
            "store": category.store,
            "purposes": list(category.purposes) or [datamap.RECORD_KEEPING],
            "retention_days": category.retention_days,
            "kept_until": "withdrawal of consent" if category.retention_days is None else "retention period",
            "sensitivity": category.sensitivity.value,
        }
        for category in datamap.CATEGORIES
    }


class AccessReport:
    """The access report (GDPR art. 15, and art. 20's portable copy) under `settings`.

    `keyring` defaults to the process-wide one. AWS errors pass through as botocore's `ClientError`.
    """

    def __init__(self, settings: Settings, keyring: SubjectKeyring | None = None) -> None:
        self.settings = settings
        self.subjects = SubjectRegistry(settings)
        self.requests = RequestsTable(settings)
        self.keyring = keyring or get_keyring()

    def build(self, subject_id: str, email: str | None) -> dict[str, Any]:
        """Everything held about the customer, decrypted, as one JSON-able dict.

        Keys: `report_version`, `generated_at`, `subject_id`, `email` (as given: Cognito keeps it),
        `account` (status and times), `stores` (store -> what its reader shows), `retention` (category
        -> store, purposes, retention and sensitivity) and `open_requests` (ids, reason, scope, status,
        time). Once the customer's erasure has started nothing is read: the report says the account is
        `erasing` or `erased`, lists no store, nothing granted and no address, and names the erasure
        request. Raises `SubjectKeyUnavailable` when sealed data exists but the key is gone, and
        `DecryptionFailed` when a value does not open.
        """
        subject = self.subjects.load(subject_id)
        if subject.erasure_started:
            return self._erasing(subject)
        context = ReportContext(self.settings, subject, self.keyring)
        stores = {store.name: reader_of(store)(context, store) for store in personal_stores()}
        open_requests = []
        for request_id in sorted(subject.open_requests):
            request = self.requests.load(request_id)
            if request is not None:
                open_requests.append({name: request.get(name) for name in OPEN_REQUEST_FIELDS})
        return {
            "report_version": REPORT_VERSION,
            "generated_at": now_iso(),
            "subject_id": subject_id,
            "email": email,
            "account": {
                "status": subject.status.value,
                "created_at": subject.created_at,
                "last_active_at": subject.last_active_at,
            },
            "stores": stores,
            "retention": _retention(),
            "open_requests": open_requests,
        }

    def _erasing(self, subject: Subject) -> dict[str, Any]:
        """The report of a customer whose erasure has started: the status and the request, nothing held."""
        status = SubjectStatus.ERASING if subject.status is SubjectStatus.ACTIVE else subject.status
        request = self.requests.load(subject.erasure_request) if subject.erasure_request else None
        return {
            "report_version": REPORT_VERSION,
            "generated_at": now_iso(),
            "subject_id": subject.subject_id,
            "email": None,
            "account": {"status": status.value, "created_at": None, "last_active_at": None},
            "stores": {},
            "retention": _retention(),
            "open_requests": [{name: request.get(name) for name in OPEN_REQUEST_FIELDS}] if request else [],
        }
